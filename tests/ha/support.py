"""Helpers for the HA tests: start primary/standby pairs of real `cairn serve` processes, wait for the standby
to catch up, and read back everything a node serves through S3."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

from botocore.exceptions import BotoCoreError, ClientError

from router.promote import admin_call
from tests.support.server import ROOT, SECRET_KEY, CairnServer  # noqa: F401 (ROOT: for tests)

SHARDS = 2


def primary(data_dir, *extra: str, shards: int = SHARDS) -> CairnServer:
    return CairnServer(data_dir, shards=shards, extra=list(extra)).start()


def standby(data_dir, of: CairnServer, *extra: str, shards: int = SHARDS) -> CairnServer:
    return CairnServer(data_dir, shards=shards,
                       extra=["--role", "standby", "--primary", f"127.0.0.1:{of.port}", *extra]).start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_etcd(data_dir) -> tuple[subprocess.Popen, str]:
    """A real single-member etcd (Debian's etcd-server) on loopback ephemeral ports; (process, client URL)."""
    from router.lease import Etcd
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    proc = subprocess.Popen([binary, "--data-dir", str(data_dir), "--listen-client-urls", url,
                             "--advertise-client-urls", url, "--listen-peer-urls", peer_url,
                             "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"default={peer_url}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = Etcd([url])

    def up():
        try:
            return api.get("/probe") == (None, 0)
        except Exception:  # noqa: BLE001 -- not listening yet
            return False
    try:
        wait_for(up, 20, "etcd")
    except AssertionError:
        proc.kill()
        raise
    return proc, url


class Cluster:
    """The nodes a test started (each its own data dir under tmp), all stopped at teardown."""

    def __init__(self, tmp) -> None:
        self.tmp = tmp
        self.nodes: list[CairnServer] = []

    def primary(self, *extra: str, name: str = "p") -> CairnServer:
        self.nodes.append(primary(self.tmp / name, *extra))
        return self.nodes[-1]

    def standby(self, of: CairnServer, *extra: str, name: str = "s") -> CairnServer:
        self.nodes.append(standby(self.tmp / name, of, *extra))
        return self.nodes[-1]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class Writers:
    """Concurrent PUTs of random sizes; remembers exactly which were acknowledged, and when. A write that fails
    (the primary died under it) ends its thread: it was never acknowledged."""

    def __init__(self, s3, bucket: str, seed: int, threads: int = 4, sizes=(10, 4096, 70_000, 1_300_000)) -> None:
        self.s3, self.bucket, self.sizes = s3, bucket, sizes
        self.acked: dict[str, bytes] = {}
        self.ack_times: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(seed * 100 + i, i)) for i in range(threads)]

    def _run(self, seed: int, n: int) -> None:
        rnd = random.Random(seed)
        i = 0
        while not self.stop.is_set():
            key = f"w{n}/{i}"
            body = rnd.randbytes(rnd.choice(self.sizes))
            try:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except (ClientError, BotoCoreError):
                return
            self.acked[key] = body
            self.ack_times.append(time.monotonic())
            i += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def ha_state(server: CairnServer, digest: bool = False) -> dict:
    url = server.endpoint + "/_cairn/ha" + ("?digest=1" if digest else "")
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def admin(server: CairnServer, path: str, body: dict | None = None) -> dict:
    return admin_call(f"127.0.0.1:{server.port}", path, SECRET_KEY, body, timeout=30)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def caught_up(p: CairnServer, s: CairnServer) -> bool:
    """Every standby shard has applied exactly what the primary's shard has written."""
    try:
        ps, ss = ha_state(p)["shards"], ha_state(s)["shards"]
    except OSError:
        return False
    return all(a.get("last_lsn") == b.get("applied_lsn") == b.get("last_lsn") for a, b in zip(ps, ss))


def wait_caught_up(p: CairnServer, s: CairnServer, timeout: float = 30) -> None:
    wait_for(lambda: caught_up(p, s), timeout, "the standby to catch up")


def digests(server: CairnServer) -> list[str]:
    return [sh["digest"] for sh in ha_state(server, digest=True)["shards"]]


def contents(s3) -> dict:
    """Everything a node serves through S3: every bucket, every version's bytes, tags and metadata."""
    out = {}
    for b in s3.list_buckets()["Buckets"]:
        name = b["Name"]
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=name)
        for page in pages:
            for v in page.get("Versions", []):
                obj = s3.get_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
                out[(name, v["Key"], v["VersionId"])] = (obj["Body"].read(), obj["ETag"], obj.get("Metadata"),
                                                         obj.get("TagCount"))
            for m in page.get("DeleteMarkers", []):
                out[(name, m["Key"], m["VersionId"])] = "delete marker"
        uploads = s3.list_multipart_uploads(Bucket=name).get("Uploads", [])
        out[(name, "uploads")] = sorted((u["Key"], u["UploadId"]) for u in uploads)
    return out


def s3_error(call) -> ClientError:
    try:
        call()
    except ClientError as exc:
        return exc
    raise AssertionError("the call succeeded")
