"""Checksums of multipart uploads: per-part verification (header and aws-chunked trailer), COMPOSITE checksums
(checksum of the part checksums, ``-N``) and FULL_OBJECT CRCs combined from the parts, as AWS documents them."""

import base64
import hashlib
import zlib

import crc32c
import pytest
from botocore.exceptions import ClientError

from tests.s3.multipart_support import BIG, code, finish, start
from tests.support import raw


def b64(raw_bytes: bytes) -> str:
    return base64.b64encode(raw_bytes).decode()


def crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def crc32c_(data: bytes) -> bytes:
    return crc32c.crc32c(data).to_bytes(4, "big")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


TAIL = b"the last part"


@pytest.mark.parametrize("algo,fn", [("CRC32", crc32), ("SHA256", sha256)])
def test_composite_checksum_is_the_checksum_of_the_part_checksums(s3, bucket, algo, fn):
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algo)
    assert created["ChecksumAlgorithm"] == algo and created["ChecksumType"] == "COMPOSITE"
    uid = created["UploadId"]
    parts = []
    for n, body in ((1, BIG), (2, TAIL)):
        r = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm=algo)
        assert r[f"Checksum{algo}"] == b64(fn(body))
        parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algo}": r[f"Checksum{algo}"]})
    done = finish(s3, bucket, "k", uid, parts)
    expected = f"{b64(fn(fn(BIG) + fn(TAIL)))}-2"
    assert done[f"Checksum{algo}"] == expected and done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == expected


def test_full_object_crc32c_is_the_crc_of_the_whole_object(server, s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32C",
                                     ChecksumType="FULL_OBJECT")["UploadId"]
    parts = []
    for n, body in ((1, BIG), (2, TAIL)):  # raw: boto3 computes CRC32C only with its optional crt extra
        r = raw.signed(server, "PUT", f"/{bucket}/k?partNumber={n}&uploadId={uid}", body=body,
                       headers={"x-amz-checksum-crc32c": b64(crc32c_(body))})
        assert r.status == 200
        parts.append({"PartNumber": n, "ETag": r.headers["etag"]})
    whole = b64(crc32c_(BIG + TAIL))
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts, ChecksumCRC32C=b64(crc32c_(b"something else")),
               ChecksumType="FULL_OBJECT")
    assert code(e) == "BadDigest"
    done = finish(s3, bucket, "k", uid, parts, ChecksumCRC32C=whole, ChecksumType="FULL_OBJECT")
    assert done["ChecksumCRC32C"] == whole and done["ChecksumType"] == "FULL_OBJECT"
    h = raw.signed(server, "HEAD", f"/{bucket}/k", headers={"x-amz-checksum-mode": "ENABLED"})
    assert h.headers["x-amz-checksum-crc32c"] == whole


def test_full_object_crc32_needs_no_part_checksums_in_complete(s3, bucket):
    uid, parts = start(s3, bucket, "k", [BIG, TAIL], ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    done = finish(s3, bucket, "k", uid, [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts])
    assert done["ChecksumCRC32"] == b64(crc32(BIG + TAIL))


def test_full_object_type_with_sha256_is_invalid_request(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT")
    assert code(e) == "InvalidRequest"


def test_checksum_type_without_an_algorithm_is_invalid_request(server, s3, bucket):
    r = raw.signed(server, "POST", f"/{bucket}/k?uploads", headers={"x-amz-checksum-type": "COMPOSITE"})
    assert r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body


def test_complete_with_a_different_checksum_type_than_created_is_bad_digest(s3, bucket):
    uid, parts = start(s3, bucket, "k", [TAIL], ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts, ChecksumType="FULL_OBJECT")
    assert code(e) == "BadDigest"


def test_a_part_whose_checksum_header_does_not_match_is_bad_digest(server, s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    r = raw.signed(server, "PUT", f"/{bucket}/k?partNumber=1&uploadId={uid}", body=b"data",
                   headers={"x-amz-checksum-crc32": b64(crc32(b"other"))})
    assert r.status == 400 and b"<Code>BadDigest</Code>" in r.body
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)


def test_a_part_with_another_algorithm_than_the_upload_is_invalid_request(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"x", ChecksumAlgorithm="SHA1")
    assert code(e) == "InvalidRequest"


def test_a_part_sent_without_checksum_gets_the_uploads_algorithm_computed(server, s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    r = raw.signed(server, "PUT", f"/{bucket}/k?partNumber=1&uploadId={uid}", body=b"plain")
    assert r.status == 200 and r.headers["x-amz-checksum-sha256"] == b64(sha256(b"plain"))
    [part] = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)["Parts"]
    assert part["ChecksumSHA256"] == b64(sha256(b"plain"))


def test_trailer_checksum_of_a_streamed_part_is_verified_and_listed(s3, bucket):
    # boto3's default for UploadPart: aws-chunked body with an x-amz-checksum-crc32 trailer
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=TAIL, ChecksumAlgorithm="CRC32")
    assert r["ChecksumCRC32"] == b64(crc32(TAIL))
    r = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)
    assert r["Parts"][0]["ChecksumCRC32"] == b64(crc32(TAIL)) and r["ChecksumAlgorithm"] == "CRC32"


def test_composite_complete_missing_a_part_checksum_is_invalid_request(s3, bucket):
    uid, parts = start(s3, bucket, "k", [TAIL], ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, [{"PartNumber": 1, "ETag": parts[0]["ETag"]}])
    assert code(e) == "InvalidRequest"


def test_composite_complete_with_a_wrong_part_checksum_is_invalid_part(s3, bucket):
    uid, parts = start(s3, bucket, "k", [TAIL], ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, [{**parts[0], "ChecksumCRC32": b64(crc32(b"nope"))}])
    assert code(e) == "InvalidPart"


def test_checksummed_uploads_need_part_numbers_from_1_without_gaps(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=TAIL, ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, [{"PartNumber": 2, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}])
    assert code(e) == "InvalidPartOrder"


def test_uploads_are_listed_with_their_checksum_algorithm(s3, bucket):
    s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA1")
    [u] = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert u["ChecksumAlgorithm"] == "SHA1" and u["ChecksumType"] == "COMPOSITE"


def test_an_upload_without_an_algorithm_has_no_object_checksum(s3, bucket):
    uid, parts = start(s3, bucket, "k", [TAIL])
    done = finish(s3, bucket, "k", uid, parts)
    assert not any(k.startswith("Checksum") for k in done)
