"""Sync replication: nothing acknowledged is lost when the primary dies; without its standby the primary goes on
after the timeout and says so. Async replication: what a kill loses is bounded by the reported lag."""

from __future__ import annotations

import random
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.ha.support import Writers, admin, ha_state, wait_caught_up, wait_for


def _metric(server, name: str) -> float:
    with urllib.request.urlopen(server.endpoint + "/_cairn/metrics") as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def _health(server) -> str:
    with urllib.request.urlopen(server.endpoint + "/_cairn/health") as r:
        return r.read().decode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sync_kill9_primary_then_promote_loses_no_acknowledged_write(cluster, seed):
    p = cluster.primary("--replication", "sync", "--sync-timeout-ms", "10000")
    s = cluster.standby(p)
    p.client().create_bucket(Bucket="data")
    wait_for(lambda: not any(sh["sync_degraded"] for sh in ha_state(p)["shards"]), 20, "sync replication")
    with Writers(p.client(), "data", seed) as w:
        time.sleep(random.Random(seed).uniform(0.3, 1.5))
        p.kill9()
    assert len(w.acked) > 5
    wait_for(lambda: "not streaming from the primary" in _health(s), 10, "the standby to report the lost stream")
    answer = admin(s, "/_cairn/promote", {})
    assert answer["role"] == "primary" and answer["epoch"] == 2
    c = s.client()
    for key, body in w.acked.items():
        assert c.get_object(Bucket="data", Key=key)["Body"].read() == body, key
    c.put_object(Bucket="data", Key="after-failover", Body=b"new primary takes writes")
    assert c.get_object(Bucket="data", Key="after-failover")["Body"].read() == b"new primary takes writes"


def test_sync_primary_goes_on_without_its_standby_after_the_timeout_and_says_so(cluster):
    p = cluster.primary("--replication", "sync", "--sync-timeout-ms", "700")
    s = cluster.standby(p)
    s3 = p.client()
    s3.create_bucket(Bucket="data")
    wait_for(lambda: not any(sh["sync_degraded"] for sh in ha_state(p)["shards"]), 20, "sync replication")
    assert _health(p) == "ok\n"
    t0 = time.monotonic()
    s3.put_object(Bucket="data", Key="fast", Body=b"x")
    assert time.monotonic() - t0 < 0.5
    s.kill9()
    t0 = time.monotonic()
    s3.put_object(Bucket="data", Key="waits", Body=b"y")
    waited = time.monotonic() - t0
    assert 0.6 < waited < 5, waited
    shard = [sh for sh in ha_state(p)["shards"] if sh["sync_degraded"]]
    assert shard and "did not acknowledge" in shard[0]["degraded_reason"]
    assert "sync replication degraded" in _health(p)
    wait_for(lambda: _metric(p, "cairn_replication_sync_degraded") >= 1, 5, "the degraded gauge")
    assert _metric(p, "cairn_replication_sync_timeouts_total") >= 1
    # degraded: writes no longer wait for the missing standby
    t0 = time.monotonic()
    for i in range(5):
        s3.put_object(Bucket="data", Key=f"alone{i}", Body=b"z")
    assert time.monotonic() - t0 < 2
    # the standby returns, catches up, and sync replication resumes
    s.start()
    wait_caught_up(p, s)
    s3.put_object(Bucket="data", Key="after", Body=b"w")
    wait_for(lambda: not any(sh["sync_degraded"] for sh in ha_state(p)["shards"]), 20, "sync resumed")
    assert _health(p) == "ok\n"


def test_async_kill9_loses_at_most_the_reported_lag(cluster):
    p = cluster.primary()
    s = cluster.standby(p)
    p.client().create_bucket(Bucket="data")
    wait_caught_up(p, s)
    with Writers(p.client(), "data", 7) as w:
        time.sleep(0.8)
        lag = sum(sh["lag_records"] for sh in ha_state(p)["shards"])
        read_at = time.monotonic()
        p.kill9()
    acked_after_reading = sum(1 for t in w.ack_times if t > read_at)
    admin(s, "/_cairn/promote", {})
    c = s.client()
    lost = 0
    for key, body in w.acked.items():
        try:
            assert c.get_object(Bucket="data", Key=key)["Body"].read() == body
        except ClientError:
            lost += 1
    assert lost <= lag + acked_after_reading, (lost, lag, acked_after_reading)


def test_promotion_needs_the_admin_token_and_leaves_a_writable_primary_alone(cluster):
    p = cluster.primary()
    s = cluster.standby(p)
    req = urllib.request.Request(s.endpoint + "/_cairn/promote", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 403
    assert ha_state(s)["role"] == "standby"
    # promoting the node that already leads changes nothing (a new epoch would only confuse its standby)
    assert admin(p, "/_cairn/promote", {})["epoch"] == 1
    assert ha_state(s)["role"] == "standby"
