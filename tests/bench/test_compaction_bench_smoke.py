"""bench/compaction.py runs end to end on a small log and reports what it reclaimed (nothing timed here; the
figure is in docs/STATUS.md)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_compaction_bench_reclaims_dead_segments_and_verifies_survivors(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "compaction.py"), "--mib", "8",
                           "--object-kib", "64", "--segment-mib", "1", "--rate", "512"],
                          capture_output=True, text=True, timeout=240, cwd=ROOT,
                          env={**os.environ, "CAIRN_BENCH_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "after compaction" in done.stdout and "surviving objects verified by MD5" in done.stdout
    assert " 0 removed" not in done.stdout, done.stdout
