"""Multipart objects read by part (GET/HEAD ?partNumber) and parts copied from other objects (UploadPartCopy),
as the AWS S3 API reference documents."""

import os

import pytest
from botocore.exceptions import ClientError

from tests.s3.multipart_support import BIG, MIN_PART, code, finish, md5, put_multipart, status


# --- GET / HEAD ?partNumber=N --------------------------------------------------------------------------------

def test_get_part_number_returns_that_part_with_206_and_the_part_count(s3, bucket):
    r = put_multipart(s3, bucket, "k", [BIG, b"second part"])
    got = s3.get_object(Bucket=bucket, Key="k", PartNumber=2)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["PartsCount"] == 2 and got["ETag"] == r["ETag"]
    assert got["ContentRange"] == f"bytes {MIN_PART}-{MIN_PART + 10}/{MIN_PART + 11}"
    assert got["Body"].read() == b"second part"
    first = s3.get_object(Bucket=bucket, Key="k", PartNumber=1)
    assert first["ContentLength"] == MIN_PART and first["Body"].read() == BIG


def test_head_part_number_reports_the_part_length(s3, bucket):
    put_multipart(s3, bucket, "k", [BIG, b"12345"])
    h = s3.head_object(Bucket=bucket, Key="k", PartNumber=2)
    assert h["ContentLength"] == 5 and h["PartsCount"] == 2
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="k")


def test_part_number_past_the_last_part_is_416(s3, bucket):
    put_multipart(s3, bucket, "k", [b"only"])
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", PartNumber=2)
    assert status(e) == 416 and code(e) == "InvalidPartNumber"


def test_part_number_1_of_a_plain_object_is_the_whole_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"whole")
    got = s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206 and got["Body"].read() == b"whole"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert status(e) == 416


def test_range_together_with_part_number_is_refused(s3, bucket):
    put_multipart(s3, bucket, "k", [b"only"])
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", PartNumber=1, Range="bytes=0-1")
    assert code(e) == "InvalidRequest"


# --- UploadPartCopy ------------------------------------------------------------------------------------------

def test_upload_part_copy_of_a_whole_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=BIG)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyPartResult"]["ETag"] == f'"{md5(BIG)}"' and "LastModified" in r["CopyPartResult"]
    tail = s3.upload_part(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2, Body=b"tail")
    finish(s3, bucket, "dst", uid, [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]},
                                    {"PartNumber": 2, "ETag": tail["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == BIG + b"tail"


def test_upload_part_copy_of_a_byte_range_across_shards_and_buckets(s3, bucket):
    other = bucket + "-src"
    s3.create_bucket(Bucket=other)
    data = os.urandom(3 << 20)
    for i in range(4):  # several keys, so the source and the destination sit on different shards too
        s3.put_object(Bucket=other, Key=f"src{i}", Body=data)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    parts = []
    for i in range(4):
        r = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=i + 1,
                                CopySource=f"{other}/src{i}", CopySourceRange="bytes=1000-1999")
        assert r["CopyPartResult"]["ETag"] == f'"{md5(data[1000:2000])}"'
        parts.append({"PartNumber": i + 1, "ETag": r["CopyPartResult"]["ETag"]})
    finish(s3, bucket, "dst", uid, parts[-1:])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data[1000:2000]


def test_upload_part_copy_from_a_multipart_source_crosses_its_parts(s3, bucket):
    put_multipart(s3, bucket, "mp-src", [BIG, b"0123456789"])
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=f"{bucket}/mp-src",
                            CopySourceRange=f"bytes={MIN_PART - 3}-{MIN_PART + 2}")
    finish(s3, bucket, "dst", uid, [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == BIG[-3:] + b"012"


@pytest.mark.parametrize("rng", ["bytes=0-100", "bytes=5-", "bytes=-5", "bytes=9-3", "items=0-1"])
def test_upload_part_copy_with_a_bad_or_unsatisfiable_range_is_invalid_argument(s3, bucket, rng):
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=f"{bucket}/src",
                            CopySourceRange=rng)
    assert code(e) == "InvalidArgument"


def test_upload_part_copy_honours_copy_source_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["ETag"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    src = {"Bucket": bucket, "Key": "src"}
    for cond in ({"CopySourceIfMatch": f'"{md5(b"x")}"'}, {"CopySourceIfNoneMatch": etag}):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src, **cond)
        assert code(e) == "PreconditionFailed" and status(e) == 412
    r = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=src,
                            CopySourceIfMatch=etag)
    assert r["CopyPartResult"]["ETag"] == etag


def test_upload_part_copy_of_a_missing_source_is_no_such_key(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1, CopySource=f"{bucket}/missing")
    assert code(e) == "NoSuchKey"


def test_upload_part_copy_into_an_unknown_upload_is_no_such_upload(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId="nope", PartNumber=1, CopySource=f"{bucket}/src")
    assert code(e) == "NoSuchUpload"
