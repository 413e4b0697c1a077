#!/usr/bin/env python3
"""The shard index at scale: N small objects in one shard's log, then measure what the engine issue asks for —
RSS per million keys, a 1,000-key listing page from the middle, and the time of a light restart (recovery):
after a clean stop (the final checkpoint covers everything) and after a kill (the log tail since the last
checkpoint is replayed), plus a full rebuild from the whole log for comparison.

    python3 bench/index_scale.py [--objects 1000000]

Runs a real Log + Store in this process (no server): writes go through the same PUT record path as a shard's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from shards.store import Store, encode_put  # noqa: E402
from wal.log import Log  # noqa: E402
from wal.records import RecordType  # noqa: E402
from wal.sync import policy_for  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def fill(directory: str, n: int, clean: bool = True) -> None:
    wal = Log(directory, sync=policy_for("performance"))
    store = Store(wal)
    store.recover()
    now = time.time()
    batch = []
    for i in range(n):
        entry = {"etag": "d41d8cd98f00b204e9800998ecf8427e", "size": 100, "mtime": now, "ct": "binary/octet-stream"}
        batch.append((RecordType.PUT, encode_put({"b": "bucket", "k": f"dir{i % 1000:04d}/obj{i:09d}", "e": entry},
                                                 b"x" * 100)))
        if len(batch) == 1000:
            await store.write_many(batch)
            batch = []
    if batch:
        await store.write_many(batch)
    if clean:
        await store.close()
    else:  # as if killed: no final checkpoint (the log itself is closed so its tail is on disk)
        if store._checkpointing is not None:
            await store._checkpointing
        await wal.close()
        store.index.close()


def restart(directory: str, full: bool = False) -> tuple[Store, float]:
    t0 = time.perf_counter()
    wal = Log(directory, sync=policy_for("performance"))
    store = Store(wal)
    store.recover(full=full)
    return store, time.perf_counter() - t0


async def measure(directory: str, n: int) -> None:
    base = rss_mib()
    store, after_stop = restart(directory)
    tail = store.wal.report.records
    await store.close()
    # as if killed mid-run: append records without a final checkpoint, then restart
    await fill_tail(directory, n)
    store, after_kill = restart(directory)
    replayed = store.wal.report.records
    grown = rss_mib() - base
    marker = f"dir0500/obj{n // 2:09d}"
    t0 = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        page, _ = store.index.list_page("bucket", "", "", marker, 1000)
    page_ms = (time.perf_counter() - t0) / rounds * 1000
    assert len(page) == 1000
    await store.close()
    _, full_s = restart(directory, full=True)
    size = os.path.getsize(os.path.join(directory, "index", "index.db")) / 2**20
    print(f"objects {n:,}: light restart after a stop {after_stop:.2f} s ({tail} records replayed), "
          f"after a kill {after_kill:.2f} s ({replayed} records replayed), full rebuild {full_s:.1f} s; "
          f"index file {size:.0f} MiB; process RSS growth {grown:.0f} MiB "
          f"({grown / n * 1e6:.0f} MiB per million keys, projected {grown / n * 1e7 / 1024:.1f} GiB for 10M), "
          f"1,000-key page from the middle {page_ms:.1f} ms; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


async def fill_tail(directory: str, n: int) -> None:
    """Overwrite 19,000 keys (just under a checkpoint's worth of records) and stop without a checkpoint."""
    wal = Log(directory, sync=policy_for("performance"))
    store = Store(wal, checkpoint_seconds=3600)  # only the record count may trigger one, as under steady writes
    store.recover()
    now = time.time()
    for start in range(0, 19_000, 1000):
        await store.write_many([(RecordType.PUT, encode_put(
            {"b": "bucket", "k": f"dir{i % 1000:04d}/obj{i:09d}", "e": {"etag": "0" * 32, "size": 100, "mtime": now,
                                                                      "ct": "binary/octet-stream"}}, b"y" * 100))
            for i in range(start, min(start + 1000, n))])
    if store._checkpointing is not None:
        await store._checkpointing
    await wal.close()
    store.index.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(fill(tmp, args.objects))
        asyncio.run(measure(tmp, args.objects))


if __name__ == "__main__":
    main()
