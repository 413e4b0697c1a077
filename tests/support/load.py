"""Background S3 load for fault tests: writer threads that PUT distinct keys and read back their own, recording
every acknowledged write and the outcome of every request, so a test can inject a fault and then check what the
clients saw (only the S3 errors it allows) and that nothing acknowledged was lost."""

from __future__ import annotations

import collections
import http.client
import random
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


@dataclass
class Outcome:
    op: str
    key: str
    status: int  # 0: no HTTP answer (connection reset, timeout)
    code: str  # S3 error code, "" on success, the exception's name when there was no answer
    request_id: str = ""
    retries: int = 0  # boto3's retry attempts before this outcome


@dataclass
class Tally:
    """What a set of writers saw. ``acked`` holds every write the server acknowledged (key -> body)."""

    acked: dict = field(default_factory=dict)
    outcomes: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)  # (key, why): an acknowledged object read back wrong
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def failures(self) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if o.code]

    def codes(self) -> collections.Counter:
        with self.lock:
            return collections.Counter((o.status, o.code) for o in self.outcomes if o.code)

    def successes(self, op: str | None = None) -> int:
        with self.lock:
            return sum(1 for o in self.outcomes if not o.code and (op is None or o.op == op))


class RawClient:
    """SigV4-signed requests over http.client, one keep-alive connection, no retries: what the server answers
    is exactly what the test sees."""

    def __init__(self, server, timeout: float = 30.0) -> None:
        self.server = server
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict, bytes]:
        host = f"127.0.0.1:{self.server.port}"
        req = AWSRequest(method=method, url=f"http://{host}{path}", data=body,
                         headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        S3SigV4Auth(Credentials(self.server.access_key, self.server.secret_key), "s3", "us-east-1").add_auth(req)
        headers = dict(req.prepare().headers.items())
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body or None, headers=headers)  # no "Content-Length: 0" on a GET
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if r.getheader("connection", "").lower() == "close":
            self.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def error_code(body: bytes) -> str:
    try:
        return ET.fromstring(body).findtext("Code") or ""
    except ET.ParseError:
        return "<not S3 XML>"


class Writers:
    """``threads`` writers PUT ``bucket/prefix-T-N`` (sizes drawn from ``sizes``) and GET one of their own
    acknowledged keys after each PUT, until stop(). ``boto`` is a callable returning a boto3 client (its retry
    config is the caller's); without it the writers use RawClient and see every answer unretried."""

    def __init__(self, server, bucket: str, *, threads: int = 4, boto=None, prefix: str = "w",
                 sizes=(1, 16 << 10), seed: int = 7, key_filter=None) -> None:
        self.server, self.bucket, self.boto, self.prefix = server, bucket, boto, prefix
        self.sizes, self.seed, self.key_filter = sizes, seed, key_filter
        self.tally = Tally()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> "Writers":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join()

    def wait_for_acks(self, n: int) -> None:
        """Block until ``n`` writes have been acknowledged (or a writer died)."""
        self.wait_for(lambda tally: len(tally.acked) >= n)

    def wait_for(self, condition) -> None:
        """Block until ``condition(tally)`` holds (or a writer died)."""
        while not condition(self.tally) and all(t.is_alive() for t in self.threads):
            self.stopping.wait(0.01)

    def _keys(self, tid: int):
        n = 0
        while True:
            key = f"{self.prefix}-{tid}-{n}"
            n += 1
            if self.key_filter is None or self.key_filter(key):
                yield key

    def _run(self, tid: int) -> None:
        rng = random.Random(self.seed * 1000 + tid)
        mine: list[str] = []
        client = self.boto() if self.boto else RawClient(self.server)
        for key in self._keys(tid):
            if self.stopping.is_set():
                break
            body = rng.randbytes(rng.randint(*self.sizes))
            if self._put(client, key, body):
                with self.tally.lock:
                    self.tally.acked[key] = body
                mine.append(key)
            if mine:
                self._get(client, rng.choice(mine))
        if not self.boto:
            client.close()

    def _call(self, client, op: str, key: str, body: bytes = b"") -> tuple[Outcome, bytes]:
        if self.boto:
            try:
                if op == "PUT":
                    r = client.put_object(Bucket=self.bucket, Key=key, Body=body)
                    data = b""
                else:
                    r = client.get_object(Bucket=self.bucket, Key=key)
                    data = r["Body"].read()
                meta = r["ResponseMetadata"]
                return Outcome(op, key, meta["HTTPStatusCode"], "", meta.get("RequestId", ""),
                               meta.get("RetryAttempts", 0)), data
            except ClientError as err:
                meta = err.response["ResponseMetadata"]
                return Outcome(op, key, meta["HTTPStatusCode"], err.response["Error"]["Code"],
                               meta.get("RequestId", "")), b""
            except Exception as err:  # botocore gave up on the connection
                return Outcome(op, key, 0, type(err).__name__), b""
        try:
            status, headers, data = client.request(op, f"/{self.bucket}/{key}", body)
        except (OSError, http.client.HTTPException) as err:
            return Outcome(op, key, 0, type(err).__name__), b""
        code = "" if status < 300 else error_code(data)
        return Outcome(op, key, status, code, headers.get("x-amz-request-id", "")), data

    def _put(self, client, key: str, body: bytes) -> bool:
        outcome, _ = self._call(client, "PUT", key, body)
        self.tally.record(outcome)
        return not outcome.code

    def _get(self, client, key: str) -> None:
        outcome, data = self._call(client, "GET", key)
        self.tally.record(outcome)
        if not outcome.code and data != self.tally.acked[key]:
            with self.tally.lock:
                self.tally.mismatches.append((key, f"read {len(data)} bytes, wrote {len(self.tally.acked[key])}"))


def lost_objects(s3, bucket: str, acked: dict) -> list[str]:
    """Acknowledged objects that do not read back byte-exact (checked through ``s3``, a boto3 client)."""
    lost = []
    for key, body in acked.items():
        try:
            if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != body:
                lost.append(f"{key}: different bytes")
        except ClientError as err:
            lost.append(f"{key}: {err.response['Error']['Code']}")
    return lost
