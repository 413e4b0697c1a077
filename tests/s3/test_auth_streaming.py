"""SigV4 through the server: hand-built aws-chunked uploads (signed chunks, signed trailers, unsigned trailers),
declared lengths, the payload-hash header, clock skew, SigV2 and presigned URLs used for another method."""

import base64
import datetime
import urllib.error
import urllib.request
import zlib

import botocore.auth
import botocore.crt.auth
import crc32c
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import raw

from . import streaming_support as streaming


def error_code(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def absent(s3, bucket, key) -> bool:
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def flip_after(marker: bytes):
    """A tamper function changing the first hex digit that follows ``marker`` (a signature)."""
    def flip(body: bytes) -> bytes:
        at = body.index(marker) + len(marker)
        return body[:at] + (b"0" if body[at:at + 1] != b"0" else b"1") + body[at + 1:]
    return flip


PAYLOAD = bytes(range(251)) * 800  # 200,800 bytes: three 64 KiB chunks and a short one


# --- STREAMING-AWS4-HMAC-SHA256-PAYLOAD -----------------------------------------------------------------------------

@pytest.mark.parametrize("size,chunk", [(0, 65536), (1, 65536), (65536, 65536), (200_800, 65536), (50_000, 8192)])
def test_signed_chunked_upload_stores_the_exact_bytes(server, s3, bucket, size, chunk):
    data = PAYLOAD[:size]
    r = streaming.put_signed_chunked(server, f"/{bucket}/signed", data, chunk=chunk)
    assert r.status == 200, r.body
    got = s3.get_object(Bucket=bucket, Key="signed")
    assert got["Body"].read() == data and got["ContentLength"] == size
    assert "ContentEncoding" not in got  # the aws-chunked framing is not part of the object


def test_tampered_chunk_data_is_signature_does_not_match_and_stores_nothing(server, s3, bucket):
    r = streaming.put_signed_chunked(server, f"/{bucket}/tampered", PAYLOAD,
                                     tamper=lambda body: body.replace(b"\x07\x08\x09", b"\x07\x08\x0a", 1))
    assert r.status == 403 and error_code(r.body) == "SignatureDoesNotMatch"
    assert absent(s3, bucket, "tampered")


def test_tampered_chunk_signature_is_signature_does_not_match(server, s3, bucket):
    r = streaming.put_signed_chunked(server, f"/{bucket}/badsig", PAYLOAD, tamper=flip_after(b"chunk-signature="))
    assert r.status == 403 and error_code(r.body) == "SignatureDoesNotMatch"
    assert absent(s3, bucket, "badsig")


def test_a_tampered_last_chunk_does_not_replace_the_existing_object(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"original")
    r = streaming.put_signed_chunked(server, f"/{bucket}/keep", PAYLOAD,
                                     tamper=lambda body: body[:-60] + bytes([body[-60] ^ 1]) + body[-59:])
    assert r.status in (400, 403)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"original"


def test_body_cut_before_the_final_chunk_is_incomplete_body(server, s3, bucket):
    def cut(body: bytes) -> bytes:
        return body[:body.rindex(b"0;chunk-signature=")]

    r = streaming.put_signed_chunked(server, f"/{bucket}/cut", PAYLOAD, tamper=cut)
    assert r.status == 400 and error_code(r.body) == "IncompleteBody"
    assert absent(s3, bucket, "cut")


@pytest.mark.parametrize("declared", [len(PAYLOAD) + 1, len(PAYLOAD) - 1])
def test_decoded_content_length_mismatch_is_incomplete_body(server, s3, bucket, declared):
    r = streaming.put_signed_chunked(server, f"/{bucket}/len", PAYLOAD, decoded_length=declared)
    assert r.status == 400 and error_code(r.body) == "IncompleteBody"
    assert absent(s3, bucket, "len")


def test_missing_decoded_content_length_is_missing_content_length(server, bucket):
    headers = streaming.sign_headers(server, "PUT", f"/{bucket}/nolen", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                     {"Content-Encoding": "aws-chunked"})
    r = raw.send(server, "PUT", f"/{bucket}/nolen", headers=headers, body=b"0;chunk-signature=" + b"0" * 64 +
                 b"\r\n\r\n")
    assert r.status == 411 and error_code(r.body) == "MissingContentLength"


# --- STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER ---------------------------------------------------------------------

def test_signed_chunks_with_a_signed_crc32_trailer_are_stored_with_the_checksum(server, s3, bucket):
    r = streaming.put_signed_chunked(server, f"/{bucket}/trailer", PAYLOAD,
                                     trailer=("x-amz-checksum-crc32", crc32_b64(PAYLOAD)))
    assert r.status == 200, r.body
    head = s3.head_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(PAYLOAD) and head["ContentLength"] == len(PAYLOAD)
    assert s3.get_object(Bucket=bucket, Key="trailer")["Body"].read() == PAYLOAD


def test_signed_chunks_with_a_wrong_crc32_trailer_are_bad_digest(server, s3, bucket):
    r = streaming.put_signed_chunked(server, f"/{bucket}/trailer", PAYLOAD,
                                     trailer=("x-amz-checksum-crc32", crc32_b64(b"something else")))
    assert r.status == 400 and error_code(r.body) == "BadDigest"
    assert absent(s3, bucket, "trailer")


def test_tampered_trailer_signature_is_signature_does_not_match(server, s3, bucket):
    r = streaming.put_signed_chunked(server, f"/{bucket}/trailer", PAYLOAD,
                                     trailer=("x-amz-checksum-crc32", crc32_b64(PAYLOAD)),
                                     tamper=flip_after(b"x-amz-trailer-signature:"))
    assert r.status == 403 and error_code(r.body) == "SignatureDoesNotMatch"
    assert absent(s3, bucket, "trailer")


def test_trailer_value_changed_after_signing_is_refused(server, s3, bucket):
    good, other = crc32_b64(PAYLOAD), crc32_b64(b"x")
    r = streaming.put_signed_chunked(server, f"/{bucket}/trailer", PAYLOAD,
                                     trailer=("x-amz-checksum-crc32", good),
                                     tamper=lambda body: body.replace(good.encode(), other.encode()))
    assert r.status in (400, 403) and error_code(r.body) in ("SignatureDoesNotMatch", "BadDigest")
    assert absent(s3, bucket, "trailer")


# --- STREAMING-UNSIGNED-PAYLOAD-TRAILER -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,value", [
    ("x-amz-checksum-crc32", crc32_b64(PAYLOAD)),
    ("x-amz-checksum-crc32c", base64.b64encode(crc32c.crc32c(PAYLOAD).to_bytes(4, "big")).decode()),
])
def test_unsigned_payload_with_a_checksum_trailer_is_stored(server, s3, bucket, name, value):
    r = streaming.put_unsigned_trailer(server, f"/{bucket}/unsigned", PAYLOAD, (name, value))
    assert r.status == 200, r.body
    head = s3.head_object(Bucket=bucket, Key="unsigned", ChecksumMode="ENABLED")
    assert head["Checksum" + name[15:].upper()] == value
    assert s3.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == PAYLOAD


