#!/usr/bin/env python3
"""Compaction on one shard's real log and index: write objects, delete most of them, then let compaction give the
space back. Prints disk use before and after, what moved, how long it took at the configured rate, and checks every
surviving object byte for byte (by MD5).

    python3 bench/compaction.py [--mib 256] [--object-kib 256] [--keep 0.25] [--rate 64]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from shards import objects  # noqa: E402
from shards.compaction import Compactor  # noqa: E402
from shards.store import Store  # noqa: E402
from wal import Log, SyncPolicy  # noqa: E402


def disk_mib(path: str) -> float:
    total = 0
    for name in os.listdir(path):
        if name.endswith(".seg"):
            total += os.stat(os.path.join(path, name)).st_blocks * 512
    return total / 2**20


async def run(directory: str, mib: int, object_kib: int, keep: float, rate: float, segment_mib: int) -> None:
    wal_dir = os.path.join(directory, "wal")
    store = Store(Log(wal_dir, sync=SyncPolicy("none"), segment_size=segment_mib << 20),
                  os.path.join(directory, "index"))
    store.recover()
    store.compactor = Compactor(store, live_ratio=0.5, mib_s=rate)
    n = mib * 1024 // object_kib
    digests = {}
    payload = os.urandom(object_kib << 10)
    for i in range(n):
        data = payload[i % 1024:] + payload[:i % 1024]
        up = objects.Upload(store, {"bucket": "b", "key": f"o{i:06d}", "length": len(data)})
        up.feed(data)
        await up.finish({"length": len(data)})
        digests[f"o{i:06d}"] = hashlib.md5(data).hexdigest()
    every = max(int(round(1 / keep)), 1)
    for i in range(n):
        if i % every:
            await objects.delete(store, {"bucket": "b", "key": f"o{i:06d}"})
            del digests[f"o{i:06d}"]
    for i in range(segment_mib * 1024 // object_kib + 2):  # seal the segment being written
        up = objects.Upload(store, {"bucket": "b", "key": f"~{i}", "length": 1024})
        up.feed(b"f" * 1024)
        await up.finish({"length": 1024})
    await store.checkpoint()
    before = disk_mib(wal_dir)
    t0 = time.perf_counter()
    moved = await store.compactor.run_once()
    await store.checkpoint()
    store.compactor.remove_released()
    seconds = time.perf_counter() - t0
    after = disk_mib(wal_dir)
    for key, digest in digests.items():
        entry = store.index.get("b", key)
        got = hashlib.md5(b"".join(objects.read_pieces(store, entry, None, 1 << 20))).hexdigest()
        assert got == digest, key
    live = len(digests) * object_kib / 1024
    print(f"{n} objects of {object_kib} KiB ({mib} MiB) in {segment_mib} MiB segments, {keep:.0%} kept "
          f"({live:.0f} MiB live): log on disk {before:.0f} MiB -> {after:.0f} MiB after compaction "
          f"({len(moved)} segments relocated, {store.compactor.segments_removed} removed, "
          f"{store.compactor.reclaimed_bytes / 2**20:.0f} MiB reclaimed) in {seconds:.1f} s at a {rate:.0f} MiB/s "
          f"budget; {len(digests)} surviving objects verified by MD5")
    await store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--object-kib", type=int, default=256)
    ap.add_argument("--keep", type=float, default=0.25)
    ap.add_argument("--rate", type=float, default=64.0)
    ap.add_argument("--segment-mib", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("CAIRN_BENCH_DIR")) as tmp:
        asyncio.run(run(tmp, args.mib, args.object_kib, args.keep, args.rate, args.segment_mib))


if __name__ == "__main__":
    main()
