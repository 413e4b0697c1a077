"""A shard killed under load: the other shard goes on serving, requests for the dead one fail at once with 503
ServiceUnavailable (S3 XML with a request id, never a hang), the supervisor restarts it, clients' retries succeed,
and every acknowledged write reads back byte-exact."""

import os
import signal
import threading
import xml.etree.ElementTree as ET

import boto3
from botocore.config import Config

from router.ring import Ring
from tests.support.load import RawClient, Writers, lost_objects
from tests.support.server import CairnServer

BUCKET = "faults"


def on_shard(number: int):
    ring = Ring([0, 1])  # the ring cairn builds for --shards 2
    return lambda key: ring.shard_for(BUCKET, key) == number


def test_a_shard_killed_under_load_fails_fast_with_503_is_restarted_and_loses_nothing(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2).start()
    retried_503 = threading.Event()

    def on_retry(response=None, **_):
        if response is not None and response[1]["ResponseMetadata"]["HTTPStatusCode"] == 503:
            retried_503.set()

    def boto():
        c = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=srv.access_key,
                         aws_secret_access_key=srv.secret_key, region_name="us-east-1",
                         config=Config(retries={"max_attempts": 10, "mode": "standard"}))
        c.meta.events.register("needs-retry.s3", on_retry)
        return c

    try:
        s3 = srv.client()
        s3.create_bucket(Bucket=BUCKET)
        victim = srv.pids()["cairn: shard 0"]
        with Writers(srv, BUCKET, threads=1, prefix="raw0", key_filter=on_shard(0)) as raw_dead, \
                Writers(srv, BUCKET, threads=1, prefix="raw1", key_filter=on_shard(1)) as raw_alive, \
                Writers(srv, BUCKET, threads=2, prefix="boto", boto=boto) as retrying:
            for w in (raw_dead, raw_alive, retrying):
                w.wait_for_acks(10)
            # Hold the supervisor so the dead shard stays dead while we look, then kill -9 the shard.
            os.kill(srv.proc.pid, signal.SIGSTOP)
            try:
                os.kill(victim, signal.SIGKILL)
                probe = RawClient(srv, timeout=10)  # a hang would raise here, not wait
                key0 = next(k for k in (f"probe-{i}" for i in range(1000)) if on_shard(0)(k))
                key1 = next(k for k in (f"probe-{i}" for i in range(1000)) if on_shard(1)(k))
                answers = [probe.request("PUT", f"/{BUCKET}/{key0}", b"x"), probe.request("GET", f"/{BUCKET}/{key0}")]
                while answers[-1][0] != 503:  # the router notices the lost connection within a loop turn
                    answers.append(probe.request("PUT", f"/{BUCKET}/{key0}", b"x"))
                status, headers, body = answers[-1]
                error = ET.fromstring(body)
                assert error.findtext("Code") == "ServiceUnavailable"
                assert error.findtext("RequestId") == headers["x-amz-request-id"] != ""
                assert "Shard 0 is unavailable" in error.findtext("Message")
                assert probe.request("GET", f"/{BUCKET}/{key0}")[0] == 503
                assert probe.request("HEAD", f"/{BUCKET}/{key0}")[0] == 503
                assert probe.request("PUT", f"/{BUCKET}/{key1}", b"other shard")[0] == 200
                assert probe.request("GET", f"/{BUCKET}/{key1}")[2] == b"other shard"
                retried_503.wait()  # a boto3 writer has met the dead shard and is retrying
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            srv.wait_ready()
            assert srv.pids()["cairn: shard 0"] != victim, "the supervisor restarted shard 0"
            acked_before = {w: len(w.tally.acked) for w in (raw_dead, raw_alive, retrying)}
            for w in (raw_dead, raw_alive, retrying):
                w.wait_for_acks(acked_before[w] + 10)  # everyone writes again after the restart

        assert raw_alive.tally.failures() == [], "the live shard served every request throughout"
        dead_codes = raw_dead.tally.codes()
        assert set(dead_codes) <= {(503, "ServiceUnavailable")}, dead_codes
        assert retrying.tally.failures() == [], "boto3's retries carried every call through the restart"
        assert any(o.retries for o in retrying.tally.outcomes)
        for w in (raw_dead, raw_alive, retrying):
            assert w.tally.mismatches == []
            assert lost_objects(s3, BUCKET, w.tally.acked) == []
    finally:
        srv.stop()
