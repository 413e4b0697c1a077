"""Epoch fencing: an old primary that comes back after a failover refuses writes, steps down, drops what it had
acknowledged but never shipped (async), and follows the new primary until both serve the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.ha.support import ROOT, admin, caught_up, contents, digests, ha_state, s3_error, wait_caught_up, wait_for


def test_returning_old_primary_is_fenced_truncates_its_unshipped_tail_and_follows(cluster):
    a = cluster.primary(name="a")
    b = cluster.standby(a, name="b")
    s3a = a.client()
    s3a.create_bucket(Bucket="data")
    for i in range(10):
        s3a.put_object(Bucket="data", Key=f"shipped/{i}", Body=os.urandom(5000))
    wait_caught_up(a, b)
    # the standby goes away; the primary acknowledges writes it cannot ship (async), then dies too
    b.kill9()
    lost = {f"unshipped/{i}": os.urandom(3000) for i in range(12)}
    for key, body in lost.items():
        s3a.put_object(Bucket="data", Key=key, Body=body)
    a.kill9()
    # the standby comes back alone and is promoted: epoch 2
    b.start()
    assert admin(b, "/_cairn/promote", {})["epoch"] == 2
    s3b = b.client()
    s3b.put_object(Bucket="data", Key="epoch2", Body=b"written on the new primary")

    # the old primary restarts, still believing it leads epoch 1: it must not take a single write
    a.start()
    err = s3_error(lambda: a.client().put_object(Bucket="data", Key="split", Body=b"brain"))
    assert err.response["Error"]["Code"] == "ServiceUnavailable"
    # it learns of epoch 2 from its peer, steps down, truncates, and follows
    wait_for(lambda: ha_state(a)["role"] == "standby" and caught_up(b, a), 30, "the old primary to follow")
    state = ha_state(a)
    assert state["epoch"] == 2 and state["primary"] == f"127.0.0.1:{b.port}"
    assert sum(sh["truncated"] for sh in state["shards"]) == len(lost)
    assert digests(a) == digests(b)
    err = s3_error(lambda: a.client().put_object(Bucket="data", Key="split", Body=b"brain"))
    assert f"primary at 127.0.0.1:{b.port}" in err.response["Error"]["Message"]
    seen = s3b.list_objects_v2(Bucket="data")["Contents"]
    assert not any(o["Key"].startswith("unshipped/") for o in seen)
    assert {o["Key"] for o in seen} >= {"epoch2", *(f"shipped/{i}" for i in range(10))}

    # and it can lead again: switch back with cairn promote; the other node steps down on request
    out = subprocess.run([sys.executable, "-m", "router.cli", "promote", "--target", f"127.0.0.1:{a.port}",
                          "--secret-key", a.secret_key], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is now primary (epoch 3)" in out.stdout
    wait_for(lambda: ha_state(b)["role"] == "standby" and caught_up(a, b), 30, "the switch back")
    a.client().put_object(Bucket="data", Key="epoch3", Body=b"back")
    wait_caught_up(a, b)
    b.stop()
    b.extra.append("--standby-reads")
    b.start()
    wait_caught_up(a, b)
    assert contents(b.client()) == contents(a.client())
    status = subprocess.run([sys.executable, "-m", "router.cli", "status", "--target", f"127.0.0.1:{a.port}",
                             "--target", f"127.0.0.1:{b.port}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=30)
    assert status.returncode == 0
    assert f"127.0.0.1:{a.port}: primary epoch 3" in status.stdout
    assert f"127.0.0.1:{b.port}: standby epoch 3 following 127.0.0.1:{a.port}" in status.stdout
