"""Router-side Prometheus metrics and the /_cairn/metrics exposition (multiprocess: every router and shard
process writes its own files under PROMETHEUS_MULTIPROC_DIR; the exposition merges them)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("cairn_requests", "S3 requests", ["op", "status"])
LATENCY = Histogram("cairn_request_seconds", "S3 request latency", ["op"],
                    buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10))
BYTES_IN = Counter("cairn_bytes_in", "Request body bytes received")
BYTES_OUT = Counter("cairn_bytes_out", "Response body bytes sent")


def exposition() -> tuple[bytes, str]:
    from prometheus_client import multiprocess
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


_children: dict = {}


def observe(op: str, status: int, seconds: float) -> None:
    # labels() lookups cost more than the increment; keep the bound children per (op, status)
    key = (op, status)
    pair = _children.get(key)
    if pair is None:
        pair = _children[key] = (REQUESTS.labels(op, str(status)), LATENCY.labels(op))
    pair[0].inc()
    pair[1].observe(seconds)
