"""Object operations through boto3 at its current defaults (flexible checksums, aws-chunked trailers)."""

import hashlib
import io
import os
import zlib
import base64

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def code(e) -> str:
    return e.value.response["Error"]["Code"]


@pytest.mark.parametrize("size", [0, 1, 4096, 1 << 20, (3 << 20) + 17])
def test_put_then_get_returns_the_same_bytes_and_md5_etag(s3, bucket, size):
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key=f"obj-{size}", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key=f"obj-{size}")
    assert got["Body"].read() == data
    assert got["ContentLength"] == size
    assert got["ETag"] == put["ETag"]


def test_streamed_upload_with_crc32_trailer_is_verified_and_stored(s3, bucket):
    # a non-seekable body makes boto3 send aws-chunked with an x-amz-checksum-crc32 trailer
    data = os.urandom(300_000)

    class Stream(io.RawIOBase):
        def __init__(self):
            self.buf = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.buf.readinto(b)

    s3.upload_fileobj(Stream(), bucket, "streamed")
    head = s3.head_object(Bucket=bucket, Key="streamed", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    expected = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert head["ChecksumCRC32"] == expected
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == data


def test_put_with_crc32_header_mismatch_is_bad_digest_and_stores_nothing(server, bucket, s3):
    r = raw.signed(server, "PUT", f"/{bucket}/bad-crc", body=b"hello",
                   headers={"x-amz-checksum-crc32": "AAAAAA=="})
    assert r.status == 400 and b"<Code>BadDigest</Code>" in r.body
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="bad-crc")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_put_with_wrong_content_md5_is_bad_digest(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"abc",
                      ContentMD5=base64.b64encode(hashlib.md5(b"xyz").digest()).decode())
    assert code(e) == "BadDigest"


def test_payload_hash_that_does_not_match_body_is_rejected(server, bucket, s3):
    r = raw.signed(server, "PUT", f"/{bucket}/sha", body=b"payload", sign_body=b"other")
    assert r.status == 400 and b"XAmzContentSHA256Mismatch" in r.body
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="sha")


def test_metadata_and_content_headers_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="meta", Body=b"x", ContentType="text/plain", CacheControl="max-age=60",
                  ContentDisposition="attachment", ContentLanguage="en", Metadata={"color": "blue", "n": "1"})
    head = s3.head_object(Bucket=bucket, Key="meta")
    assert head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == "attachment"
    assert head["ContentLanguage"] == "en"
    assert head["Metadata"] == {"color": "blue", "n": "1"}
    assert "ContentEncoding" not in head  # aws-chunked is transfer framing, never stored


def test_user_metadata_over_2kb_is_rejected(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"a": "v" * 2100})
    assert code(e) == "MetadataTooLarge"


def test_key_longer_than_1024_bytes_is_key_too_long(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x")


def test_overwrite_replaces_content(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"first")
    s3.put_object(Bucket=bucket, Key="o", Body=b"second version")
    assert s3.get_object(Bucket=bucket, Key="o")["Body"].read() == b"second version"


def test_get_and_head_of_missing_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert code(e) == "NoSuchKey"
    assert e.value.response["Error"]["Key"] == "nope"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_delete_removes_object_and_deleting_missing_key_succeeds(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="d")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize("key", ["with space", "plus+sign", "percent%20", "unicodé/ключ/鍵", "a//double", "tilde~",
                                 "q?mark", "hash#tag", "amp&eq="])
def test_keys_with_special_characters_round_trip(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert key in keys


def test_range_get_returns_partial_content(s3, bucket):
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-199")
    assert got["Body"].read() == data[100:200]
    assert got["ContentRange"] == f"bytes 100-199/{len(data)}"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-10")["Body"].read() == data[-10:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert code(e) == "InvalidRange"


def test_large_object_range_spanning_chunks(s3, bucket):
    data = os.urandom((5 << 20) + 123)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    start, end = (1 << 20) - 10, (4 << 20) + 10
    got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")["Body"].read()
    assert got == data[start:end + 1]
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data


def test_virtual_host_style_addressing(server, bucket):
    put = raw.signed(server, "PUT", "/vkey", body=b"virtual", host=f"{bucket}.localhost:{server.port}")
    assert put.status == 200, put.body
    got = raw.signed(server, "GET", "/vkey", host=f"{bucket}.localhost:{server.port}")
    assert got.status == 200 and got.body == b"virtual"
    assert raw.signed(server, "GET", f"/{bucket}/vkey").body == b"virtual"


def test_virtual_host_style_with_boto3(server, bucket):
    from botocore.config import Config
    import boto3
    # boto3 puts the bucket in the host name; route every connection to the test server's port on loopback
    c = boto3.client("s3", endpoint_url=f"http://localhost:{server.port}", aws_access_key_id=server.access_key,
                     aws_secret_access_key=server.secret_key, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "virtual"}))
    import socket
    real = socket.getaddrinfo

    def resolve(host, *a, **kw):
        return real("127.0.0.1" if host.endswith(".localhost") else host, *a, **kw)

    socket.getaddrinfo = resolve
    try:
        c.put_object(Bucket=bucket, Key="vh", Body=b"vh-data")
        assert c.get_object(Bucket=bucket, Key="vh")["Body"].read() == b"vh-data"
    finally:
        socket.getaddrinfo = real
