"""The engine benchmarks run end to end in their --quick mode and print their ratio lines. Nothing here is timed:
the figures themselves are recorded in docs/ENGINE.md."""
import os
import re
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


def test_put_group_commit_prints_on_off_and_backend_ratios():
    out = run_bench("put_group_commit.py", "--clients", "8", "--duration", "0.5", "--keys", "50", timeout=300)
    for backend in ("threadpool", "io_uring"):
        assert f"ratio group-commit on/off  {backend:10s} = " in out, out
    assert "ratio io_uring/threadpool  group-commit off = " in out
    runs = re.findall(r"^group-commit (on|off) .* ([0-9.]+) PUTs/fsync  errors (\d+)", out, re.M)
    assert len(runs) == 4 and all(errors == "0" for _, _, errors in runs), out
    assert all(float(per) <= 1.05 for gc, per, _ in runs if gc == "off"), out  # off: an fsync for every PUT


def test_wal_recovery_prints_ratios_against_dd(tmp_path):
    out = run_bench("wal_recovery.py", "--total-mib", "16", "--reps", "2", "--dir", str(tmp_path))
    assert "ratio check/dd = " in out and "ratio full/dd = " in out, out
