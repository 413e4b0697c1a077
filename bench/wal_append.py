#!/usr/bin/env python3
"""WAL append throughput at 1 MiB records against a raw sequential write of the same bytes on the same disk.

    python3 bench/wal_append.py [--total-mib 2048] [--policies none,periodic,always]
                                [--backends threadpool,io_uring] [--writers 1] [--dir PATH] [--quick]

For each sync policy and io backend: a fresh log (64 MiB pre-zeroed segments, as a shard has), `--writers`
tasks each appending 1 MiB records and awaiting commit() until `--total-mib` are written, then close() (the
final fdatasync) -- the clock covers all of it. The reference is the same number of bytes written sequentially
by `dd` (and `fio` when installed), with the same durability:

    none / periodic  ->  dd bs=1M conv=fdatasync   (page cache, one fdatasync at the end)  | fio --end_fsync=1
    always           ->  dd bs=1M oflag=dsync      (every 1 MiB block synced before the next) | fio --fdatasync=1

Prints one line per run and `ratio wal/dd` lines (the issue's target: >= 0.8). Figures: docs/ENGINE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import disk_ref  # noqa: E402
from wal import Log, RecordType, SyncPolicy  # noqa: E402
from wal.io_select import open_backend  # noqa: E402

MiB = 1 << 20


class Fsyncs:
    def __init__(self) -> None:
        self.count = 0

    def fsync(self, seconds: float, records: int) -> None:
        self.count += 1


async def wal_run(directory: str, policy: str, backend: str, args) -> dict:
    fsyncs = Fsyncs()
    io, _ = open_backend(backend)
    log = Log(directory, sync=SyncPolicy(policy, interval_ms=args.interval_ms), observer=fsyncs, io=io,
              segment_size=args.segment_mib * MiB, fill=args.fill)
    for _ in log.recover():
        pass
    # Wait for the first spare segment, as a shard that has been up a moment has it ready.
    if log._spares is not None:
        log._spares._wait()
    records = args.total_mib * MiB // args.record_size
    payloads = [os.urandom(args.record_size) for _ in range(4)]
    todo = iter(range(records))

    async def writer() -> None:
        for i in todo:
            lsn, _ = log.append(RecordType.CHUNK, payloads[i & 3])
            await log.commit(lsn)

    os.sync()
    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(args.writers)))
    await log.close()
    seconds = time.perf_counter() - started
    return {"mb_s": records * args.record_size / seconds / 1e6, "seconds": seconds, "fsyncs": fsyncs.count,
            "io": log.io_backend}


def run_wal(directory: str, policy: str, backend: str, args) -> dict:
    os.makedirs(directory)
    try:
        try:
            import uvloop
            return uvloop.run(wal_run(directory, policy, backend, args))
        except ImportError:
            return asyncio.run(wal_run(directory, policy, backend, args))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total-mib", type=int, default=2048, help="bytes written per run")
    ap.add_argument("--record-size", type=int, default=MiB)
    ap.add_argument("--segment-mib", type=int, default=64)
    ap.add_argument("--policies", default="none,periodic,always")
    ap.add_argument("--backends", default="threadpool,io_uring")
    ap.add_argument("--writers", type=int, default=1, help="concurrent appenders (1: one sequential stream, like dd)")
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--fill", choices=["zeros", "fallocate"], help="segment preallocation (default: the log's "
                    "choice for the policy, wal/spare.py default_fill)")
    ap.add_argument("--reps", type=int, default=1, help="repeat every measurement, keep the best of each")
    ap.add_argument("--dir", help="where to write (default: a temp dir under /tmp; put it on the disk to measure)")
    ap.add_argument("--quick", action="store_true", help="tiny run (64 MiB, 4 MiB segments): a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.total_mib, args.segment_mib = min(args.total_mib, 64), 4
    base = args.dir or tempfile.mkdtemp(prefix="wal-append-")
    os.makedirs(base, exist_ok=True)
    nbytes = args.total_mib * MiB
    policies = [p for p in args.policies.split(",") if p]
    backends = [b for b in args.backends.split(",") if b]
    print(f"wal_append: {args.total_mib} MiB of {args.record_size >> 10} KiB records, {args.writers} writer(s), "
          f"segments {args.segment_mib} MiB ({args.fill or 'default'} fill), dir {base}  ({disk_ref.load()})", flush=True)
    try:
        # Each rep measures the references and then every WAL run, so a load change on this shared machine hits
        # both sides of a ratio; the best of each over the reps is kept.
        refs: dict[str, dict[str, float | None]] = {}
        results: dict[tuple[str, str], dict] = {}
        n = 0
        for rep in range(args.reps):
            for durability in sorted({"dsync" if p == "always" else "fdatasync" for p in policies}):
                dd = disk_ref.dd_write(base, nbytes, mode=durability)
                fio = disk_ref.fio_write(base, nbytes, sync_each=durability == "dsync")
                old = refs.get(durability, {"dd": 0.0, "fio": None})
                refs[durability] = {"dd": max(dd, old["dd"]), "fio": max(fio, old["fio"] or 0) if fio else None}
                fio_s = f"{fio:8.0f} MB/s" if fio else "   (not installed)"
                print(f"reference {durability:9s}  dd {dd:8.0f} MB/s   fio {fio_s}  ({disk_ref.load()})", flush=True)
            for policy in policies:
                for backend in backends:
                    n += 1
                    r = run_wal(os.path.join(base, f"wal-{n}"), policy, backend, args)
                    best = results.get((policy, backend))
                    results[policy, backend] = r if best is None or r["mb_s"] > best["mb_s"] else best
                    print(f"wal {policy:8s} {r['io']:10s}  {r['mb_s']:8.0f} MB/s  ({r['seconds']:.2f} s, "
                          f"{r['fsyncs']} fsyncs)  ({disk_ref.load()})", flush=True)
        if args.reps > 1:
            print("best of", args.reps, "reps:", flush=True)
        for (policy, backend), r in results.items():
            ref = refs["dsync" if policy == "always" else "fdatasync"]
            line = f"ratio wal/dd  {policy:8s} {backend:10s} = {r['mb_s'] / ref['dd']:.2f}"
            if ref["fio"]:
                line += f"   wal/fio = {r['mb_s'] / ref['fio']:.2f}"
            print(line, flush=True)
        for policy in policies:
            if ("io_uring" in backends and "threadpool" in backends
                    and results[policy, "io_uring"]["io"] == "io_uring"):
                ratio = results[policy, "io_uring"]["mb_s"] / results[policy, "threadpool"]["mb_s"]
                print(f"ratio io_uring/threadpool  {policy:8s} = {ratio:.2f}", flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
