"""Async WAL shipping between two real nodes on loopback: catch-up from the primary's segments, tail streaming,
byte-exact convergence, and what a standby answers."""

from __future__ import annotations

import os
import urllib.request

from tests.ha.support import Writers, caught_up, contents, digests, ha_state, s3_error, wait_caught_up, wait_for

MIB = 1 << 20


def _fill(s3, bucket: str, n: int, rng_seed: int) -> None:
    rnd = os.urandom
    for i in range(n):
        s3.put_object(Bucket=bucket, Key=f"small/{rng_seed}/{i}", Body=rnd(100 + i * 37), Metadata={"i": str(i)})


def _multipart(s3, bucket: str, key: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)
    parts = []
    for n, size in ((1, 5 * MIB), (2, 5 * MIB), (3, 123_457)):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=os.urandom(size))
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})


def test_empty_standby_catches_up_while_primary_serves_and_converges_byte_exact(cluster):
    p = cluster.primary()
    s3 = p.client()
    s3.create_bucket(Bucket="plain")
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    _fill(s3, "plain", 40, 1)
    s3.put_object(Bucket="plain", Key="big", Body=os.urandom(3 * MIB + 17))
    _multipart(s3, "versioned", "mpu")
    for i in range(3):
        s3.put_object(Bucket="versioned", Key="v", Body=os.urandom(1000 + i), Tagging=f"round={i}")
    s3.delete_object(Bucket="versioned", Key="v")
    s3.delete_object(Bucket="plain", Key="small/1/0")
    open_upload = s3.create_multipart_upload(Bucket="plain", Key="unfinished")
    s3.upload_part(Bucket="plain", Key="unfinished", UploadId=open_upload["UploadId"], PartNumber=1,
                   Body=os.urandom(MIB))

    # writes keep coming while the empty standby copies the segments and then follows the tail
    with Writers(s3, "plain", 5, threads=2, sizes=(4096, 9000)):
        s = cluster.standby(p, "--standby-reads")
        wait_for(lambda: all(sh.get("standby_connected") for sh in ha_state(s)["shards"]), 20, "streaming")
    wait_caught_up(p, s)
    assert digests(s) == digests(p)
    assert contents(s.client()) == contents(p.client())
    # the standby's copy of the multipart object is complete and byte-exact, part by part too
    for c in (p.client(), s.client()):
        assert c.head_object(Bucket="versioned", Key="mpu", PartNumber=2)["ContentLength"] == 5 * MIB
    assert (s.client().get_object(Bucket="versioned", Key="mpu", Range="bytes=5242870-5242889")["Body"].read()
            == p.client().get_object(Bucket="versioned", Key="mpu", Range="bytes=5242870-5242889")["Body"].read())


def test_standby_refuses_writes_naming_the_primary_and_reads_unless_allowed(cluster):
    p = cluster.primary()
    p.client().create_bucket(Bucket="data")
    p.client().put_object(Bucket="data", Key="k", Body=b"hello")
    s = cluster.standby(p)
    wait_caught_up(p, s)
    c = s.client()
    for call in (lambda: c.put_object(Bucket="data", Key="k2", Body=b"x"),
                 lambda: c.delete_object(Bucket="data", Key="k"),
                 lambda: c.create_bucket(Bucket="other"),
                 lambda: c.get_object(Bucket="data", Key="k"),
                 lambda: c.list_buckets()):
        err = s3_error(call)
        assert err.response["Error"]["Code"] == "ServiceUnavailable"
        assert f"primary at 127.0.0.1:{p.port}" in err.response["Error"]["Message"]
        assert err.response["Error"]["Primary"] == f"127.0.0.1:{p.port}"
    assert ha_state(s)["role"] == "standby"
    with urllib.request.urlopen(s.endpoint + "/_cairn/health") as r:
        assert r.read().decode() == f"ok\nrole: standby of 127.0.0.1:{p.port} (epoch 1)\n"
    s.stop()
    s.extra.append("--standby-reads")
    s.start()
    wait_caught_up(p, s)
    assert s.client().get_object(Bucket="data", Key="k")["Body"].read() == b"hello"
    assert [b["Name"] for b in s.client().list_buckets()["Buckets"]] == ["data"]
    err = s3_error(lambda: s.client().put_object(Bucket="data", Key="k3", Body=b"x"))
    assert err.response["Error"]["Code"] == "ServiceUnavailable"
    # nothing the standby refused reached its log: it still mirrors the primary exactly
    assert digests(s) == digests(p)


def test_standby_killed_mid_stream_resumes_and_converges(cluster):
    p = cluster.primary()
    s3 = p.client()
    s3.create_bucket(Bucket="data")
    s = cluster.standby(p, "--standby-reads")
    with Writers(s3, "data", 3, threads=2, sizes=(20_000, 200_000)):
        wait_for(lambda: sum(sh["applied_lsn"] for sh in ha_state(s)["shards"]) > 50, 20, "some records shipped")
        s.kill9()  # a network cut and a standby crash at once: the stream stops mid-flight
        wait_for(lambda: not any(sh.get("standby_connected") for sh in ha_state(p)["shards"]), 10, "disconnect")
        lag = wait_for(lambda: sum(sh["lag_records"] for sh in ha_state(p)["shards"]) > 20 and
                       sum(sh["lag_records"] for sh in ha_state(p)["shards"]), 20, "lag while the standby is down")
        assert lag > 20
        s.start()
    wait_caught_up(p, s)
    assert caught_up(p, s) and digests(s) == digests(p)
    assert contents(s.client()) == contents(p.client())
