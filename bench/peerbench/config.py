"""Paths, credentials, workloads and their sizes, and the issue-5 targets of the peer benchmark."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # bench/
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("CAIRN_BENCH_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "bench"))
LUA = os.path.join(HERE, "wrk_s3.lua")
AK, SK = "bench-access", "bench-secret-key"
REGION = "us-east-1"
BUCKET = "cairnbench"

S3_WORKLOADS = ["put-4k", "put-4k-durable", "get-4k", "head", "list-1000", "put-1m", "get-1m", "put-64m",
                "get-64m", "mixed"]
SIZE = {"put-4k": 4096, "put-4k-durable": 4096, "get-4k": 4096, "head": 0, "list-1000": 0, "put-1m": 1 << 20,
        "get-1m": 1 << 20, "put-64m": 64 << 20, "get-64m": 64 << 20, "mixed": 4096, "hello": 0}
BY_BYTES = {"put-1m", "get-1m", "put-64m", "get-64m"}       # reported in MB/s (10^6 B)
PART = 8 << 20
N_1M, N_64M, N_LIST = 100, 4, 10000
# PUT keys signed in advance per second of a cell (wrk stops when it runs out; the cell is then flagged)
PUT_KEYS_PER_S = {"put-4k": 12000, "put-4k-durable": 12000, "put-1m": 1500, "mixed": 5000}

# issue 5 targets: workload -> [(peer, minimum ratio)], plus the sanic-ceiling share for get-4k/head
TARGETS = {
    "put-4k": [("rgw", 3.0), ("s3rver", 1.5)],
    "put-4k-durable": [("rgw", 2.0)],
    "get-4k": [("rgw", 3.0), ("sanic", 0.4)],
    "head": [("rgw", 3.0), ("sanic", 0.4)],
    "list-1000": [("rgw", 2.0)],
    "put-1m": [("rgw", 1.5)],
    "get-1m": [("rgw", 1.2)],
    "put-64m": [("rgw", 1.2)],
    "get-64m": [("rgw", 1.2)],
    "mixed": [("rgw", 3.0)],
}
CLK = os.sysconf("SC_CLK_TCK")


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)
