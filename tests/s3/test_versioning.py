"""Object versioning as AWS documents it: versions on overwrite, delete markers, DELETE/GET/HEAD with versionId,
Suspended semantics, ListObjectVersions with markers, and all of it surviving a restart."""

import pytest
from botocore.exceptions import ClientError

from tests.support import raw
from tests.support.server import CairnServer


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def status(e) -> int:
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def headers(e) -> dict:
    return e.value.response["ResponseMetadata"]["HTTPHeaders"]


def enable(s3, bucket, state="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": state})


@pytest.fixture
def vbucket(s3, bucket):
    enable(s3, bucket)
    return bucket


def versions_of(s3, bucket, **kw):
    r = s3.list_object_versions(Bucket=bucket, **kw)
    return r.get("Versions", []), r.get("DeleteMarkers", []), r


# --- PUT creates versions --------------------------------------------------------------------------------------

def test_put_in_versioned_bucket_returns_a_version_id(s3, vbucket):
    r = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")
    assert r["VersionId"] and r["VersionId"] != "null"


def test_each_overwrite_creates_a_new_version_with_a_unique_id(s3, vbucket):
    ids = [s3.put_object(Bucket=vbucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(5)]
    assert len(set(ids)) == 5
    versions, _, _ = versions_of(s3, vbucket)
    assert [v["VersionId"] for v in versions] == ids[::-1]


def test_version_ids_are_url_safe(s3, vbucket):
    vid = s3.put_object(Bucket=vbucket, Key="k", Body=b"x")["VersionId"]
    assert all(c.isalnum() or c in "-_" for c in vid)


def test_get_without_version_returns_the_latest(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"old")
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"new")["VersionId"]
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"new" and got["VersionId"] == v2


def test_get_with_version_id_returns_that_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="k", Body=b"new")
    got = s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert got["Body"].read() == b"old" and got["VersionId"] == v1


def test_head_with_version_id_reports_that_versions_size_and_etag(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"12345")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"1")
    h = s3.head_object(Bucket=vbucket, Key="k", VersionId=v1["VersionId"])
    assert h["ContentLength"] == 5 and h["ETag"] == v1["ETag"]


def test_get_with_unknown_but_well_formed_version_id_is_no_such_version(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="A" * 32)
    assert code(e) == "NoSuchVersion" and status(e) == 404


@pytest.mark.parametrize("vid", ["abc", "not a version", "x" * 31, "%%%"])
def test_get_with_malformed_version_id_is_invalid_argument(s3, vbucket, vid):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=vid)
    assert code(e) == "InvalidArgument" and status(e) == 400
    assert e.value.response["Error"]["Message"] == "Invalid version id specified"


def test_object_written_before_versioning_is_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"after")
    versions, _, _ = versions_of(s3, bucket)
    assert [v["VersionId"] == "null" for v in versions] == [False, True]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"before"


def test_unversioned_bucket_get_reports_no_version_header(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "GET", f"/{bucket}/k")
    assert r.status == 200 and "x-amz-version-id" not in r.headers


def test_unversioned_bucket_get_with_null_version_id_works(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"


# --- DELETE and delete markers ---------------------------------------------------------------------------------

def test_delete_in_versioned_bucket_adds_a_delete_marker(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    r = s3.delete_object(Bucket=vbucket, Key="k")
    assert r["DeleteMarker"] is True and r["VersionId"] != "null"
    versions, markers, _ = versions_of(s3, vbucket)
    assert len(versions) == 1 and markers[0]["VersionId"] == r["VersionId"] and markers[0]["IsLatest"]


def test_get_of_key_whose_current_version_is_a_delete_marker_is_404_with_marker_header(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k")
    assert code(e) == "NoSuchKey" and status(e) == 404
    assert headers(e)["x-amz-delete-marker"] == "true" and headers(e)["x-amz-version-id"] == dm


def test_head_of_deleted_key_is_404_with_marker_header(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=vbucket, Key="k")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=vbucket, Key="k")
    assert status(e) == 404 and headers(e)["x-amz-delete-marker"] == "true"


def test_get_naming_a_delete_marker_is_405_method_not_allowed(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert code(e) == "MethodNotAllowed" and status(e) == 405
    assert headers(e)["x-amz-delete-marker"] == "true"


def test_head_naming_a_delete_marker_is_405(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert status(e) == 405 and headers(e)["x-amz-delete-marker"] == "true"


def test_older_versions_stay_readable_after_a_delete_marker(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"kept")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="k")
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"kept"


def test_deleting_the_delete_marker_undeletes_the_object(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"back")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    r = s3.delete_object(Bucket=vbucket, Key="k", VersionId=dm)
    assert r["DeleteMarker"] is True and r["VersionId"] == dm
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"back"


def test_delete_with_version_id_removes_that_version_permanently(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"2")["VersionId"]
    r = s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert r["VersionId"] == v2 and "DeleteMarker" not in r
    assert s3.get_object(Bucket=vbucket, Key="k")["VersionId"] == v1
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert code(e) == "NoSuchVersion"


def test_deleting_every_version_removes_the_key(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"1")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    versions, markers, _ = versions_of(s3, vbucket)
    assert versions == [] and markers == []


def test_delete_of_unknown_version_id_succeeds(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"1")
    r = s3.delete_object(Bucket=vbucket, Key="k", VersionId="B" * 32)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_with_malformed_version_id_is_invalid_argument(s3, vbucket):
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=vbucket, Key="k", VersionId="bad")
    assert code(e) == "InvalidArgument"


def test_delete_marker_on_missing_key_is_still_created(s3, vbucket):
    r = s3.delete_object(Bucket=vbucket, Key="never")
    assert r["DeleteMarker"] is True
    _, markers, _ = versions_of(s3, vbucket)
    assert [m["Key"] for m in markers] == ["never"]


def test_bucket_holding_only_delete_markers_is_not_empty(s3, vbucket):
    s3.delete_object(Bucket=vbucket, Key="ghost")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=vbucket)
    assert code(e) == "BucketNotEmpty"


def test_list_objects_hides_keys_whose_latest_version_is_a_delete_marker(s3, vbucket):
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=vbucket, Key=k, Body=b"x")
    s3.delete_object(Bucket=vbucket, Key="b")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=vbucket)["Contents"]] == ["a", "c"]
    assert [o["Key"] for o in s3.list_objects(Bucket=vbucket)["Contents"]] == ["a", "c"]


