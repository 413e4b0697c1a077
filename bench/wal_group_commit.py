"""Group-commit throughput of the WAL: N concurrent writers, each appending a
record and awaiting commit() in a loop, under a chosen sync policy.

    python bench/wal_group_commit.py [--writers 64] [--size 4096] [--seconds 5] [--mode always]
                                     [--backend auto|io_uring|threadpool] [--no-preallocate]
                                     [--group-commit on|off] [--fill zeros|fallocate] [--dir PATH]

Compare with DESIGN §8 (io_uring linked writev+fdatasync: 137k records/s at
64 writers; thread pool: 115k). Figures for this machine: docs/DURABILITY.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wal import Log, RecordType, SyncPolicy  # noqa: E402
from wal.io_select import open_backend  # noqa: E402


class Fsyncs:
    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def fsync(self, seconds: float, records: int) -> None:
        self.count += 1
        self.seconds += seconds


async def run(args: argparse.Namespace, directory: str) -> None:
    fsyncs = Fsyncs()
    io, _ = open_backend(args.backend)
    log = Log(directory, sync=SyncPolicy(args.mode, group_commit=args.group_commit), observer=fsyncs, io=io, preallocate=args.preallocate,
              fill=args.fill)
    for _ in log.recover():
        pass
    payload = os.urandom(args.size)
    latencies: list[float] = []
    stop = time.perf_counter() + args.seconds

    async def writer() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            lsn, _ = log.append(RecordType.CHUNK, payload)
            await log.commit(lsn)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(args.writers)))
    elapsed = time.perf_counter() - began
    await log.close()

    latencies.sort()
    n = len(latencies)
    print(f"mode={args.mode} writers={args.writers} size={args.size} B  io={log.io_backend}  "
          f"preallocate={args.preallocate} fill={args.fill or 'default'} group_commit={args.group_commit}")
    print(f"{n / elapsed:,.0f} records/s  ({n * args.size / elapsed / 1e6:,.1f} MB/s payload)")
    print(f"commit latency p50 {latencies[n // 2] * 1e3:.2f} ms  p99 {latencies[int(n * 0.99)] * 1e3:.2f} ms")
    if fsyncs.count:
        print(f"{fsyncs.count} fsyncs, {n / fsyncs.count:.1f} records each, "
              f"mean {fsyncs.seconds / fsyncs.count * 1e3:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--mode", default="always", choices=["none", "periodic", "threshold", "always"])
    parser.add_argument("--backend", default="auto", choices=["auto", "io_uring", "threadpool"])
    parser.add_argument("--no-preallocate", dest="preallocate", action="store_false",
                        help="segments grow with each write instead of being pre-zeroed")
    parser.add_argument("--group-commit", choices=["on", "off"], default="on",
                        help="off: every commit waits for an fsync of its own (wal/sync.py)")
    parser.add_argument("--fill", choices=["zeros", "fallocate"],
                        help="how segments are preallocated (default: the log's choice for the mode)")
    parser.add_argument("--dir", help="where to put the log (default: a temp dir on the same disk as /tmp)")
    args = parser.parse_args()
    args.group_commit = args.group_commit == "on"
    directory = args.dir or tempfile.mkdtemp(prefix="wal-bench-")
    try:
        import uvloop
        uvloop.run(run(args, directory))
    except ImportError:
        asyncio.run(run(args, directory))
    finally:
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
