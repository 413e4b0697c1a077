"""GetObjectAttributes (GET /bucket/key?attributes): ETag, Checksum, ObjectParts with pagination, StorageClass,
ObjectSize, with versionId and the documented errors."""

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from tests.support import raw

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
MIB = 1 << 20


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def test_plain_object_reports_etag_size_and_storage_class(s3, bucket):
    data = b"attributes"
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    r = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=ALL)
    assert r["ETag"] == hashlib.md5(data).hexdigest()  # no quotes in this document
    assert r["ObjectSize"] == len(data) and r["StorageClass"] == "STANDARD"
    assert "ObjectParts" not in r and "LastModified" in r


def test_only_the_requested_attributes_are_returned(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == 1 and "ETag" not in r and "StorageClass" not in r


def test_checksum_attribute_reports_stored_checksum_and_type(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"sum", ChecksumAlgorithm="SHA256")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum"])
    assert r["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert r["Checksum"]["ChecksumType"] == "FULL_OBJECT"


def test_storage_class_attribute_reflects_the_put(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="ONEZONE_IA")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["StorageClass"])
    assert r["StorageClass"] == "ONEZONE_IA"


def test_missing_attributes_header_is_invalid_argument(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "GET", f"/{bucket}/k?attributes")
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


def test_unknown_attribute_name_is_invalid_argument(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "GET", f"/{bucket}/k?attributes", headers={"x-amz-object-attributes": "ETag,Color"})
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


def test_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=["ETag"])
    assert code(e) == "NoSuchKey"


def test_version_id_selects_the_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"three")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=v1, ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == 3 and r["VersionId"] == v1


def test_delete_marker_is_no_such_key_and_by_version_method_not_allowed(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    dm = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag"])
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=dm, ObjectAttributes=["ETag"])
    assert code(e) == "MethodNotAllowed"


@pytest.fixture
def multipart_key(s3, bucket):
    """A 3-part object (5 MiB, 5 MiB, 1 KiB) uploaded with CRC32 part checksums."""
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")
    parts = []
    for n, size in enumerate((5 * MIB, 5 * MIB, 1024), start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=os.urandom(size),
                           ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})
    return parts


def test_multipart_object_lists_its_parts(s3, bucket, multipart_key):
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL)
    op = r["ObjectParts"]
    assert op["TotalPartsCount"] == 3 and op["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, 5 * MIB), (2, 5 * MIB), (3, 1024)]
    assert [p["ChecksumCRC32"] for p in op["Parts"]] == [p["ChecksumCRC32"] for p in multipart_key]
    assert r["ETag"].endswith("-3") and r["ObjectSize"] == 10 * MIB + 1024


def test_multipart_parts_paginate_with_max_parts_and_marker(s3, bucket, multipart_key):
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
    op = r["ObjectParts"]
    assert [p["PartNumber"] for p in op["Parts"]] == [1, 2]
    assert op["IsTruncated"] is True and op["NextPartNumberMarker"] == 2 and op["MaxParts"] == 2
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2,
                                 PartNumberMarker=op["NextPartNumberMarker"])
    op = r["ObjectParts"]
    assert [p["PartNumber"] for p in op["Parts"]] == [3] and op["IsTruncated"] is False
    assert op["TotalPartsCount"] == 3