def test_unsigned_payload_trailer_with_a_short_decoded_length_is_incomplete_body(server, s3, bucket):
    r = streaming.put_unsigned_trailer(server, f"/{bucket}/unsigned", PAYLOAD,
                                       ("x-amz-checksum-crc32", crc32_b64(PAYLOAD)), decoded_length=len(PAYLOAD) + 10)
    assert r.status == 400 and error_code(r.body) == "IncompleteBody"
    assert absent(s3, bucket, "unsigned")


def test_unsigned_payload_trailer_missing_the_declared_trailer_is_refused(server, s3, bucket):
    headers = streaming.sign_headers(server, "PUT", f"/{bucket}/unsigned", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", {
        "Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": "3"})
    r = raw.send(server, "PUT", f"/{bucket}/unsigned", headers=headers, body=b"3\r\nabc\r\n0\r\n\r\n")
    assert r.status == 400 and error_code(r.body) == "IncompleteBody"
    assert absent(s3, bucket, "unsigned")


# --- the payload hash header, clock skew, SigV2 ----------------------------------------------------------------------

def test_missing_x_amz_content_sha256_is_invalid_request(server, bucket):
    headers = streaming.sign_headers(server, "GET", f"/{bucket}", "UNSIGNED-PAYLOAD")
    headers = {k: v for k, v in headers.items() if k.lower() != "x-amz-content-sha256"}
    r = raw.send(server, "GET", f"/{bucket}", headers=headers)
    assert r.status == 400 and error_code(r.body) == "InvalidRequest"
    assert b"x-amz-content-sha256" in r.body


