"""The engine benchmarks run end to end in their --quick mode and print their ratio lines. Nothing here is timed:
the figures themselves are recorded in docs/ENGINE.md."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_bench(script: str, *args: str, timeout: float = 240) -> str:
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), "--quick", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_wal_append_prints_ratios_against_dd(tmp_path):
    out = run_bench("wal_append.py", "--total-mib", "16", "--dir", str(tmp_path))
    assert "reference fdatasync" in out and "reference dsync" in out
    for policy in ("none", "periodic", "always"):
        for backend in ("threadpool", "io_uring"):
            assert f"ratio wal/dd  {policy:8s} {backend:10s} = " in out, out
    assert "ratio io_uring/threadpool  always" in out
