#!/usr/bin/env python3
"""WAL append throughput at 1 MiB records against a raw sequential write of the same bytes on the same disk.

    python3 bench/wal_append.py [--total-mib 1024] [--policies none,periodic,always]
                                [--backends threadpool,io_uring] [--writers 1] [--dir PATH] [--quick]

For each sync policy and io backend: a fresh log (64 MiB pre-zeroed segments, as a shard has), `--writers`
tasks each appending 1 MiB records and awaiting commit() until `--total-mib` are written, then close() (the
final fdatasync) -- the clock covers all of it. The reference is the same number of bytes written sequentially
by `dd` (and `fio` when installed), with the same durability:

    none / periodic  ->  dd bs=1M conv=fdatasync   (page cache, one fdatasync at the end)  | fio --end_fsync=1
    always           ->  dd bs=1M oflag=dsync      (every 1 MiB block synced before the next) | fio --fdatasync=1

Each WAL run follows its own reference run; prints one line per run and `ratio wal/dd` lines, the median over
`--reps` of the paired ratios (the issue's target: >= 0.8). Figures: docs/ENGINE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
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
            # A shard's handler returns to the loop between records (it awaits the network); so does this one, or
            # under `none` on the thread pool commit() never suspends and the flusher could not fsync sealed
            # segments in the background while appends go on, as it does in a server.
            await asyncio.sleep(0)

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
    ap.add_argument("--total-mib", type=int, default=1024, help="bytes written per run")
    ap.add_argument("--record-size", type=int, default=MiB)
    ap.add_argument("--segment-mib", type=int, default=64)
    ap.add_argument("--policies", default="none,periodic,always")
    ap.add_argument("--backends", default="threadpool,io_uring")
    ap.add_argument("--writers", type=int, default=1, help="concurrent appenders (1: one sequential stream, like dd)")
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--fill", choices=["zeros", "fallocate"], help="segment preallocation (default: the log's "
                    "choice for the policy, wal/spare.py default_fill)")
    ap.add_argument("--reps", type=int, default=1, help="repeat every pair of runs; ratios are medians")
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
        # Every WAL run is paired with a reference run right before it (per policy, per rep), and a ratio is the
        # median over reps of wal/reference within a pair: on this shared machine the load moves by the minute,
        # so only measurements taken side by side compare.
        wal_runs: dict[tuple[str, str], list[float]] = {}
        pairs: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
        n = 0
        for rep in range(args.reps):
            for policy in policies:
                durability = "dsync" if policy == "always" else "fdatasync"
                dd = disk_ref.dd_write(base, nbytes, mode=durability)
                fio = disk_ref.fio_write(base, nbytes, sync_each=durability == "dsync")
                fio_s = f"{fio:8.0f} MB/s" if fio else "   (not installed)"
                print(f"reference {durability:9s}  dd {dd:8.0f} MB/s   fio {fio_s}  ({disk_ref.load()})", flush=True)
                for backend in backends:
                    n += 1
                    r = run_wal(os.path.join(base, f"wal-{n}"), policy, backend, args)
                    wal_runs.setdefault((policy, r["io"]), []).append(r["mb_s"])
                    pairs.setdefault((policy, r["io"]), []).append((r["mb_s"] / dd, r["mb_s"] / fio if fio else None))
                    print(f"wal {policy:8s} {r['io']:10s}  {r['mb_s']:8.0f} MB/s  ({r['seconds']:.2f} s, "
                          f"{r['fsyncs']} fsyncs)  wal/dd {r['mb_s'] / dd:.2f}  ({disk_ref.load()})", flush=True)
        if args.reps > 1:
            print(f"medians over {args.reps} reps:", flush=True)
        for (policy, backend), ratios in pairs.items():
            dd_ratios = [d for d, _ in ratios]
            line = f"ratio wal/dd  {policy:8s} {backend:10s} = {statistics.median(dd_ratios):.2f}"
            if all(f is not None for _, f in ratios):
                line += f"   wal/fio = {statistics.median(f for _, f in ratios):.2f}"
            if len(ratios) > 1:
                line += "   (pairs: " + ", ".join(f"{d:.2f}" for d in dd_ratios) + ")"
            print(line, flush=True)
        for policy in policies:
            uring, pool = wal_runs.get((policy, "io_uring")), wal_runs.get((policy, "threadpool"))
            if uring and pool:
                per_rep = [u / t for u, t in zip(uring, pool)]
                print(f"ratio io_uring/threadpool  {policy:8s} = {statistics.median(per_rep):.2f}"
                      + (f"   (reps: {', '.join(f'{x:.2f}' for x in per_rep)})" if len(per_rep) > 1 else ""),
                      flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
