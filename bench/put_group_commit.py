#!/usr/bin/env python3
"""Durable PUT 4 KiB with 64 concurrent clients against a real `cairn serve --preset durable`: group commit on
vs off, on each io backend.

    python3 bench/put_group_commit.py [--clients 64] [--duration 5] [--procs 2] [--backends threadpool,io_uring]
                                      [--shards N] [--reps 1] [--quick]

For each backend and `--group-commit on|off` a fresh server (own data dir) takes presigned SigV4 PUTs of 4 KiB
from `--clients` keep-alive connections, spread over `--procs` client processes (the lean asyncio HTTP loop of
bench/quick.py on uvloop), so the client is not what limits. Each acknowledged PUT was fdatasync'ed first: with
group commit on, concurrent PUTs share an fdatasync; off, each waits for its own (wal/sync.py). The server's own
metrics give fsyncs per second and PUTs per fsync. Prints a line per run and the ratios `group commit on/off`
(per backend) and `io_uring/threadpool` (per setting). Figures: docs/ENGINE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import boto3
import botocore.config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench import disk_ref  # noqa: E402
from bench.quick import AK, SK, free_port, presign, wait_http, worker  # noqa: E402


def start_server(data_dir: str, group_commit: str, backend: str, shards: int):
    port = free_port()
    cmd = [sys.executable, "-m", "router.cli", "serve", "--port", str(port), "--data-dir", data_dir,
           "--preset", "durable", "--group-commit", group_commit, "--io-backend", backend,
           "--access-key", AK, "--secret-key", SK, "--log-level", "WARNING"]
    if shards:
        cmd += ["--shards", str(shards)]
    with open(os.path.join(os.path.dirname(data_dir), os.path.basename(data_dir) + ".log"), "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONPATH": ROOT})
    try:
        wait_http(f"http://127.0.0.1:{port}/_cairn/ready", 60, want_ok=True)  # 200: every shard connected
    except BaseException:
        stop_server(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc) -> None:
    proc.terminate()  # the supervisor stops its children (only the server this script started)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wal_metrics(endpoint: str) -> dict[str, float]:
    """Sums over shards of the WAL fsync counter, and which io backend each shard reports."""
    text = urllib.request.urlopen(f"{endpoint}/_cairn/metrics", timeout=10).read().decode()
    fsyncs = sum(float(m.group(1)) for m in re.finditer(r"^cairn_wal_fsyncs_total\{[^}]*\} ([0-9.e+]+)$", text,
                                                          re.M))
    backends = set(re.findall(r'^cairn_wal_io_backend\{[^}]*backend="([a-z_]+)"[^}]*\} 1\.0$', text, re.M))
    return {"fsyncs": fsyncs, "backends": ",".join(sorted(backends))}


def _client_proc(endpoint: str, urls: list[str], clients: int, offset: int, step: int, stop_at: float, out) -> None:
    async def main():
        u = urllib.parse.urlsplit(endpoint)
        latencies: list[float] = []
        errors: list[int] = []
        counts = await asyncio.gather(*(worker(u.hostname, u.port, "PUT", urls, offset + i * step, step * clients,
                                               stop_at, latencies, errors) for i in range(clients)))
        return sum(counts), latencies, len(errors)

    try:
        import uvloop
        out.put(uvloop.run(main()))
    except ImportError:
        out.put(asyncio.run(main()))


def load(endpoint: str, urls: list[str], clients: int, procs: int, duration: float) -> dict:
    """`clients` connections over `procs` processes, each PUTting for `duration` seconds."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    stop_at = time.perf_counter() + duration + 0.5  # perf_counter is system-wide (CLOCK_MONOTONIC) on Linux
    share = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_client_proc, args=(endpoint, urls, n, i, procs, stop_at, out))
               for i, n in enumerate(share) if n]
    for w in workers:
        w.start()
    results = [out.get(timeout=duration + 120) for _ in workers]
    for w in workers:
        w.join()
    done = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    errors = sum(r[2] for r in results)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0
    return {"done": done, "p50_ms": p(0.5), "p99_ms": p(0.99), "errors": errors}


