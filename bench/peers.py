#!/usr/bin/env python3
"""Cairn against the S3 peers that run on this machine, side by side: the entry point of `make bench`.

    python3 bench/peers.py --help

The benchmark itself lives in the package bench/peerbench (servers, fixtures, drivers, meters, table, cli); this
file runs its command line and keeps the names other code imports from `bench.peers` (loadtests/soak.py,
bench/profile_cell.py).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":      # run as a script: make the repository root importable for `bench.peerbench`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.peerbench.cells import quiesce, run_cell  # noqa: E402
from bench.peerbench.cli import build_peers, main  # noqa: E402
from bench.peerbench.config import (  # noqa: E402
    AK, BUCKET, BY_BYTES, CLK, HERE, LUA, N_1M, N_64M, N_LIST, PART, PUT_KEYS_PER_S, REGION, ROOT, S3_WORKLOADS,
    SHARED, SIZE, SK, TARGETS, log)
from bench.peerbench.drivers import requests_for, run_py, run_wrk, wrk_binary  # noqa: E402
from bench.peerbench.fixtures import cleanup, ensure_fixtures  # noqa: E402
from bench.peerbench.meters import Meter, children_of, host_busy, proc_rss_kib, proc_ticks  # noqa: E402
from bench.peerbench.s3client import Client, Http, body_bytes, gather_limited  # noqa: E402
from bench.peerbench.servers import (  # noqa: E402
    CairnPeer, HelloPeer, Peer, RgwPeer, ScriptPeer, free_port, hello_server, wait_http)
from bench.peerbench.signer import Signer  # noqa: E402
from bench.peerbench.table import (  # noqa: E402
    cell_text, fmt_num, lat_text, machine, median, render, summarize, value)

__all__ = [
    "quiesce", "run_cell", "build_peers", "main", "AK", "BUCKET", "BY_BYTES", "CLK", "HERE", "LUA", "N_1M", "N_64M",
    "N_LIST", "PART", "PUT_KEYS_PER_S", "REGION", "ROOT", "S3_WORKLOADS", "SHARED", "SIZE", "SK", "TARGETS", "log",
    "requests_for", "run_py", "run_wrk", "wrk_binary", "cleanup", "ensure_fixtures", "Meter", "children_of",
    "host_busy", "proc_rss_kib", "proc_ticks", "Client", "Http", "body_bytes", "gather_limited", "CairnPeer",
    "HelloPeer", "Peer", "RgwPeer", "ScriptPeer", "free_port", "hello_server", "wait_http", "Signer", "cell_text",
    "fmt_num", "lat_text", "machine", "median", "render", "summarize", "value"
]

if __name__ == "__main__":
    main()
