"""Conditional requests: writes with If-None-Match: * and If-Match (decided when the write commits, so of two
racing creators exactly one wins), and the GET/HEAD precedence rules AWS documents."""

import threading
import time
from email.utils import formatdate

import pytest
from botocore.exceptions import ClientError

from tests.support import raw
from tests.support.server import CairnServer


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def status(e) -> int:
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


PAST = formatdate(time.time() - 86400, usegmt=True)
FUTURE = formatdate(time.time() + 86400, usegmt=True)


# --- conditional writes ----------------------------------------------------------------------------------------

def test_put_with_if_none_match_star_creates_a_missing_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_put_with_if_none_match_star_rejects_existing_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert code(e) == "PreconditionFailed" and status(e) == 412
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_put_with_if_none_match_star_rejects_large_body_for_existing_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x" * (3 << 20), IfNoneMatch="*")
    assert code(e) == "PreconditionFailed"


def test_put_with_if_none_match_star_succeeds_over_a_delete_marker(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"again", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"again"


def test_put_with_if_none_match_etag_is_not_implemented(server, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/k", body=b"x", headers={"If-None-Match": '"abc"'})
    assert r.status == 501 and b"<Code>NotImplemented</Code>" in r.body


def test_put_with_matching_if_match_overwrites(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_put_with_stale_if_match_is_412(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag)
    assert code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_put_with_if_match_on_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v", IfMatch='"d41d8cd98f00b204e9800998ecf8427e"')
    assert code(e) == "NoSuchKey" and status(e) == 404


def test_concurrent_if_none_match_creators_exactly_one_wins(server, bucket):
    for round_ in range(5):
        key = f"race-{round_}"
        n = 8
        barrier = threading.Barrier(n)
        results = [None] * n
        clients = [server.client() for _ in range(n)]

        def attempt(i):
            barrier.wait()
            try:
                clients[i].put_object(Bucket=bucket, Key=key, Body=f"writer-{i}".encode() * 1000, IfNoneMatch="*")
                results[i] = "ok"
            except ClientError as e:
                results[i] = e.response["Error"]["Code"]

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count("ok") == 1, results
        assert set(results) == {"ok", "PreconditionFailed"}
        winner = results.index("ok")
        body = clients[0].get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body == f"writer-{winner}".encode() * 1000


def test_conditional_write_outcome_survives_restart(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2).start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="cond-restart")
        s3.put_object(Bucket="cond-restart", Key="k", Body=b"first", IfNoneMatch="*")
        with pytest.raises(ClientError):
            s3.put_object(Bucket="cond-restart", Key="k", Body=b"second", IfNoneMatch="*")
        srv.stop()
        srv.start()
        assert srv.client().get_object(Bucket="cond-restart", Key="k")["Body"].read() == b"first"
    finally:
        srv.stop()


# --- GET / HEAD precedence -------------------------------------------------------------------------------------

@pytest.fixture
def obj(s3, bucket):
    return s3.put_object(Bucket=bucket, Key="k", Body=b"body")["ETag"]


def test_get_if_match_true_and_unmodified_since_false_returns_200(s3, bucket, obj):
    r = s3.get_object(Bucket=bucket, Key="k", IfMatch=obj, IfUnmodifiedSince=PAST)
    assert r["Body"].read() == b"body"


def test_get_if_none_match_false_and_modified_since_true_returns_304(s3, bucket, obj):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=obj, IfModifiedSince=PAST)
    assert status(e) == 304


def test_get_if_match_false_is_412(s3, bucket, obj):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"other"')
    assert status(e) == 412


def test_get_if_match_star_matches_any_object(s3, bucket, obj):
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch="*")["Body"].read() == b"body"


def test_get_if_unmodified_since_past_is_412(s3, bucket, obj):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=PAST)
    assert status(e) == 412


def test_get_if_modified_since_future_is_304(s3, bucket, obj):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=FUTURE)
    assert status(e) == 304


def test_get_if_none_match_other_etag_returns_200(s3, bucket, obj):
    assert s3.get_object(Bucket=bucket, Key="k", IfNoneMatch='"other"')["Body"].read() == b"body"


def test_head_if_none_match_matching_is_304_with_etag(server, bucket, obj):
    r = raw.signed(server, "HEAD", f"/{bucket}/k", headers={"If-None-Match": obj})
    assert r.status == 304 and r.headers["etag"] == obj


def test_get_if_match_false_beats_if_none_match(s3, bucket, obj):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"other"', IfNoneMatch=obj)
    assert status(e) == 412


def test_get_if_modified_since_with_unparseable_date_is_ignored(server, bucket, obj):
    r = raw.signed(server, "GET", f"/{bucket}/k", headers={"If-Modified-Since": "not a date"})
    assert r.status == 200 and r.body == b"body"


def test_get_conditions_apply_to_the_named_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    r = s3.get_object(Bucket=bucket, Key="k", VersionId=old["VersionId"], IfMatch=old["ETag"])
    assert r["Body"].read() == b"old"
