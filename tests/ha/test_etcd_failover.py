"""Automatic failover through a lease in a real etcd (Debian's etcd-server) on loopback: kill -9 the primary,
the standby takes the lease and serves writes with every acknowledged write; the old primary comes back fenced
and follows."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from router.lease import Etcd, absent
from tests.ha.support import (Writers, caught_up, digests, ha_state, s3_error, start_etcd, wait_caught_up,
                              wait_for)

TTL = "2"


@pytest.fixture
def etcd(tmp_path):
    proc, url = start_etcd(tmp_path / "etcd")
    yield url
    proc.kill()
    proc.wait()


def test_etcd_client_lease_and_transactions(etcd):
    client = Etcd([etcd])
    lease = client.grant(2)
    assert client.keepalive(lease) >= 1
    assert client.txn([absent("/t/k")], [("/t/k", "v1", lease)])
    assert not client.txn([absent("/t/k")], [("/t/k", "v2", None)])
    assert client.get("/t/k")[0] == b"v1"
    client.revoke(lease)
    assert client.get("/t/k") == (None, 0)
    assert client.keepalive(lease) == 0


def _write_until_it_works(s3, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            s3.put_object(Bucket="data", Key="first-on-new-primary", Body=b"ok")
            return time.monotonic()
        except (ClientError, BotoCoreError):
            time.sleep(0.05)
    raise AssertionError("the standby never took writes")


def test_lease_expiry_fails_over_to_the_standby_and_fences_the_old_primary(cluster, etcd):
    ha = ["--etcd", etcd, "--lease-ttl", TTL, "--replication", "sync", "--sync-timeout-ms", "10000"]
    a = cluster.primary(*ha, name="a")
    wait_for(lambda: ha_state(a)["writable"], 20, "the primary to take the lease")
    b = cluster.standby(a, *ha, name="b")
    a.client().create_bucket(Bucket="data")
    wait_for(lambda: not any(sh["sync_degraded"] for sh in ha_state(a)["shards"]), 20, "sync replication")
    with Writers(a.client(), "data", 11) as w:
        time.sleep(1.0)
        a.kill9()
        killed = time.monotonic()
    took = _write_until_it_works(b.client(), killed + 30) - killed
    state = ha_state(b)
    assert state["role"] == "primary" and state["epoch"] == 2
    assert took < 10, took
    c = b.client()
    for key, body in w.acked.items():
        assert c.get_object(Bucket="data", Key=key)["Body"].read() == body, key
    print(f"failover: kill -9 -> first write on the new primary {took:.2f}s (lease ttl {TTL}s)")

    a.start()  # the old primary returns, fenced until it learns from etcd that it lost
    err = s3_error(lambda: a.client().put_object(Bucket="data", Key="split", Body=b"brain"))
    assert err.response["Error"]["Code"] == "ServiceUnavailable"
    wait_for(lambda: ha_state(a)["role"] == "standby" and caught_up(b, a), 30, "the old primary to follow")
    assert digests(a) == digests(b)
    b.client().put_object(Bucket="data", Key="later", Body=b"z")
    wait_caught_up(b, a)
