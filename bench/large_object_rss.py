#!/usr/bin/env python3
"""Large objects stream with bounded memory: PUT and GET one big object through a real server while sampling the
RSS of the router and shard processes.

    python3 bench/large_object_rss.py [--size-mib 2048]

Prints the peak RSS growth of each process over its idle baseline (the engine issue asks for < 64 MiB).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.quick import AK, SK, presign, start_cairn  # noqa: E402


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cairn_pids() -> dict[str, int]:
    out = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read().split(b"\0")[0].decode(errors="replace").strip()
            except OSError:
                continue
            if title.startswith("cairn: router") or title.startswith("cairn: shard"):
                out[title] = int(pid)
    return out


class Sampler(threading.Thread):
    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.base = {t: rss_kib(p) for t, p in pids.items()}
        self.peak = dict(self.base)
        self.stop = threading.Event()
        self.samples = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples += 1
            for t, p in self.pids.items():
                self.peak[t] = max(self.peak[t], rss_kib(p))
            time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=2048)
    args = ap.parse_args()
    size = args.size_mib << 20
    block = os.urandom(1 << 20)
    with tempfile.TemporaryDirectory() as tmp:
        ns = argparse.Namespace(preset="balanced", shards=2)
        proc, endpoint = start_cairn(ns, os.path.join(tmp, "data"))
        try:
            import boto3
            boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                         region_name="us-east-1").create_bucket(Bucket="big")
            put_url, = presign(endpoint, "PUT", ["huge"], "big")
            get_url, = presign(endpoint, "GET", ["huge"], "big")
            sampler = Sampler(cairn_pids())
            sampler.start()
            u = urllib.parse.urlsplit(put_url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            md5 = hashlib.md5()
            t0 = time.perf_counter()
            conn.putrequest("PUT", f"{u.path}?{u.query}", skip_accept_encoding=True)
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            for _ in range(size >> 20):
                conn.send(block)
                md5.update(block)
            r = conn.getresponse()
            r.read()
            put_s = time.perf_counter() - t0
            assert r.status == 200 and r.getheader("ETag").strip('"') == md5.hexdigest(), r.status
            u = urllib.parse.urlsplit(get_url)
            t0 = time.perf_counter()
            conn.request("GET", f"{u.path}?{u.query}")
            r = conn.getresponse()
            got = hashlib.md5()
            n = 0
            while chunk := r.read(1 << 20):
                got.update(chunk)
                n += len(chunk)
            get_s = time.perf_counter() - t0
            sampler.stop.set()
            assert n == size and got.hexdigest() == md5.hexdigest()
            print(f"{args.size_mib} MiB PUT {size / put_s / 1e6:.0f} MB/s, GET {size / get_s / 1e6:.0f} MB/s, bytes verified")
            for title in sorted(sampler.pids):
                grow = (sampler.peak[title] - sampler.base[title]) / 1024
                print(f"  {title:16s} RSS idle {sampler.base[title] / 1024:6.1f} MiB, peak {sampler.peak[title] / 1024:6.1f} "
                      f"MiB, growth {grow:6.1f} MiB ({sampler.samples} samples)")
        finally:
            proc.terminate()  # the supervisor stops its children; a group signal would stop them twice
            proc.wait()


if __name__ == "__main__":
    main()