def bench_one(tmp: str, group_commit: str, backend: str, args) -> dict:
    data_dir = tempfile.mkdtemp(prefix=f"gc-{group_commit}-{backend}-", dir=tmp)
    proc, endpoint = start_server(data_dir, group_commit, backend, args.shards)
    try:
        # standard retries, as an S3 client should use: a 503 right after start is answered by retrying
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                          region_name="us-east-1",
                          config=botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"}))
        s3.create_bucket(Bucket="bench")
        urls = presign(endpoint, "PUT", [f"k/{i}" for i in range(args.keys)], "bench")
        before = wal_metrics(endpoint)
        started = time.perf_counter()
        r = load(endpoint, urls, args.clients, args.procs, args.duration)
        elapsed = time.perf_counter() - started - 0.5
        after = wal_metrics(endpoint)
    finally:
        stop_server(proc)
    fsyncs = after["fsyncs"] - before["fsyncs"]
    r.update(ops_s=r["done"] / args.duration, fsyncs_s=fsyncs / args.duration,
             per_fsync=r["done"] / fsyncs if fsyncs else 0.0, io=after["backends"], elapsed=elapsed)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--backends", default="threadpool,io_uring")
    ap.add_argument("--shards", type=int, default=0, help="server shards (default: one per core)")
    ap.add_argument("--keys", type=int, default=5000, help="distinct keys, cycled (presigning them is the set-up time)")
    ap.add_argument("--reps", type=int, default=1, help="repeat every run; ratios are medians")
    ap.add_argument("--quick", action="store_true", help="tiny run: a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.keys = min(args.duration, 1.0), min(args.keys, 500)
    backends = [b for b in args.backends.split(",") if b]
    print(f"put_group_commit: durable preset, PUT 4 KiB, {args.clients} clients over {args.procs} processes, "
          f"{args.duration:g} s per run  ({disk_ref.load()})", flush=True)
    runs: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="put-gc-") as tmp:
        for rep in range(args.reps):
            for backend in backends:
                # on/off back to back, the order alternating between reps: the load on this shared machine moves
                # by the minute, so a ratio is the median over reps of the ratio within one rep.
                for gc in (("on", "off") if rep % 2 == 0 else ("off", "on")):
                    r = bench_one(tmp, gc, backend, args)
                    runs.setdefault((gc, backend), []).append(r)
                    print(f"group-commit {gc:3s} {backend:10s} (shards: {r['io']})  {r['ops_s']:8.0f} PUT/s  "
                          f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  {r['fsyncs_s']:7.0f} fsyncs/s  "
                          f"{r['per_fsync']:5.1f} PUTs/fsync  errors {r['errors']}  ({disk_ref.load()})", flush=True)
    if args.reps > 1:
        print(f"medians over {args.reps} reps:", flush=True)

    def ratio_line(label: str, a: list[dict], b: list[dict]) -> str:
        within = [x["ops_s"] / max(y["ops_s"], 1e-9) for x, y in zip(a, b)]
        line = f"ratio {label} = {statistics.median(within):.2f}"
        if len(within) > 1:
            line += "   (reps: " + ", ".join(f"{x:.2f}" for x in within) + ")"
        return line

    for backend in backends:
        on, off = runs["on", backend], runs["off", backend]
        print(ratio_line(f"group-commit on/off  {backend:10s}", on, off)
              + f"   median {statistics.median(r['ops_s'] for r in on):.0f} / "
              f"{statistics.median(r['ops_s'] for r in off):.0f} PUT/s", flush=True)
    if "io_uring" in backends and "threadpool" in backends:
        for gc in ("on", "off"):
            print(ratio_line(f"io_uring/threadpool  group-commit {gc:3s}", runs[gc, "io_uring"],
                             runs[gc, "threadpool"]), flush=True)

if __name__ == "__main__":
    main()