def test_malformed_x_amz_content_sha256_is_invalid_argument(server, bucket):
    headers = streaming.sign_headers(server, "GET", f"/{bucket}", "not-a-hash")
    r = raw.send(server, "GET", f"/{bucket}", headers=headers)
    assert r.status == 400 and error_code(r.body) == "InvalidArgument"


def test_unsigned_payload_put_is_accepted(server, s3, bucket):
    headers = streaming.sign_headers(server, "PUT", f"/{bucket}/u", "UNSIGNED-PAYLOAD")
    r = raw.send(server, "PUT", f"/{bucket}/u", headers=headers, body=b"unsigned body")
    assert r.status == 200
    assert s3.get_object(Bucket=bucket, Key="u")["Body"].read() == b"unsigned body"


def _client_with_clock(server, monkeypatch, offset: datetime.timedelta):
    # the client's clock is off, not the server's: botocore reads the time through this hook when it signs
    real = botocore.auth.get_current_datetime
    for module in (botocore.auth, botocore.crt.auth):  # the CRT signer (awscrt installed) reads it too
        monkeypatch.setattr(module, "get_current_datetime", lambda *a, **k: real(*a, **k) + offset)
    return server.client()


@pytest.mark.parametrize("minutes", [-16, 16, -60 * 24])
def test_request_signed_more_than_15_minutes_off_is_request_time_too_skewed(server, bucket, monkeypatch, minutes):
    c = _client_with_clock(server, monkeypatch, datetime.timedelta(minutes=minutes))
    with pytest.raises(ClientError) as e:
        c.list_objects_v2(Bucket=bucket)
    err = e.value.response
    assert err["Error"]["Code"] == "RequestTimeTooSkewed" and err["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("minutes", [-14, 14])
def test_request_signed_within_15_minutes_is_accepted(server, bucket, monkeypatch, minutes):
    c = _client_with_clock(server, monkeypatch, datetime.timedelta(minutes=minutes))
    assert c.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_skewed_request_error_names_request_and_server_time(server, bucket, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real(*a, **k) - datetime.timedelta(hours=1))
    headers = streaming.sign_headers(server, "GET", f"/{bucket}", "UNSIGNED-PAYLOAD")
    monkeypatch.undo()
    r = raw.send(server, "GET", f"/{bucket}", headers=headers)
    assert r.status == 403 and b"<RequestTime>" in r.body and b"<ServerTime>" in r.body


def test_sigv2_authorization_header_is_invalid_request_asking_for_sigv4(server, bucket):
    r = raw.send(server, "GET", f"/{bucket}", headers={"Authorization": f"AWS {server.access_key}:c2lnbmF0dXJl",
                                                        "Date": "Tue, 24 Nov 2026 10:00:00 GMT"})
    assert r.status == 400 and error_code(r.body) == "InvalidRequest"
    assert b"AWS4-HMAC-SHA256" in r.body


def test_unknown_authorization_scheme_is_invalid_argument(server, bucket):
    r = raw.send(server, "GET", f"/{bucket}", headers={"Authorization": "Bearer abc"})
    assert r.status == 400 and error_code(r.body) == "InvalidArgument"


# --- presigned URLs used for something else ----------------------------------------------------------------------------

def _presign(server, method: str, params: dict) -> str:
    import boto3
    c = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                     aws_secret_access_key=server.secret_key, region_name="us-east-1",
                     config=Config(signature_version="s3v4"))
    return c.generate_presigned_url(method, Params=params, ExpiresIn=300)


def _open(url: str, method: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("signed_for,used_with", [("put_object", "GET"), ("delete_object", "GET"),
                                                  ("get_object", "DELETE"), ("get_object", "HEAD")])
def test_presigned_url_used_with_another_method_is_signature_does_not_match(server, s3, bucket, signed_for,
                                                                            used_with):
    s3.put_object(Bucket=bucket, Key="k", Body=b"still here")
    url = _presign(server, signed_for, {"Bucket": bucket, "Key": "k"})
    status, body = _open(url, used_with)
    assert status == 403
    if used_with != "HEAD":
        assert error_code(body) == "SignatureDoesNotMatch"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"still here"


def test_presigned_url_for_one_key_cannot_read_another(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"no")
    url = _presign(server, "get_object", {"Bucket": bucket, "Key": "public"})
    status, body = _open(url.replace("/public?", "/secret?"), "GET")
    assert status == 403 and error_code(body) == "SignatureDoesNotMatch"
