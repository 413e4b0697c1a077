"""CopyObject: same-shard copies by reference, cross-shard copies streamed, metadata and tagging directives,
x-amz-copy-source-if-* preconditions, version sources, copy-onto-itself rules, and the result document."""

import asyncio
import hashlib
import itertools
import os
import time
from email.utils import formatdate

import pytest
from botocore.exceptions import ClientError

from router.ring import Ring
from shards import copying
from shards.store import Store
from tests.support import raw
from wal.log import Log
from wal.sync import policy_for

RING = Ring([0, 1])


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def key_pair(bucket: str, same: bool, stem: str = "k") -> tuple[str, str]:
    """Two keys of ``bucket`` owned by the same shard (or by different ones)."""
    src = f"{stem}-src"
    for i in itertools.count():
        dst = f"{stem}-dst-{i}"
        if (RING.shard_for(bucket, src) == RING.shard_for(bucket, dst)) == same:
            return src, dst


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
@pytest.mark.parametrize("size", [0, 10, (2 << 20) + 5])
def test_copy_gives_identical_bytes_and_etag(s3, bucket, same, size):
    src, dst = key_pair(bucket, same)
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key=src, Body=data)
    r = s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src})
    assert r["CopyObjectResult"]["ETag"] == put["ETag"]
    got = s3.get_object(Bucket=bucket, Key=dst)
    assert got["Body"].read() == data and got["ETag"] == put["ETag"]


def test_copy_between_buckets(s3, bucket):
    other = bucket + "-dst"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
    s3.copy_object(Bucket=other, Key="k2", CopySource=f"{bucket}/k")
    assert s3.get_object(Bucket=other, Key="k2")["Body"].read() == b"payload"


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_copy_result_has_last_modified_and_quoted_etag(server, s3, bucket, same):
    src, dst = key_pair(bucket, same)
    s3.put_object(Bucket=bucket, Key=src, Body=b"abc")
    r = raw.signed(server, "PUT", f"/{bucket}/{dst}", headers={"x-amz-copy-source": f"/{bucket}/{src}"})
    assert r.status == 200
    assert b"<CopyObjectResult" in r.body and b"<LastModified>" in r.body
    assert f"<ETag>&quot;{hashlib.md5(b'abc').hexdigest()}&quot;</ETag>".encode() in r.body


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_metadata_directive_copy_keeps_source_metadata(s3, bucket, same):
    src, dst = key_pair(bucket, same)
    s3.put_object(Bucket=bucket, Key=src, Body=b"x", ContentType="text/plain", Metadata={"color": "blue"},
                  CacheControl="max-age=5")
    s3.copy_object(Bucket=bucket, Key=dst, CopySource=f"{bucket}/{src}", Metadata={"ignored": "yes"})
    h = s3.head_object(Bucket=bucket, Key=dst)
    assert h["ContentType"] == "text/plain" and h["Metadata"] == {"color": "blue"}
    assert h["CacheControl"] == "max-age=5"


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_metadata_directive_replace_uses_request_metadata(s3, bucket, same):
    src, dst = key_pair(bucket, same)
    s3.put_object(Bucket=bucket, Key=src, Body=b"x", ContentType="text/plain", Metadata={"color": "blue"})
    s3.copy_object(Bucket=bucket, Key=dst, CopySource=f"{bucket}/{src}", MetadataDirective="REPLACE",
                   Metadata={"shape": "round"}, ContentType="application/json")
    h = s3.head_object(Bucket=bucket, Key=dst)
    assert h["ContentType"] == "application/json" and h["Metadata"] == {"shape": "round"}


def test_invalid_metadata_directive_is_invalid_argument(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "PUT", f"/{bucket}/k2", headers={"x-amz-copy-source": f"/{bucket}/k",
                                                            "x-amz-metadata-directive": "MERGE"})
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_tagging_directive_copy_keeps_source_tags(s3, bucket, same):
    src, dst = key_pair(bucket, same)
    s3.put_object(Bucket=bucket, Key=src, Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key=dst, CopySource=f"{bucket}/{src}")
    assert s3.get_object_tagging(Bucket=bucket, Key=dst)["TagSet"] == [{"Key": "a", "Value": "1"}]


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_tagging_directive_replace_uses_request_tags(s3, bucket, same):
    src, dst = key_pair(bucket, same)
    s3.put_object(Bucket=bucket, Key=src, Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key=dst, CopySource=f"{bucket}/{src}", TaggingDirective="REPLACE",
                   Tagging="b=2")
    assert s3.get_object_tagging(Bucket=bucket, Key=dst)["TagSet"] == [{"Key": "b", "Value": "2"}]


def test_tagging_directive_replace_without_tags_clears_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="k2", CopySource=f"{bucket}/k", TaggingDirective="REPLACE")
    assert s3.get_object_tagging(Bucket=bucket, Key="k2")["TagSet"] == []


def test_copy_sets_requested_storage_class(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="k2", CopySource=f"{bucket}/k", StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="k2")["StorageClass"] == "STANDARD_IA"


# --- copy-source preconditions ---------------------------------------------------------------------------------

def _copy(s3, bucket, **kw):
    return s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", **kw)


@pytest.fixture
def source(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"cond")["ETag"]
    return etag


def test_copy_source_if_match_true_copies(s3, bucket, source):
    _copy(s3, bucket, CopySourceIfMatch=source)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"cond"


def test_copy_source_if_match_false_is_412(s3, bucket, source):
    with pytest.raises(ClientError) as e:
        _copy(s3, bucket, CopySourceIfMatch='"0123"')
    assert code(e) == "PreconditionFailed"