def test_list_objects_hides_common_prefix_holding_only_deleted_keys(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="dir/x", Body=b"x")
    s3.put_object(Bucket=vbucket, Key="live/y", Body=b"y")
    s3.delete_object(Bucket=vbucket, Key="dir/x")
    r = s3.list_objects_v2(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["live/"]


def test_list_objects_shows_the_latest_versions_etag(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"1")
    new = s3.put_object(Bucket=vbucket, Key="k", Body=b"22")
    (obj,) = s3.list_objects_v2(Bucket=vbucket)["Contents"]
    assert obj["ETag"] == new["ETag"] and obj["Size"] == 2


# --- Suspended -------------------------------------------------------------------------------------------------

def test_suspended_put_overwrites_the_null_version_and_keeps_others(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, vbucket, "Suspended")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null-1")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null-2")
    versions, _, _ = versions_of(s3, vbucket)
    assert [v["VersionId"] for v in versions] == ["null", v1]
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"null-2"


def test_suspended_put_reports_null_version(s3, vbucket):
    enable(s3, vbucket, "Suspended")
    r = s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    assert r["VersionId"] == "null"


def test_suspended_delete_adds_a_null_delete_marker_replacing_the_null_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"v")["VersionId"]
    enable(s3, vbucket, "Suspended")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null")
    r = s3.delete_object(Bucket=vbucket, Key="k")
    assert r["DeleteMarker"] is True and r["VersionId"] == "null"
    versions, markers, _ = versions_of(s3, vbucket)
    assert [v["VersionId"] for v in versions] == [v1]
    assert [m["VersionId"] for m in markers] == ["null"]


def test_reenabling_after_suspension_keeps_the_null_version(s3, vbucket):
    enable(s3, vbucket, "Suspended")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null")
    enable(s3, vbucket)
    v = s3.put_object(Bucket=vbucket, Key="k", Body=b"new")["VersionId"]
    versions, _, _ = versions_of(s3, vbucket)
    assert [x["VersionId"] for x in versions] == [v, "null"]


