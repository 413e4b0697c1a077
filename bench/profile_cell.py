#!/usr/bin/env python3
"""Profile Cairn under one bench/peers.py cell: starts a server with CAIRN_PROFILE_DIR (cProfile in every router
and shard process, shards/profiling.py), loads the fixtures, runs the workload, stops the server and prints the
top functions of each process by own time and by cumulative time, per request.

    python3 bench/profile_cell.py list-1000 --concurrency 16 --duration 5 [--shards 2] [--top 25]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import io
import os
import pstats
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import peers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=peers.S3_WORKLOADS)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--serve-args", default="", help="extra `cairn serve` arguments, e.g. '--http-front raw'")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="tottime,cumulative")
    ap.add_argument("--keep", help="copy the .prof files to this directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prof_dir = os.path.join(tmp, "prof")
        os.environ["CAIRN_PROFILE_DIR"] = prof_dir
        server = peers.CairnPeer("cairn", args.preset, shards=args.shards, extra=args.serve_args.split())
        server.start(tmp)
        try:
            needs = {"get-4k": {"4k"}, "head": {"4k"}, "mixed": {"4k"}, "get-1m": {"1m"}, "get-64m": {"64m"},
                     "list-1000": {"list"}}.get(args.workload, set())
            asyncio.run(peers.ensure_fixtures(server, needs, 1000))
            ns = argparse.Namespace(engine="auto", objects_4k=1000)
            res = peers.run_cell(server, args.workload, args.concurrency, args.duration, ns, 1)
        finally:
            server.stop()
        print(f"{args.workload} C={args.concurrency}: {res['ops']} requests, {res['ops_s']} op/s "
              f"(under the profiler), router {res['router_us']} / shard {res['shard_us']} CPU-µs per request")
        for path in sorted(glob.glob(os.path.join(prof_dir, "*.prof"))):
            for key in args.sort.split(","):
                out = io.StringIO()
                st = pstats.Stats(path, stream=out)
                st.sort_stats(key).print_stats(args.top)
                print(f"\n===== {os.path.basename(path)} by {key} (whole process life, fixtures included) =====")
                print("\n".join(out.getvalue().splitlines()[6:]))
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for path in glob.glob(os.path.join(prof_dir, "*.prof")):
                os.replace(path, os.path.join(args.keep, os.path.basename(path)))


if __name__ == "__main__":
    main()
