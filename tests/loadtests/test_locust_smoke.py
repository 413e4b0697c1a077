"""The locust profiles run against a real server for 15 seconds, all at once, with zero failures (every
response is validated by the profile itself) and every profile doing real work."""

import csv
import os
import subprocess
import sys

from tests.support.server import ROOT, CairnServer

PROFILES = ["ReadHeavy", "WriteHeavy", "MultipartLarge", "ListingHeavy", "Realistic"]
# a request name each profile issues (see loadtests/locustfile.py)
EVIDENCE = {"ReadHeavy": "GET 4k", "WriteHeavy": "PUT 4k", "MultipartLarge": "CompleteMultipartUpload",
            "ListingHeavy": "LIST 100", "Realistic": "GET own"}


def test_every_locust_profile_runs_15_seconds_without_a_failure(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2).start()
    try:
        env = {**os.environ, "CAIRN_ACCESS_KEY": srv.access_key, "CAIRN_SECRET_KEY": srv.secret_key,
               "PYTHONPATH": ROOT}
        prefix = tmp_path / "smoke"
        r = subprocess.run([sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless",
                            "-u", "10", "-r", "10", "-t", "15s", "--host", srv.endpoint, "--csv", str(prefix),
                            "--only-summary", *PROFILES], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
        with open(f"{prefix}_stats.csv") as f:
            rows = {row["Name"]: row for row in csv.DictReader(f)}
        failures = {name: row["Failure Count"] for name, row in rows.items() if row["Failure Count"] != "0"}
        assert not failures, (failures, r.stderr[-3000:])
        assert r.returncode == 0, r.stderr[-3000:]
        for profile, name in EVIDENCE.items():
            assert name in rows and int(rows[name]["Request Count"]) > 0, f"{profile} did no {name}"
    finally:
        srv.stop()
