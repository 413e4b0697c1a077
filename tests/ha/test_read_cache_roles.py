"""What router workers keep of small objects (router/read_cache.py) never outlives the role it was read under: a
primary that steps down refuses reads of objects its workers had kept, and a standby serving reads sees every
shipped change at once."""

from __future__ import annotations

import subprocess
import sys

from tests.ha.support import ROOT, ha_state, s3_error, wait_caught_up, wait_for


def read_many(s3, key: str, times: int = 8) -> set[bytes]:
    """Enough reads on fresh connections that every router worker has answered (and kept) the object."""
    return {s3.get_object(Bucket="data", Key=key)["Body"].read() for _ in range(times)}


def test_a_primary_that_steps_down_refuses_reads_of_objects_its_workers_kept(cluster):
    a = cluster.primary(name="a")
    b = cluster.standby(a, name="b")
    s3a = a.client()
    s3a.create_bucket(Bucket="data")
    s3a.put_object(Bucket="data", Key="hot", Body=b"kept by the routers")
    assert read_many(s3a, "hot") == {b"kept by the routers"}
    wait_caught_up(a, b)
    out = subprocess.run([sys.executable, "-m", "router.cli", "promote", "--target", f"127.0.0.1:{b.port}",
                          "--secret-key", b.secret_key], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_for(lambda: ha_state(a)["role"] == "standby", 30, "the old primary to step down")
    for _ in range(8):
        err = s3_error(lambda: a.client().get_object(Bucket="data", Key="hot"))
        assert err.response["Error"]["Code"] == "ServiceUnavailable"
        assert f"primary at 127.0.0.1:{b.port}" in err.response["Error"]["Message"]


def test_a_standby_serving_reads_answers_each_shipped_overwrite_not_what_it_kept(cluster):
    a = cluster.primary(name="a")
    b = cluster.standby(a, "--standby-reads", name="b")
    s3a, s3b = a.client(), b.client()
    s3a.create_bucket(Bucket="data")
    for n in range(5):
        body = f"version {n}".encode()
        s3a.put_object(Bucket="data", Key="hot", Body=body)
        wait_caught_up(a, b)
        assert read_many(s3b, "hot") == {body}
    s3a.delete_object(Bucket="data", Key="hot")
    wait_caught_up(a, b)
    for _ in range(8):
        err = s3_error(lambda: s3b.get_object(Bucket="data", Key="hot"))
        assert err.response["Error"]["Code"] == "NoSuchKey"
