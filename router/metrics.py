"""Router-side Prometheus metrics and the /_cairn/metrics exposition (multiprocess: every router and shard
process writes its own files under PROMETHEUS_MULTIPROC_DIR; the exposition merges them)."""

from __future__ import annotations

import asyncio
import atexit
import bisect
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("cairn_requests", "S3 requests", ["op", "status"])
_LATENCY_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10)
LATENCY = Histogram("cairn_request_seconds", "S3 request latency", ["op"], buckets=_LATENCY_BUCKETS)
_BYTES_IN = Counter("cairn_bytes_in", "Request body bytes received")
_BYTES_OUT = Counter("cairn_bytes_out", "Response body bytes sent")
_READ_CACHE = Counter("cairn_read_cache", "Plain GET/HEAD of small objects: answered from what the router worker "
                      "kept (hit) or asked of the shard (miss), router/read_cache.py", ["result"])

# Updates are batched: in multiprocess mode every increment takes a lock and writes an mmap'd file (an observe()
# is three of those, ~15-35 µs a request on the project VM), so requests only add to plain dicts here and a timer
# writes the sums at most once a second. A scrape flushes the answering process first; other router processes'
# last second may show on the next scrape.
FLUSH_SECONDS = 1.0
_BOUNDS = (*_LATENCY_BUCKETS, float("inf"))
_pending: dict = {}          # (op, status) -> [count, seconds, per-bucket counts]
_pending_counts = [0, 0, 0, 0]  # bytes in, bytes out, read-cache hits, misses
_flush_handle = None


class _BatchedCounter:
    """``inc`` adds to the pending batch (the same call sites as a prometheus Counter)."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def inc(self, amount: float = 1) -> None:
        _pending_counts[self.slot] += amount
        _schedule()


BYTES_IN, BYTES_OUT = _BatchedCounter(0), _BatchedCounter(1)
READ_HITS, READ_MISSES = _BatchedCounter(2), _BatchedCounter(3)


def observe(op: str, status: int, seconds: float) -> None:
    key = (op, status)
    p = _pending.get(key)
    if p is None:
        p = _pending[key] = [0, 0.0, [0] * len(_BOUNDS)]
    p[0] += 1
    p[1] += seconds
    p[2][bisect.bisect_left(_BOUNDS, seconds)] += 1
    _schedule()


def _schedule() -> None:
    global _flush_handle
    if _flush_handle is None:
        try:
            _flush_handle = asyncio.get_running_loop().call_later(FLUSH_SECONDS, flush)
        except RuntimeError:  # no event loop (a script or a test): write through
            flush()


_children: dict = {}


def flush() -> None:
    """Write the pending batch to the prometheus values."""
    global _flush_handle
    if _flush_handle is not None:
        _flush_handle.cancel()
        _flush_handle = None
    pending = list(_pending.items())
    _pending.clear()
    for (op, status), (count, seconds, buckets) in pending:
        # labels() lookups cost more than the increments; keep the bound children per (op, status)
        pair = _children.get((op, status))
        if pair is None:
            pair = _children[(op, status)] = (REQUESTS.labels(op, str(status)), LATENCY.labels(op))
        pair[0].inc(count)
        try:  # the histogram's own values (prometheus_client keeps per-bucket, not cumulative, counts)
            hist_sum, hist_buckets = pair[1]._sum, pair[1]._buckets
        except AttributeError:
            for i, n in enumerate(buckets):
                for _ in range(n):
                    pair[1].observe(_BOUNDS[i])
            continue
        hist_sum.inc(seconds)
        for i, n in enumerate(buckets):
            if n:
                hist_buckets[i].inc(n)
    if _pending_counts[0]:
        _BYTES_IN.inc(_pending_counts[0])
    if _pending_counts[1]:
        _BYTES_OUT.inc(_pending_counts[1])
    if _pending_counts[2]:
        _READ_CACHE.labels("hit").inc(_pending_counts[2])
    if _pending_counts[3]:
        _READ_CACHE.labels("miss").inc(_pending_counts[3])
    _pending_counts[:] = [0, 0, 0, 0]


atexit.register(flush)


def exposition() -> tuple[bytes, str]:
    from prometheus_client import multiprocess
    flush()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
