"""Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) and Content-MD5 on PUT, GET/HEAD, copy and
GetObjectAttributes, in header and aws-chunked trailer form, with S3's error codes for every way to get them wrong."""

import base64
import hashlib
import os
import zlib

import crc32c
import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from tests.support import raw

from . import streaming_support as streaming
from .test_tls import tls  # noqa: F401  (the HTTPS server fixture)

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
DATA = b"The quick brown fox jumps over the lazy dog" * 37


def digest(algo: str, data: bytes) -> bytes:
    if algo == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algo == "CRC32C":
        return crc32c.crc32c(data).to_bytes(4, "big")
    if algo == "CRC64NVME":
        return crt.crc64nvme(data).to_bytes(8, "big")
    return hashlib.new(algo.lower(), data).digest()


def b64(algo: str, data: bytes) -> str:
    return base64.b64encode(digest(algo, data)).decode()


def header(algo: str) -> str:
    return "x-amz-checksum-" + algo.lower()


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def error_code(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


def absent(s3, bucket, key) -> bool:
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404



def test_crc64nvme_hasher_matches_the_published_check_value():
    from shards import checksums
    h = checksums.hasher("CRC64NVME")
    h.update(b"1234")
    h.update(memoryview(b"56789"))
    assert h.digest() == (0xAE8B14860A799888).to_bytes(8, "big")


# --- header form --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("algo", ALGORITHMS)
def test_put_with_a_correct_checksum_header_stores_it_and_returns_it_when_checksum_mode_is_enabled(s3, bucket, algo):
    put = s3.put_object(Bucket=bucket, Key="k", Body=DATA, **{f"Checksum{algo}": b64(algo, DATA)})
    assert put[f"Checksum{algo}"] == b64(algo, DATA)
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == b64(algo, DATA) and head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[f"Checksum{algo}"] == b64(algo, DATA)
    assert got["Body"].read() == DATA


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_put_with_a_wrong_checksum_header_is_bad_digest_and_stores_nothing(server, s3, bucket, algo):
    r = raw.signed(server, "PUT", f"/{bucket}/wrong", body=DATA, headers={header(algo): b64(algo, b"other")})
    assert r.status == 400 and error_code(r.body) == "BadDigest"
    assert absent(s3, bucket, "wrong")


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_a_wrong_checksum_does_not_replace_the_existing_object(server, s3, bucket, algo):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"original")
    r = raw.signed(server, "PUT", f"/{bucket}/keep", body=DATA, headers={header(algo): b64(algo, b"other")})
    assert r.status == 400
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"original"


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_boto3_computing_the_checksum_itself_stores_the_right_value(s3, bucket, algo):
    put = s3.put_object(Bucket=bucket, Key="sdk", Body=DATA, ChecksumAlgorithm=algo)
    assert put[f"Checksum{algo}"] == b64(algo, DATA)
    assert s3.head_object(Bucket=bucket, Key="sdk", ChecksumMode="ENABLED")[f"Checksum{algo}"] == b64(algo, DATA)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_empty_object_checksum_is_the_algorithm_over_no_bytes(server, s3, bucket, algo):
    r = raw.signed(server, "PUT", f"/{bucket}/empty", body=b"", headers={header(algo): b64(algo, b"")})
    assert r.status == 200 and r.headers[header(algo)] == b64(algo, b"")
    assert s3.head_object(Bucket=bucket, Key="empty", ChecksumMode="ENABLED")[f"Checksum{algo}"] == b64(algo, b"")