def test_copy_source_if_none_match_matching_is_412_not_304(s3, bucket, source):
    with pytest.raises(ClientError) as e:
        _copy(s3, bucket, CopySourceIfNoneMatch=source)
    assert code(e) == "PreconditionFailed"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_copy_source_if_modified_since_future_is_412(s3, bucket, source):
    with pytest.raises(ClientError) as e:
        _copy(s3, bucket, CopySourceIfModifiedSince=formatdate(time.time() + 3600, usegmt=True))
    assert code(e) == "PreconditionFailed"


def test_copy_source_if_unmodified_since_past_is_412(s3, bucket, source):
    with pytest.raises(ClientError) as e:
        _copy(s3, bucket, CopySourceIfUnmodifiedSince=formatdate(time.time() - 3600, usegmt=True))
    assert code(e) == "PreconditionFailed"


def test_copy_source_if_match_true_overrides_unmodified_since_false(s3, bucket, source):
    _copy(s3, bucket, CopySourceIfMatch=source,
          CopySourceIfUnmodifiedSince=formatdate(time.time() - 3600, usegmt=True))
    assert s3.head_object(Bucket=bucket, Key="dst")["ETag"] == source


def test_copy_source_if_none_match_false_with_modified_since_true_is_412(s3, bucket, source):
    with pytest.raises(ClientError) as e:
        _copy(s3, bucket, CopySourceIfNoneMatch=source,
              CopySourceIfModifiedSince=formatdate(time.time() - 3600, usegmt=True))
    assert code(e) == "PreconditionFailed"


def test_failed_copy_precondition_across_shards_writes_nothing(s3, bucket):
    src, dst = key_pair(bucket, same=False)
    s3.put_object(Bucket=bucket, Key=src, Body=b"x")
    with pytest.raises(ClientError):
        s3.copy_object(Bucket=bucket, Key=dst, CopySource=f"{bucket}/{src}", CopySourceIfMatch='"nope"')
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=dst)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- sources that are missing, versions, markers ---------------------------------------------------------------

def test_copy_of_missing_source_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/missing")
    assert code(e) == "NoSuchKey"


def test_copy_from_missing_bucket_is_no_such_bucket(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource="no-such-bucket-xyz/k")
    assert code(e) == "NoSuchBucket"


def test_copy_source_without_key_is_invalid_argument(server, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/dst", headers={"x-amz-copy-source": bucket})
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_copy_of_a_specific_version_reports_source_version(s3, bucket, same):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    src, dst = key_pair(bucket, same)
    v1 = s3.put_object(Bucket=bucket, Key=src, Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key=src, Body=b"new")
    r = s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src, "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and r["VersionId"] not in (None, "null", v1)
    assert s3.get_object(Bucket=bucket, Key=dst)["Body"].read() == b"old"


def test_copy_of_current_source_in_versioned_bucket_reports_its_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["VersionId"]
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert r["CopySourceVersionId"] == v


def test_copy_of_deleted_source_is_no_such_key(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="src")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert code(e) == "NoSuchKey"


def test_copy_naming_a_delete_marker_is_invalid_request(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    dm = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": dm})
    assert code(e) == "InvalidRequest"


def test_copy_with_malformed_source_version_is_invalid_argument(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": "bad"})
    assert code(e) == "InvalidArgument"


# --- copy onto itself ------------------------------------------------------------------------------------------

def test_copy_onto_itself_without_changes_is_invalid_request(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k")
    assert code(e) == "InvalidRequest"
    assert "copy an object to itself" in e.value.response["Error"]["Message"]


def test_copy_onto_itself_with_replace_updates_metadata(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"v": "1"})
    s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", MetadataDirective="REPLACE",
                   Metadata={"v": "2"})
    h = s3.head_object(Bucket=bucket, Key="k")
    assert h["Metadata"] == {"v": "2"} and h["ETag"] == put["ETag"]


def test_copy_onto_itself_changing_storage_class_is_allowed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", StorageClass="GLACIER_IR")
    assert s3.head_object(Bucket=bucket, Key="k")["StorageClass"] == "GLACIER_IR"


def test_copy_of_older_version_onto_same_key_restores_it(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 3


# --- checksums -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("same", [True, False], ids=["same-shard", "cross-shard"])
def test_copy_keeps_the_source_checksum(s3, bucket, same):
    src, dst = key_pair(bucket, same)
    put = s3.put_object(Bucket=bucket, Key=src, Body=b"sum me", ChecksumAlgorithm="SHA256")
    r = s3.copy_object(Bucket=bucket, Key=dst, CopySource=f"{bucket}/{src}")
    assert r["CopyObjectResult"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert s3.head_object(Bucket=bucket, Key=dst, ChecksumMode="ENABLED")["ChecksumSHA256"] == put["ChecksumSHA256"]


def test_copy_with_new_checksum_algorithm_computes_it(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", ChecksumAlgorithm="CRC32C")
    assert r["CopyObjectResult"]["ChecksumCRC32C"]


# --- no data copy on one shard (shard level, real log on disk) -------------------------------------------------

def test_same_shard_copy_writes_one_record_naming_the_source_data(tmp_path):
    async def scenario():
        wal = Log(tmp_path / "wal", sync=policy_for("balanced"))
        list(wal.recover())
        store = Store(wal)
        from shards.objects import CHUNK, Upload
        up = Upload(store, {"bucket": "b", "key": "src", "ct": "x/y"})
        data = os.urandom(CHUNK * 2 + 7)
        up.feed(data)
        await up.finish({})
        before = wal.last_lsn
        await copying.copy(store, {"bucket": "b", "key": "dst", "src_bucket": "b", "src_key": "src"})
        assert wal.last_lsn == before + 1
        src, dst = store.index.get("b", "src"), store.index.get("b", "dst")
        assert dst["loc"] == src["loc"] and dst["etag"] == src["etag"]
        await wal.close()
    asyncio.run(scenario())
