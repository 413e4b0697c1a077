"""Smoke test of the peer benchmark (bench/peers.py): one tiny cell per workload against Cairn and moto, with the
Python client, and the table has a row per workload with a figure for both. Checks the harness, not speed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(not shutil.which("moto_server"), reason="moto_server not installed (pip install -e '.[test]')")
def test_peers_bench_tiny_run(tmp_path):
    out = tmp_path / "table.md"
    env = {**os.environ, "CAIRN_BENCH_SHARED": str(tmp_path / "no-shared")}   # moto from PATH, no RGW script
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "peers.py"), "--peers", "moto",
                        "--workloads", "put-4k,get-4k", "--concurrency", "4", "--duration", "1", "--reps", "1",
                        "--scaling", "", "--engine", "py", "--objects-4k", "20", "--out", str(out),
                        "--jsonl", str(tmp_path / "cells.jsonl")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    table = out.read_text()
    for workload in ("put-4k", "get-4k"):
        row = next((line for line in table.splitlines() if line.startswith(f"| {workload} | 4 |")), None)
        assert row, table
        cairn, moto = row.split("|")[3:5]
        assert re.search(r"\d", cairn) and re.search(r"\d", moto), row
        assert "⚠" not in row, row       # no failed requests
    assert (tmp_path / "cells.jsonl").read_text().count('"peer": "cairn"') == 2
