#!/usr/bin/env python3
"""Full recovery MB/s against a raw sequential read of the same segment files, page cache dropped before each.

    python3 bench/wal_recovery.py [--total-mib 4096] [--record-kib 1024] [--small-every 4] [--reps 1]
                                  [--dir PATH] [--keep] [--quick]

Writes a log of `--total-mib` (1 MiB CHUNK records, with a small PUT-like record after every `--small-every`
chunks, as objects leave them), then, each time with a cold page cache (`echo 3 > /proc/sys/vm/drop_caches` as
root, else posix_fadvise DONTNEED on the files):

    dd       dd if=SEGMENT of=/dev/null bs=1M, every segment in turn (and fio --rw=read when installed)
    check    `cairn check`'s scan (wal.check.check_log): every record read, every CRC32C verified, read-only
    full     Log.recover(full=True): the same, yielding every record as a shard's recovery consumes them

MB/s counts the segment files' bytes (what dd reads). Prints `ratio check/dd` and `ratio full/dd` (the issue's
target: >= 0.7). Figures: docs/ENGINE.md.
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
from wal.check import check_log  # noqa: E402
from wal.io import ThreadPoolIO  # noqa: E402
from wal.segments import list_segments, segment_name  # noqa: E402

MiB = 1 << 20


def write_log(directory: str, args) -> int:
    """Fill a log with about `total_mib` of records; returns the record count."""
    log = Log(directory, sync=SyncPolicy("none"), segment_size=args.segment_mib * MiB)
    for _ in log.recover():
        pass
    chunks = [os.urandom(args.record_kib << 10) for _ in range(4)]
    meta = os.urandom(300)
    records = 0

    async def fill():
        nonlocal records
        written = 0
        while written < args.total_mib * MiB:
            log.append(RecordType.CHUNK, chunks[records & 3])
            written += len(chunks[0])
            records += 1
            if args.small_every and records % args.small_every == 0:
                log.append(RecordType.PUT, meta)
                records += 1
        await log.close()

    asyncio.run(fill())
    return records


def segment_paths(directory: str) -> list[str]:
    return [os.path.join(directory, segment_name(n)) for n in list_segments(directory)]


def timed_check(directory: str) -> tuple[float, int]:
    paths = segment_paths(directory)
    disk_ref.drop_caches(paths)
    started = time.perf_counter()
    report = check_log(directory)
    seconds = time.perf_counter() - started
    assert not report.corrupt_ranges, report.corrupt_ranges
    return seconds, report.records


def timed_full(directory: str) -> tuple[float, int]:
    paths = segment_paths(directory)
    disk_ref.drop_caches(paths)
    started = time.perf_counter()
    log = Log(directory, sync=SyncPolicy("none"), io=ThreadPoolIO(), preallocate=False)
    records = sum(1 for _ in log.recover(full=True))
    seconds = time.perf_counter() - started
    asyncio.run(log.close())
    assert not log.report.corrupt_ranges, log.report.corrupt_ranges
    return seconds, records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total-mib", type=int, default=4096)
    ap.add_argument("--record-kib", type=int, default=1024)
    ap.add_argument("--small-every", type=int, default=4, help="a small record after every N chunks (0: none)")
    ap.add_argument("--segment-mib", type=int, default=64)
    ap.add_argument("--reps", type=int, default=1, help="repeat every measurement; ratios are medians")
    ap.add_argument("--dir", help="where to write the log (default: a temp dir under /tmp)")
    ap.add_argument("--keep", action="store_true", help="reuse a log already in --dir, and leave it there")
    ap.add_argument("--quick", action="store_true", help="tiny run (64 MiB, 4 MiB segments): a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.total_mib, args.segment_mib = min(args.total_mib, 64), 4
    base = args.dir or tempfile.mkdtemp(prefix="wal-recovery-")
    directory = os.path.join(base, "wal")
    try:
        if not (args.keep and os.path.isdir(directory) and list_segments(directory)):
            shutil.rmtree(directory, ignore_errors=True)
            os.makedirs(directory)
            started = time.perf_counter()
            n = write_log(directory, args)
            print(f"wrote {n} records in {time.perf_counter() - started:.1f} s", flush=True)
        paths = segment_paths(directory)
        nbytes = sum(os.path.getsize(p) for p in paths)
        print(f"wal_recovery: {len(paths)} segments, {nbytes / MiB:.0f} MiB, dir {directory}, cold cache via "
              f"{disk_ref.drop_caches(paths)}  ({disk_ref.load()})", flush=True)
        # The order rotates between reps: the host under this VM caches too, so whichever reads first after the
        # write may find the disk colder than the next one does. A ratio is the median over reps of the ratio
        # within one rep (on this shared machine the load moves by the minute).
        measures = {"dd": lambda: disk_ref.dd_read(paths)[0], "fio": lambda: disk_ref.fio_read(paths),
                    "check": lambda: nbytes / timed_check(directory)[0] / 1e6,
                    "full": lambda: nbytes / timed_full(directory)[0] / 1e6}
        if not disk_ref.fio_available():
            del measures["fio"]
        names = list(measures)
        reps: list[dict[str, float]] = []
        for rep in range(args.reps):
            runs = {}
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                runs[name] = measures[name]()
            reps.append(runs)
            print("  ".join(f"{k} {runs[k]:6.0f} MB/s" for k in names) + f"   ({disk_ref.load()})", flush=True)
        if args.reps > 1:
            print(f"medians over {args.reps} reps:", flush=True)
        for name in ("check", "full"):
            within = [r[name] / r["dd"] for r in reps]
            line = f"ratio {name}/dd = {statistics.median(within):.2f}"
            if "fio" in names:
                line += f"   {name}/fio = {statistics.median(r[name] / r['fio'] for r in reps):.2f}"
            if len(reps) > 1:
                line += "   (reps: " + ", ".join(f"{x:.2f}" for x in within) + ")"
            print(line, flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
        elif not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
