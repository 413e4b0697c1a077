"""Locust load profiles for Cairn (or any S3 endpoint).

    locust -f loadtests/locustfile.py --headless -u 32 -r 32 -t 60s --host http://127.0.0.1:9000 \
        --csv loadtests/reports/run --html loadtests/reports/run.html ReadHeavy

Credentials come from CAIRN_ACCESS_KEY / CAIRN_SECRET_KEY (defaults: the server's defaults). User classes:
ReadHeavy (95% GET 4 KiB / 5% HEAD), WriteHeavy (PUT 4–64 KiB new keys), MultipartLarge (16 MiB objects in
5 MiB parts), ListingHeavy (ListObjectsV2 pages over 2,000 keys), Realistic (GET 60 / PUT 20 / HEAD 10 /
LIST 5 / DELETE 5). Every response is validated (ETag or bytes) and a mismatch is a locust failure.
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
import uuid

from locust import FastHttpUser, between, events, task

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from loadtests.s3client import Signer, md5_etag, multipart_upload, object_path  # noqa: E402

ACCESS = os.environ.get("CAIRN_ACCESS_KEY", "cairn")
SECRET = os.environ.get("CAIRN_SECRET_KEY", "cairn-dev-secret")
BUCKET = os.environ.get("CAIRN_LOAD_BUCKET", "loadtest")
SMALL = [random.Random(i).randbytes(4096) for i in range(64)]
PRELOAD = 500
_setup_lock = threading.Lock()
_ready: set = set()


class S3User(FastHttpUser):
    abstract = True
    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.signer = Signer(self.host, ACCESS, SECRET)
        with _setup_lock:
            if "bucket" not in _ready:
                self.request("PUT", f"/{BUCKET}", name="setup", ok=(200, 409))
                for i in range(PRELOAD):
                    self.put(f"pre/{i:05d}", SMALL[i % len(SMALL)], name="setup")
                _ready.add("bucket")

    # -- signed requests ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, query: str = "", body: bytes = b"", name: str | None = None,
                ok=(200,), headers: dict | None = None):
        hdrs = self.signer.headers(method, path, query, headers)
        url = path + (f"?{query}" if query else "")
        with self.client.request(method, url, data=body or None, headers=hdrs, name=name or method,
                                 catch_response=True) as r:
            if r.status_code not in ok:
                r.failure(f"{method} {path}: HTTP {r.status_code} {r.text[:200] if r.text else ''}")
            else:
                r.success()
            return r

    def put(self, key: str, data: bytes, name: str = "PUT") -> None:
        r = self.request("PUT", object_path(BUCKET, key), body=data, name=name)
        if r.status_code == 200 and r.headers.get("etag") != md5_etag(data):
            r.failure(f"PUT {key}: ETag {r.headers.get('etag')} != {md5_etag(data)}")

    def get(self, key: str, expected: bytes, name: str = "GET 4k") -> None:
        r = self.request("GET", object_path(BUCKET, key), name=name)
        if r.status_code == 200 and r.content != expected:
            r.failure(f"GET {key}: {len(r.content or b'')} bytes differ from what was written")

    def preloaded(self) -> tuple[str, bytes]:
        i = random.randrange(PRELOAD)
        return f"pre/{i:05d}", SMALL[i % len(SMALL)]


class ReadHeavy(S3User):
    @task(95)
    def get_small(self) -> None:
        self.get(*self.preloaded())

    @task(5)
    def head(self) -> None:
        key, data = self.preloaded()
        r = self.request("HEAD", object_path(BUCKET, key), name="HEAD")
        if r.status_code == 200 and r.headers.get("etag") != md5_etag(data):
            r.failure("HEAD ETag mismatch")


class WriteHeavy(S3User):
    @task
    def put_new(self) -> None:
        size = random.choice((4096, 16384, 65536))
        self.put(f"w/{uuid.uuid4().hex}", random.randbytes(size), name=f"PUT {size // 1024}k")


class MultipartLarge(S3User):
    PART = 5 << 20

    @task
    def upload(self) -> None:
        key = f"mpu/{uuid.uuid4().hex}"
        path = object_path(BUCKET, key)
        parts = [random.randbytes(self.PART), random.randbytes(self.PART), random.randbytes(1 << 20)]
        if multipart_upload(lambda m, p, q, b, name: self.request(m, p, q, body=b, name=name), path, parts) is None:
            return
        r = self.request("GET", path, name="GET 11m")
        if r.status_code == 200 and r.content != b"".join(parts):
            r.failure("multipart object bytes differ")
        self.request("DELETE", path, name="DELETE", ok=(204,))


class ListingHeavy(S3User):
    @task
    def list_page(self) -> None:
        start = f"pre/{random.randrange(PRELOAD):05d}"
        r = self.request("GET", f"/{BUCKET}", f"list-type=2&max-keys=100&prefix=pre%2F&start-after={start.replace('/', '%2F')}",
                         name="LIST 100")
        keys = re.findall(rb"<Key>([^<]+)</Key>", r.content or b"")
        if r.status_code == 200 and keys != sorted(keys):
            r.failure("listing out of order")


class Realistic(S3User):
    def on_start(self) -> None:
        super().on_start()
        self.mine: dict[str, bytes] = {}

    @task(60)
    def get_small(self) -> None:
        if self.mine and random.random() < 0.5:
            key = random.choice(list(self.mine))
            self.get(key, self.mine[key], name="GET own")
        else:
            self.get(*self.preloaded())

    @task(20)
    def put_small(self) -> None:
        key = f"r/{uuid.uuid4().hex}"
        data = random.randbytes(random.choice((1024, 4096, 32768)))
        self.put(key, data)
        self.mine[key] = data

    @task(10)
    def head(self) -> None:
        key, _ = self.preloaded()
        self.request("HEAD", object_path(BUCKET, key), name="HEAD")

    @task(5)
    def list_page(self) -> None:
        self.request("GET", f"/{BUCKET}", "list-type=2&max-keys=50&prefix=r%2F", name="LIST 50")

    @task(5)
    def delete_own(self) -> None:
        if self.mine:
            key = self.mine.popitem()[0]
            self.request("DELETE", object_path(BUCKET, key), name="DELETE", ok=(204,))
            r = self.request("GET", object_path(BUCKET, key), name="GET deleted", ok=(404,))


@events.quitting.add_listener
def _exit_code(environment, **_kw) -> None:
    if environment.stats.total.num_failures:
        environment.process_exit_code = 1