def test_unversioned_delete_removes_the_object_without_marker(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = s3.delete_object(Bucket=bucket, Key="k")
    assert "DeleteMarker" not in r
    versions, markers, _ = versions_of(s3, bucket)
    assert versions == [] and markers == []


# --- ListObjectVersions ----------------------------------------------------------------------------------------

def test_list_versions_marks_only_the_newest_as_latest(s3, vbucket):
    for i in range(3):
        s3.put_object(Bucket=vbucket, Key="k", Body=str(i).encode())
    versions, _, _ = versions_of(s3, vbucket)
    assert [v["IsLatest"] for v in versions] == [True, False, False]


def test_list_versions_reports_etag_size_and_storage_class(s3, vbucket):
    put = s3.put_object(Bucket=vbucket, Key="k", Body=b"abc")
    (v,), _, _ = versions_of(s3, vbucket)
    assert v["ETag"] == put["ETag"] and v["Size"] == 3 and v["StorageClass"] == "STANDARD"
    assert v["Owner"]["ID"]


def test_list_versions_orders_keys_across_shards(s3, vbucket):
    keys = [f"key-{i:02d}" for i in range(30)]
    for k in reversed(keys):
        s3.put_object(Bucket=vbucket, Key=k, Body=b"x")
    versions, _, _ = versions_of(s3, vbucket)
    assert [v["Key"] for v in versions] == keys


def test_list_versions_with_prefix_and_delimiter_rolls_up_common_prefixes(s3, vbucket):
    for k in ("a/1", "a/2", "b/1", "top"):
        s3.put_object(Bucket=vbucket, Key=k, Body=b"x")
    versions, _, r = versions_of(s3, vbucket, Delimiter="/")
    assert [v["Key"] for v in versions] == ["top"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/"]
    versions, _, r = versions_of(s3, vbucket, Prefix="a/")
    assert [v["Key"] for v in versions] == ["a/1", "a/2"]


def test_list_versions_pages_with_key_and_version_markers(s3, vbucket):
    expected = []
    for k in ("a", "b", "c"):
        ids = [s3.put_object(Bucket=vbucket, Key=k, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(k, v) for v in reversed(ids)]
    seen, km, vm, pages = [], None, None, 0
    while True:
        kw = {"MaxKeys": 2}
        if km:
            kw["KeyMarker"] = km
            if vm:
                kw["VersionIdMarker"] = vm
        versions, _, r = versions_of(s3, vbucket, **kw)
        pages += 1
        seen += [(v["Key"], v["VersionId"]) for v in versions]
        if not r["IsTruncated"]:
            break
        km, vm = r["NextKeyMarker"], r.get("NextVersionIdMarker")
    assert seen == expected and pages == 5


def test_list_versions_paginator_sees_markers_and_versions_once(s3, vbucket):
    for i in range(7):
        s3.put_object(Bucket=vbucket, Key=f"k{i % 3}", Body=b"x")
        if i % 2:
            s3.delete_object(Bucket=vbucket, Key=f"k{i % 3}")
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=vbucket, PaginationConfig={"PageSize": 3})
    total = [(x["Key"], x["VersionId"]) for p in pages for x in p.get("Versions", []) + p.get("DeleteMarkers", [])]
    assert len(total) == 10 and len(set(total)) == 10


def test_list_versions_key_marker_alone_starts_after_that_key(s3, vbucket):
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=vbucket, Key=k, Body=b"x")
    versions, _, _ = versions_of(s3, vbucket, KeyMarker="a")
    assert [v["Key"] for v in versions] == ["b", "c"]


def test_list_versions_version_marker_without_key_marker_is_invalid(server, s3, vbucket):
    r = raw.signed(server, "GET", f"/{vbucket}?versions&version-id-marker={'A' * 32}")
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


def test_list_versions_max_keys_zero_is_empty_and_not_truncated(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    versions, markers, r = versions_of(s3, vbucket, MaxKeys=0)
    assert versions == [] and markers == [] and r["IsTruncated"] is False


def test_list_versions_delete_marker_entries_carry_latest_and_owner(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    dm = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    versions, markers, _ = versions_of(s3, vbucket)
    assert markers[0]["VersionId"] == dm and markers[0]["IsLatest"] is True and markers[0]["Owner"]["ID"]
    assert versions[0]["IsLatest"] is False


def test_list_versions_with_url_encoding(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="a b+c", Body=b"x")
    r = s3.list_object_versions(Bucket=vbucket, EncodingType="url")
    assert r["Versions"][0]["Key"] in ("a b+c", "a%20b%2Bc")


def test_list_versions_of_unversioned_bucket_lists_null_versions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    versions, _, _ = versions_of(s3, bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]


# --- persistence -----------------------------------------------------------------------------------------------

def test_versions_delete_markers_and_removals_survive_restart(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2).start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="vers-restart")
        enable(s3, "vers-restart")
        ids = {k: [s3.put_object(Bucket="vers-restart", Key=k, Body=f"{k}{i}".encode())["VersionId"] for i in range(3)]
               for k in ("a", "b", "c", "d")}
        dm = s3.delete_object(Bucket="vers-restart", Key="b")["VersionId"]
        s3.delete_object(Bucket="vers-restart", Key="c", VersionId=ids["c"][1])
        enable(s3, "vers-restart", "Suspended")
        s3.put_object(Bucket="vers-restart", Key="d", Body=b"null-d")
        before = s3.list_object_versions(Bucket="vers-restart")
        srv.stop()
        srv.start()
        s3 = srv.client()
        after = s3.list_object_versions(Bucket="vers-restart")
        for field in ("Versions", "DeleteMarkers"):
            assert [(x["Key"], x["VersionId"], x["IsLatest"]) for x in after[field]] == \
                   [(x["Key"], x["VersionId"], x["IsLatest"]) for x in before[field]]
        assert after["DeleteMarkers"][0]["VersionId"] == dm
        assert s3.get_object(Bucket="vers-restart", Key="a", VersionId=ids["a"][0])["Body"].read() == b"a0"
        assert s3.get_object(Bucket="vers-restart", Key="d")["Body"].read() == b"null-d"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="vers-restart")["Contents"]] == ["a", "c", "d"]
    finally:
        srv.stop()