# --- trailer form -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("algo", ALGORITHMS)
def test_boto3_over_https_sends_an_aws_chunked_trailer_which_is_verified_and_stored(tls, algo):
    # botocore sends checksums as an unsigned aws-chunked trailer only over TLS
    s3 = tls.client()
    bucket = f"trailer-{algo.lower()}"
    s3.create_bucket(Bucket=bucket)
    sent = {}

    def capture(request, **_):
        sent.update({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    data = os.urandom(200_000)
    s3.meta.events.register("before-send.s3.PutObject", capture)
    try:
        put = s3.put_object(Bucket=bucket, Key="chunked", Body=data, ChecksumAlgorithm=algo)
    finally:
        s3.meta.events.unregister("before-send.s3.PutObject", capture)
    assert sent["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert "aws-chunked" in sent["content-encoding"] and sent["x-amz-trailer"] == header(algo)
    assert put[f"Checksum{algo}"] == b64(algo, data)
    head = s3.head_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == b64(algo, data) and head["ContentLength"] == len(data)
    assert "ContentEncoding" not in head  # aws-chunked is transport framing, never stored
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


def _unsigned_trailer_put(server, path: str, data: bytes, trailer: str, value: str):
    return streaming.put_unsigned_trailer(server, path, data, (trailer, value))


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_wrong_checksum_trailer_is_bad_digest_and_stores_nothing(server, s3, bucket, algo):
    r = _unsigned_trailer_put(server, f"/{bucket}/bad-trailer", DATA, header(algo), b64(algo, b"not it"))
    assert r.status == 400 and error_code(r.body) == "BadDigest"
    assert absent(s3, bucket, "bad-trailer")


def test_correct_crc64nvme_trailer_is_stored(server, s3, bucket):
    r = _unsigned_trailer_put(server, f"/{bucket}/good-trailer", DATA, "x-amz-checksum-crc64nvme",
                              b64("CRC64NVME", DATA))
    assert r.status == 200
    head = s3.head_object(Bucket=bucket, Key="good-trailer", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == b64("CRC64NVME", DATA)


# --- malformed requests -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("algo", ALGORITHMS)
@pytest.mark.parametrize("kind", ["not-base64", "wrong-length", "empty"])
def test_malformed_checksum_value_is_invalid_request(server, s3, bucket, algo, kind):
    value = {"not-base64": "!!not*base64!!", "wrong-length": base64.b64encode(b"\0" * 3).decode(),
             "empty": ""}[kind]
    r = raw.signed(server, "PUT", f"/{bucket}/malformed", body=DATA, headers={header(algo): value})
    assert r.status == 400 and error_code(r.body) == "InvalidRequest"
    assert f"Value for {header(algo)} header is invalid.".encode() in r.body
    assert absent(s3, bucket, "malformed")


def test_two_different_checksum_headers_are_invalid_request(server, s3, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/two", body=DATA,
                   headers={header("CRC32"): b64("CRC32", DATA), header("SHA256"): b64("SHA256", DATA)})
    assert r.status == 400 and error_code(r.body) == "InvalidRequest"
    assert b"Multiple checksum Types are not allowed" in r.body
    assert absent(s3, bucket, "two")


def test_sdk_checksum_algorithm_naming_another_algorithm_than_the_header_is_invalid_request(server, s3, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/sdk", body=DATA,
                   headers={"x-amz-sdk-checksum-algorithm": "CRC32", header("CRC32C"): b64("CRC32C", DATA)})
    assert r.status == 400 and error_code(r.body) == "InvalidRequest"
    assert b"x-amz-sdk-checksum-algorithm" in r.body


def test_sdk_checksum_algorithm_matching_the_header_is_accepted(server, s3, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/sdk-ok", body=DATA,
                   headers={"x-amz-sdk-checksum-algorithm": "crc64nvme",
                            header("CRC64NVME"): b64("CRC64NVME", DATA)})
    assert r.status == 200 and r.headers["x-amz-checksum-crc64nvme"] == b64("CRC64NVME", DATA)


def test_unknown_checksum_algorithm_is_invalid_request(server, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/md4", body=DATA, headers={"x-amz-sdk-checksum-algorithm": "MD4"})
    assert r.status == 400 and error_code(r.body) == "InvalidRequest"


# --- Content-MD5 --------------------------------------------------------------------------------------------------

def test_correct_content_md5_is_accepted(s3, bucket):
    md5 = base64.b64encode(hashlib.md5(DATA).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="md5", Body=DATA, ContentMD5=md5)
    assert put["ETag"] == f'"{hashlib.md5(DATA).hexdigest()}"'


def test_wrong_content_md5_is_bad_digest_and_stores_nothing(server, s3, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/md5", body=DATA,
                   headers={"content-md5": base64.b64encode(hashlib.md5(b"x").digest()).decode()})
    assert r.status == 400 and error_code(r.body) == "BadDigest"
    assert absent(s3, bucket, "md5")


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_malformed_content_md5_is_invalid_digest(server, s3, bucket, value):
    r = raw.signed(server, "PUT", f"/{bucket}/md5", body=DATA, headers={"content-md5": value})
    assert r.status == 400 and error_code(r.body) == "InvalidDigest"
    assert absent(s3, bucket, "md5")


def test_content_md5_and_a_checksum_are_both_verified(server, s3, bucket):
    md5 = base64.b64encode(hashlib.md5(DATA).digest()).decode()
    r = raw.signed(server, "PUT", f"/{bucket}/both", body=DATA,
                   headers={"content-md5": md5, header("SHA1"): b64("SHA1", b"other")})
    assert r.status == 400 and error_code(r.body) == "BadDigest"
    r = raw.signed(server, "PUT", f"/{bucket}/both", body=DATA,
                   headers={"content-md5": md5, header("SHA1"): b64("SHA1", DATA)})
    assert r.status == 200


# --- reading checksums back ---------------------------------------------------------------------------------------

def test_checksums_are_not_returned_without_checksum_mode(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=DATA, ChecksumAlgorithm="CRC64NVME")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert not [k for k in head if k.startswith("Checksum")]
    # boto3 itself asks GetObject for checksums (ChecksumMode=ENABLED by default): ask without it, raw
    got = raw.signed(server, "GET", f"/{bucket}/k")
    assert got.status == 200 and not [h for h in got.headers if h.startswith("x-amz-checksum")]


def test_ranged_get_never_carries_the_whole_object_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=DATA, ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-9", ChecksumMode="ENABLED")
    assert got["Body"].read() == DATA[:10] and "ChecksumSHA256" not in got


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_get_object_attributes_reports_the_checksum_and_its_type(s3, bucket, algo):
    s3.put_object(Bucket=bucket, Key="attrs", Body=DATA, ChecksumAlgorithm=algo)
    attrs = s3.get_object_attributes(Bucket=bucket, Key="attrs", ObjectAttributes=["Checksum", "ObjectSize"])
    assert attrs["Checksum"][f"Checksum{algo}"] == b64(algo, DATA)
    assert attrs["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert attrs["ObjectSize"] == len(DATA)


def test_checksum_survives_a_restartless_overwrite_with_another_algorithm(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", ChecksumAlgorithm="CRC32")
    s3.put_object(Bucket=bucket, Key="k", Body=DATA, ChecksumAlgorithm="CRC64NVME")
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == b64("CRC64NVME", DATA) and "ChecksumCRC32" not in head


# --- copy ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("algo", ALGORITHMS)
def test_copy_keeps_the_source_checksum(s3, bucket, algo):
    s3.put_object(Bucket=bucket, Key="src", Body=DATA, ChecksumAlgorithm=algo)
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert r["CopyObjectResult"][f"Checksum{algo}"] == b64(algo, DATA)
    assert s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")[f"Checksum{algo}"] == b64(algo, DATA)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_copy_with_checksum_algorithm_recomputes_it_over_the_bytes(s3, bucket, algo):
    s3.put_object(Bucket=bucket, Key="src", Body=DATA, ChecksumAlgorithm="CRC32" if algo != "CRC32" else "SHA1")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", ChecksumAlgorithm=algo)
    assert r["CopyObjectResult"][f"Checksum{algo}"] == b64(algo, DATA)
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == b64(algo, DATA)


# --- multipart with CRC64NVME -------------------------------------------------------------------------------------

def test_multipart_upload_with_crc64nvme_gets_the_full_object_crc_of_all_parts(s3, bucket):
    parts = [os.urandom(5 << 20), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC64NVME")
    assert up["ChecksumAlgorithm"] == "CRC64NVME" and up["ChecksumType"] == "FULL_OBJECT"
    done = []
    for n, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=data,
                           ChecksumAlgorithm="CRC64NVME")
        assert r["ChecksumCRC64NVME"] == b64("CRC64NVME", data)
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC64NVME": r["ChecksumCRC64NVME"]})
    whole = b"".join(parts)
    c = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": done})
    assert c["ChecksumCRC64NVME"] == b64("CRC64NVME", whole) and c["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == b64("CRC64NVME", whole) and head["ChecksumType"] == "FULL_OBJECT"


def test_upload_part_with_a_wrong_crc64nvme_is_bad_digest(server, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC64NVME")
    r = raw.signed(server, "PUT", f"/{bucket}/mp?partNumber=1&uploadId={up['UploadId']}", body=DATA,
                   headers={header("CRC64NVME"): b64("CRC64NVME", b"nope")})
    assert r.status == 400 and error_code(r.body) == "BadDigest"
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=up["UploadId"]).get("Parts", []) == []


def test_composite_checksum_type_with_crc64nvme_is_invalid_request(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC64NVME", ChecksumType="COMPOSITE")
    assert code(e) == "InvalidRequest"
