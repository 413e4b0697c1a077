#!/usr/bin/env python3
"""Quick PUT/GET 4 KiB benchmark: Cairn against moto_server, measured in the same run, same client.

    python3 bench/quick.py [--concurrency 32] [--duration 5] [--preset balanced] [--shards N]

The client is a lean asyncio HTTP/1.1 loop over keep-alive connections sending presigned SigV4 URLs made in
advance, so the servers still verify a signature per request while the client spends a few µs on each.
Prints one line per (server, workload) and the Cairn/moto ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.peerbench.servers import free_port, wait_http  # noqa: E402

AK, SK = "bench-access", "bench-secret-key"
BODY = os.urandom(4096)


def start_cairn(args, data_dir: str):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "router.cli", "serve", "--port", str(port), "--data-dir",
                             data_dir, "--preset", args.preset, "--access-key", AK, "--secret-key", SK,
                             "--log-level", "WARNING", *(["--shards", str(args.shards)] if args.shards else [])],
                            cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    wait_http(f"http://127.0.0.1:{port}/_cairn/ready", 30, want_ok=True)
    return proc, f"http://127.0.0.1:{port}"


def start_moto():
    port = free_port()
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/")
    return proc, f"http://127.0.0.1:{port}"


def presign(endpoint: str, method: str, keys: list[str], bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                      region_name="us-east-1", config=Config(signature_version="s3v4"))
    op = "put_object" if method == "PUT" else "get_object"
    return [s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": k}, ExpiresIn=3600) for k in keys]


async def connect(host: str, port: int):
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def exchange(reader, writer, req: bytes) -> tuple[int, bool]:
    """Send one request, read the whole response; returns (status, whether the connection stays open)."""
    writer.write(req)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    keep = status_line.startswith(b"HTTP/1.1")
    length = None
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            keep = value.strip().lower() == "keep-alive"
    if length is None:  # an HTTP/1.0-style peer (moto's werkzeug) ends the body by closing
        await reader.read()
        keep = False
    elif length:
        await reader.readexactly(length)
    return status, keep


async def worker(host: str, port: int, method: str, urls: list[str], start: int, step: int, stop_at: float,
                 latencies: list, errors: list) -> int:
    reader, writer = await connect(host, port)
    done = 0
    i = start
    while time.perf_counter() < stop_at:
        u = urllib.parse.urlsplit(urls[i % len(urls)])
        i += step
        head = f"{method} {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        if method == "PUT":
            req = (head + f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY
        else:
            req = (head + "\r\n").encode()
        t0 = time.perf_counter()
        status, keep = await exchange(reader, writer, req)
        latencies.append(time.perf_counter() - t0)
        if status >= 300:
            errors.append(status)
        done += 1
        if not keep:
            writer.close()
            reader, writer = await connect(host, port)
    writer.close()
    return done


async def run_load(endpoint: str, method: str, urls: list[str], concurrency: int, duration: float):
    u = urllib.parse.urlsplit(endpoint)
    latencies: list = []
    errors: list = []
    t0 = time.perf_counter()
    stop_at = t0 + duration
    counts = await asyncio.gather(*(worker(u.hostname, u.port, method, urls, c, concurrency, stop_at, latencies,
                                           errors) for c in range(concurrency)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
    return {"ops_s": sum(counts) / elapsed, "p50_ms": p(0.5), "p99_ms": p(0.99), "errors": len(errors)}


def bench_one(name: str, endpoint: str, args) -> dict:
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                      region_name="us-east-1")
    s3.create_bucket(Bucket="bench")
    n_put = 20000  # cycled: later rounds overwrite, which costs the server the same as a new key
    put_urls = presign(endpoint, "PUT", [f"put/{i}" for i in range(n_put)], "bench")
    for i in range(1000):
        s3.put_object(Bucket="bench", Key=f"get/{i}", Body=BODY)
    get_urls = presign(endpoint, "GET", [f"get/{i}" for i in range(1000)], "bench")
    out = {}
    for workload, method, urls in (("put-4k", "PUT", put_urls), ("get-4k", "GET", get_urls)):
        r = asyncio.run(run_load(endpoint, method, urls, args.concurrency, args.duration))
        out[workload] = r
        print(f"{name:6s} {workload}  C={args.concurrency}  {r['ops_s']:9.0f} op/s  p50 {r['p50_ms']:6.2f} ms  "
              f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--peers", default="moto", help="comma-separated peers to race (moto), or '' for Cairn alone")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        starters = [("cairn", lambda: start_cairn(args, os.path.join(tmp, "data")))]
        if "moto" in args.peers.split(","):
            starters.append(("moto", start_moto))
        for name, starter in starters:
            proc, endpoint = starter()
            try:
                results[name] = bench_one(name, endpoint, args)
            finally:
                proc.terminate()  # the supervisor stops its children; a group signal would stop them twice
                proc.wait()
    for w in ("put-4k", "get-4k"):
        if "moto" not in results:
            break
        ratio = results["cairn"][w]["ops_s"] / max(1e-9, results["moto"][w]["ops_s"])
        print(f"ratio  {w}  cairn/moto = {ratio:.1f}x", flush=True)


if __name__ == "__main__":
    main()
