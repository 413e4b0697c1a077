"""The soak runner end to end, 20 seconds of it: the mixed profile (PUT/GET/HEAD/LIST/DELETE/COPY/multipart/
tagging) against a 2-shard server, then the checker. The full run is `python3 loadtests/soak.py --minutes 10`;
a 20-second run keeps every verdict but RSS, whose growth is only meaningful over minutes, so here it must only
be sampled and stay within 50%."""

import json
import os
import subprocess
import sys

from tests.support.server import ROOT


def test_a_20_second_soak_loses_nothing_answers_no_5xx_and_reports_latency_and_rss(tmp_path):
    report = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, "loadtests/soak.py", "--seconds", "20", "--users", "8",
                          "--rss-interval", "1", "--max-rss-growth", "50", "--report", str(report)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    figures = json.loads(report.read_text())
    assert figures["problems"] == [] and figures["5xx"] == 0 and figures["locust_failures"] == 0
    assert figures["checked"]["lost"] == 0 and figures["checked"]["wrong_tags"] == 0
    assert figures["checked"]["objects"] > 0 and figures["checked"]["deletes"] > 0
    for op in ("PUT", "GET", "HEAD", "LIST", "DELETE", "COPY", "PutObjectTagging", "CompleteMultipartUpload"):
        assert figures["ops"][op]["count"] > 0, f"the soak issued no {op}"
    assert figures["p99_ms"] >= figures["p50_ms"] > 0
    routers = {f"cairn: router {i}" for i in range(os.cpu_count() or 1)}  # one router per core by default
    assert set(figures["rss_kib"]) == routers | {"cairn: shard 0", "cairn: shard 1"}
    assert figures["restarted"] == []
    assert "PASS" in run.stdout
