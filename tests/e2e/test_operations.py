"""Running the server: admin endpoints, process structure, shard crash and restart, config guards."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.support.server import ROOT, CairnServer


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_health_ready_and_metrics_endpoints(server, s3, bucket):
    assert get(server.endpoint + "/_cairn/health") == (200, "ok\n")
    assert get(server.endpoint + "/_cairn/ready")[0] == 200
    s3.put_object(Bucket=bucket, Key="m", Body=b"12345")
    s3.get_object(Bucket=bucket, Key="m")["Body"].read()
    # each router worker writes its counts at most once a second (router/metrics.py); the scrape may reach
    # another worker than the one that served the requests
    deadline = time.monotonic() + 5
    while True:
        status, text = get(server.endpoint + "/_cairn/metrics")
        assert status == 200
        if 'cairn_requests_total{op="PutObject",status="200"}' in text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 'cairn_requests_total{op="PutObject",status="200"}' in text
    assert "cairn_request_seconds_bucket" in text
    assert "cairn_bytes_in_total" in text and "cairn_bytes_out_total" in text
    assert "cairn_wal_fsyncs_total" in text


def test_process_titles_show_router_and_each_shard(server):
    titles = set(server.pids())
    assert {"cairn: supervisor", "cairn: router 0", "cairn: shard 0", "cairn: shard 1"} <= titles


def test_killed_shard_is_restarted_recovers_and_serves_while_requests_to_it_fail_fast(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2, preset="durable").start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="restart")
        for i in range(40):
            s3.put_object(Bucket="restart", Key=f"k{i}", Body=f"v{i}".encode())
        os.kill(srv.pids()["cairn: shard 1"], signal.SIGKILL)
        outcomes = set()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 15:
            began = time.monotonic()
            try:
                for i in range(40):
                    assert s3.get_object(Bucket="restart", Key=f"k{i}")["Body"].read() == f"v{i}".encode()
                outcomes.add("ok")
                break
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503, e.response
                assert e.response["Error"]["Code"] in ("ServiceUnavailable", "SlowDown")
                outcomes.add("503")
            assert time.monotonic() - began < 5, "a request to a down shard must fail fast, not hang"
        assert "ok" in outcomes
        srv.wait_ready(10)
    finally:
        srv.stop()


def test_default_credentials_on_a_public_address_are_refused(tmp_path):
    r = subprocess.run([sys.executable, "-m", "router.cli", "serve", "--host", "0.0.0.0", "--port", "0",
                        "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")})
    assert r.returncode != 0
    assert "default credentials" in r.stderr


def test_settings_come_from_env_and_config_file(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('[cairn]\nshards = 3\naccess_key = "from-file"\nsecret_key = "file-secret"\n')
    env = {**os.environ, "CAIRN_ACCESS_KEY": "from-env"}
    # started by hand: the test harness passes flags, which would beat both env and file
    p = subprocess.Popen([sys.executable, "-m", "router.cli", "serve", "--port", "0", "--data-dir",
                          str(tmp_path / "d"), "--config", str(conf)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = p.stdout.readline() + p.stdout.readline()
        assert "shards=3" in line
        assert "access key from-env" in line
        assert "file-secret" not in line  # a configured secret is never printed
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def test_serve_on_a_port_already_in_use_says_so_in_one_line_and_exits_1(tmp_path):
    import socket
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        run = subprocess.run([sys.executable, "-m", "router.cli", "serve", "--port", str(port), "--data-dir",
                              str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": ROOT})
    finally:
        taken.close()
    assert run.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
