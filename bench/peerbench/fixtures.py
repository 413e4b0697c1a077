"""The objects every peer is preloaded with before the cells, and the cleanup of what a cell wrote."""

from __future__ import annotations

import asyncio
import time

from bench.peerbench.config import BUCKET, N_1M, N_64M, N_LIST, log
from bench.peerbench.s3client import Client, body_bytes, gather_limited
from bench.peerbench.servers import Peer


async def ensure_fixtures(peer: Peer, needs: set, n_4k: int) -> None:
    c = Client(peer)
    try:
        for b in (BUCKET, BUCKET + "-put", BUCKET + "-list"):
            await c.bucket(b)
        for fx in ("4k", "1m", "64m", "list"):
            if fx not in needs:
                continue
            marker = f"/{BUCKET}/_ready/{fx}-{n_4k if fx == '4k' else 1}"
            st, _, _ = await c.call("HEAD", marker)
            if st == 200:
                continue
            t0 = time.monotonic()
            if fx == "64m":
                data = body_bytes(64 << 20)
                await gather_limited(2, [c.multipart(BUCKET, f"f/64m/{i}", data) for i in range(N_64M)])
            else:
                paths, size = {
                    "4k": ([f"/{BUCKET}/f/4k/{i:05d}" for i in range(n_4k)], 4096),
                    "1m": ([f"/{BUCKET}/f/1m/{i:04d}" for i in range(N_1M)], 1 << 20),
                    "list": ([f"/{BUCKET}-list/k/{i:05d}" for i in range(N_LIST)], 64),
                }[fx]
                data = body_bytes(size)
                await gather_limited(16, [c.put(p, data) for p in paths])
            await c.put(marker, b"1")
            log(f"  {peer.name}: fixture {fx} in {time.monotonic() - t0:.1f} s")
    finally:
        c.http.close()


async def cleanup(peer: Peer, prefix: str, live: dict | None = None) -> None:
    c = Client(peer)
    try:
        for path, upload in (live or {}).items():
            try:
                await asyncio.wait_for(c.call("DELETE", path, [("uploadId", upload)]), 30)
            except Exception:  # noqa: BLE001 - best effort
                pass
        await c.delete(BUCKET + "-put", await c.keys(BUCKET + "-put", prefix))
    finally:
        c.http.close()
