"""DeleteObjects (POST /bucket?delete): fan-out by owning shard, quiet mode, 1,000-key limit, required body
digest, per-key errors and versions, delete markers in the results."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def delete(s3, bucket, keys, quiet=False):
    objs = [k if isinstance(k, dict) else {"Key": k} for k in keys]
    return s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": quiet})


def listed(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_deletes_keys_on_every_shard(s3, bucket):
    keys = [f"k{i:03d}" for i in range(40)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = delete(s3, bucket, keys[:30])
    assert sorted(d["Key"] for d in r["Deleted"]) == keys[:30]
    assert "Errors" not in r
    assert listed(s3, bucket) == keys[30:]


def test_results_follow_request_order(s3, bucket):
    keys = ["zeta", "alpha", "mid", "beta"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = delete(s3, bucket, keys)
    assert [d["Key"] for d in r["Deleted"]] == keys


def test_missing_keys_are_reported_deleted(s3, bucket):
    r = delete(s3, bucket, ["never-existed"])
    assert [d["Key"] for d in r["Deleted"]] == ["never-existed"]


def test_quiet_mode_reports_only_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    r = delete(s3, bucket, ["a", {"Key": "b", "VersionId": "malformed"}], quiet=True)
    assert "Deleted" not in r
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("b", "NoSuchVersion")]
    assert listed(s3, bucket) == []


def test_quiet_mode_with_all_successes_has_an_empty_result(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    r = delete(s3, bucket, ["a"], quiet=True)
    assert "Deleted" not in r and "Errors" not in r


def test_one_thousand_keys_are_accepted(s3, bucket):
    keys = [f"bulk/{i:04d}" for i in range(1000)]
    r = delete(s3, bucket, keys)
    assert len(r["Deleted"]) == 1000


def test_more_than_one_thousand_keys_is_malformed_xml(s3, bucket):
    with pytest.raises(ClientError) as e:
        delete(s3, bucket, [f"k{i}" for i in range(1001)])
    assert code(e) == "MalformedXML"


def _doc(keys, quiet=False) -> bytes:
    objs = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete><Quiet>{'true' if quiet else 'false'}</Quiet>{objs}</Delete>".encode()


def test_missing_content_md5_and_checksum_is_invalid_request(server, bucket):
    r = raw.signed(server, "POST", f"/{bucket}?delete", body=_doc(["a"]))
    assert r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body
    assert b"Content-MD5" in r.body


def test_content_md5_is_accepted_and_checked(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    body = _doc(["a"])
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = raw.signed(server, "POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": good})
    assert r.status == 200 and b"<Deleted><Key>a</Key>" in r.body
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = raw.signed(server, "POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": bad})
    assert r.status == 400 and b"<Code>BadDigest</Code>" in r.body


def test_wrong_checksum_header_is_bad_digest(server, bucket):
    r = raw.signed(server, "POST", f"/{bucket}?delete", body=_doc(["a"]),
                   headers={"x-amz-checksum-crc32": "AAAAAA=="})
    assert r.status == 400 and b"<Code>BadDigest</Code>" in r.body


def test_empty_or_malformed_document_is_malformed_xml(server, bucket):
    for body in (b"<Delete></Delete>", b"<Delete><Object></Object></Delete>", b"not xml"):
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        r = raw.signed(server, "POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})
        assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, body


def test_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        delete(s3, "no-such-bucket-for-delete", ["a"])
    assert code(e) == "NoSuchBucket"


def test_key_too_long_is_a_per_key_error(s3, bucket):
    r = delete(s3, bucket, ["ok", "x" * 1100])
    assert [d["Key"] for d in r["Deleted"]] == ["ok"]
    assert [e["Code"] for e in r["Errors"]] == ["KeyTooLongError"]


# --- versioned buckets -----------------------------------------------------------------------------------------

@pytest.fixture
def vbucket(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_versioned_delete_creates_markers_and_reports_them(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="a", Body=b"x")
    r = delete(s3, vbucket, ["a"])
    (d,) = r["Deleted"]
    assert d["DeleteMarker"] is True and d["DeleteMarkerVersionId"]
    markers = s3.list_object_versions(Bucket=vbucket)["DeleteMarkers"]
    assert markers[0]["VersionId"] == d["DeleteMarkerVersionId"]


def test_delete_with_version_id_removes_that_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="a", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="a", Body=b"2")["VersionId"]
    r = delete(s3, vbucket, [{"Key": "a", "VersionId": v1}])
    assert r["Deleted"] == [{"Key": "a", "VersionId": v1}]
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=vbucket)["Versions"]] == [v2]


def test_deleting_a_marker_by_version_reports_it_and_undeletes(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="a", Body=b"1")
    dm = s3.delete_object(Bucket=vbucket, Key="a")["VersionId"]
    r = delete(s3, vbucket, [{"Key": "a", "VersionId": dm}])
    (d,) = r["Deleted"]
    assert d["VersionId"] == dm and d["DeleteMarker"] is True and d["DeleteMarkerVersionId"] == dm
    assert s3.get_object(Bucket=vbucket, Key="a")["Body"].read() == b"1"


def test_purging_every_version_of_many_keys(s3, vbucket):
    for i in range(10):
        for _ in range(2):
            s3.put_object(Bucket=vbucket, Key=f"k{i}", Body=b"x")
    versions = s3.list_object_versions(Bucket=vbucket)["Versions"]
    r = delete(s3, vbucket, [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions])
    assert len(r["Deleted"]) == 20
    after = s3.list_object_versions(Bucket=vbucket)
    assert "Versions" not in after and "DeleteMarkers" not in after
    s3.delete_bucket(Bucket=vbucket)
