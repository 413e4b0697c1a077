"""Object headers: Content-Type default, Expires, Content-Encoding (aws-chunked stripped), response-* overrides
(signed requests only), storage classes, user metadata (unicode, the 2 KB limit), Last-Modified."""

import base64
import datetime
import email.utils
import time
import urllib.request
import zlib

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import raw

from . import streaming_support as streaming


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def error_code(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


def test_content_type_defaults_to_binary_octet_stream(server, s3, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/k", body=b"x")
    assert r.status == 200
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "binary/octet-stream"


def test_content_type_given_is_kept(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"{}", ContentType="application/json; charset=utf-8")
    assert s3.get_object(Bucket=bucket, Key="k")["ContentType"] == "application/json; charset=utf-8"


def test_expires_round_trips(s3, bucket):
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Expires=when)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"


def test_content_encoding_gzip_is_kept(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"\x1f\x8b", ContentEncoding="gzip")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentEncoding"] == "gzip"


def test_aws_chunked_is_stripped_from_content_encoding_and_the_rest_kept(server, s3, bucket):
    data = b"gzipped bytes, supposedly"
    headers = streaming.sign_headers(server, "PUT", f"/{bucket}/k", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", {
        "Content-Encoding": "aws-chunked,gzip", "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(data))})
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    r = raw.send(server, "PUT", f"/{bucket}/k", headers=headers,
                 body=streaming.unsigned_chunks(data, 1024, ("x-amz-checksum-crc32", crc)))
    assert r.status == 200, r.body
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentEncoding"] == "gzip" and head["ContentLength"] == len(data)


def test_aws_chunked_alone_leaves_no_content_encoding(server, s3, bucket):
    r = streaming.put_signed_chunked(server, f"/{bucket}/k", b"plain")
    assert r.status == 200
    assert "ContentEncoding" not in s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.parametrize("header,param,value", [
    ("ContentType", "ResponseContentType", "text/x-override"),
    ("ContentDisposition", "ResponseContentDisposition", 'attachment; filename="a b.txt"'),
    ("CacheControl", "ResponseCacheControl", "no-cache, max-age=0"),
    ("ContentLanguage", "ResponseContentLanguage", "fr-CA"),
    ("ContentEncoding", "ResponseContentEncoding", "identity"),
])
def test_response_overrides_on_a_signed_get(s3, bucket, header, param, value):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain", CacheControl="max-age=60")
    got = s3.get_object(Bucket=bucket, Key="k", **{param: value})
    assert got[header] == value and got["Body"].read() == b"x"


def test_response_expires_override(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    when = datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    got = s3.get_object(Bucket=bucket, Key="k", ResponseExpires=when)
    assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 06 May 2031 07:08:09 GMT"


def test_response_overrides_do_not_change_the_stored_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
    s3.get_object(Bucket=bucket, Key="k", ResponseContentType="image/png")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "text/plain"


def test_response_overrides_through_a_presigned_url(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    signer = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key, region_name="us-east-1",
                          config=Config(signature_version="s3v4"))
    url = signer.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "k", "ResponseContentDisposition": "attachment; filename=x.bin"}, ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.headers["Content-Disposition"] == "attachment; filename=x.bin"


def test_response_overrides_on_an_anonymous_request_are_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.send(server, "GET", f"/{bucket}/k?response-content-type=text%2Fhtml")
    assert r.status in (400, 403) and "text/html" not in r.headers.get("content-type", "")


# --- storage classes ----------------------------------------------------------------------------------------------

CLASSES = ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "REDUCED_REDUNDANCY", "GLACIER",
           "DEEP_ARCHIVE"]


@pytest.mark.parametrize("sc", CLASSES)
def test_storage_class_is_accepted_and_reported_by_head_and_listings(s3, bucket, sc):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass=sc)
    assert s3.head_object(Bucket=bucket, Key="k")["StorageClass"] == sc
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["StorageClass"] == sc
    assert s3.list_objects(Bucket=bucket)["Contents"][0]["StorageClass"] == sc
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["StorageClass"])
    assert attrs["StorageClass"] == sc


def test_standard_storage_class_is_not_echoed_by_head(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="STANDARD")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="k")
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["StorageClass"] == "STANDARD"


@pytest.mark.parametrize("sc", ["standard_ia", "COLD", ""])
def test_invalid_storage_class_is_invalid_storage_class(server, s3, bucket, sc):
    r = raw.signed(server, "PUT", f"/{bucket}/k", body=b"x", headers={"x-amz-storage-class": sc})
    assert r.status == 400 and error_code(r.body) == "InvalidStorageClass"


# --- user metadata ------------------------------------------------------------------------------------------------

def _put_with_utf8_header(server, path: str, name: str, value: str) -> raw.Reply:
    """boto3 refuses non-ASCII metadata; S3 itself takes UTF-8 header bytes, signed as UTF-8."""
    import hashlib
    headers = streaming.sign_headers(server, "PUT", path, hashlib.sha256(b"x").hexdigest(), {name: value})
    headers[name] = value.encode("utf-8")
    return raw.send(server, "PUT", path, headers=headers, body=b"x")


def test_unicode_metadata_values_round_trip(server, s3, bucket):
    r = _put_with_utf8_header(server, f"/{bucket}/k", "x-amz-meta-city", "Zürich")
    assert r.status == 200, r.body
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-city"].encode("latin-1").decode("utf-8") == "Zürich"


def test_mime_encoded_metadata_value_is_kept_as_sent(s3, bucket):
    encoded = "=?UTF-8?B?WsO8cmljaA==?="
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"city": encoded})
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"]["city"] == encoded


def test_metadata_names_are_lower_cased(server, s3, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/k", body=b"x", headers={"X-Amz-Meta-CamelCase": "v"})
    assert r.status == 200
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"camelcase": "v"}


def _metadata_of_size(total: int) -> dict:
    # S3 counts the bytes of each name (without x-amz-meta-) plus its value
    return {"a": "v" * (total - 1)}


def test_user_metadata_of_exactly_2048_bytes_is_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata=_metadata_of_size(2048))
    assert len(s3.head_object(Bucket=bucket, Key="k")["Metadata"]["a"]) == 2047


def test_user_metadata_of_2049_bytes_is_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata=_metadata_of_size(2049))
    assert code(e) == "MetadataTooLarge"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_metadata_limit_counts_every_entry(s3, bucket):
    meta = {f"k{i:02d}": "v" * 97 for i in range(20)}  # 20 x (3 + 97) = 2000 bytes
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata=meta)
    meta["extra"] = "v" * 44  # 2000 + 5 + 44 = 2049
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x", Metadata=meta)
    assert code(e) == "MetadataTooLarge"


def test_metadata_limit_counts_utf8_bytes_not_characters(server, s3, bucket):
    r = _put_with_utf8_header(server, f"/{bucket}/k", "x-amz-meta-a", "ü" * 1023 + "v")  # 1 + 2047 bytes
    assert r.status == 200, r.body
    r = _put_with_utf8_header(server, f"/{bucket}/k2", "x-amz-meta-a", "ü" * 1024)  # 1 + 2048 bytes
    assert r.status == 400 and error_code(r.body) == "MetadataTooLarge"


# --- Last-Modified ------------------------------------------------------------------------------------------------

def test_last_modified_is_an_rfc_7231_gmt_date_in_whole_seconds(server, s3, bucket):
    before = int(time.time())
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "HEAD", f"/{bucket}/k")
    value = r.headers["last-modified"]
    assert value.endswith(" GMT") and len(value) == 29
    parsed = email.utils.parsedate_to_datetime(value).timestamp()
    assert before - 1 <= parsed <= time.time() + 1


def test_listing_last_modified_matches_head(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]["LastModified"]
    assert abs((head - listed).total_seconds()) < 1


def test_if_modified_since_its_own_last_modified_is_304(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    lm = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=lm)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_if_modified_since_a_second_earlier_returns_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    lm = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    got = s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=lm - datetime.timedelta(seconds=1))
    assert got["Body"].read() == b"x"


def test_unparseable_if_modified_since_is_ignored(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "GET", f"/{bucket}/k", headers={"If-Modified-Since": "not a date"})
    assert r.status == 200 and r.body == b"x"


def test_head_reports_content_length_etag_and_accept_ranges(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentLength"] == 5 and head["ETag"] == put["ETag"] and head["AcceptRanges"] == "bytes"


def test_standard_headers_round_trip_through_copy(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", ContentType="text/csv", ContentDisposition="inline",
                  ContentLanguage="de", CacheControl="no-store", Metadata={"m": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert (head["ContentType"], head["ContentDisposition"], head["ContentLanguage"], head["CacheControl"],
            head["Metadata"]) == ("text/csv", "inline", "de", "no-store", {"m": "1"})



@pytest.mark.parametrize("extra", [
    {"ServerSideEncryption": "AES256"},
    {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32},
    {"ACL": "public-read"},
    {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"},
])
def test_put_asking_for_unimplemented_protection_is_refused_not_ignored(s3, bucket, extra):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="protected", Body=b"x", **extra)
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="protected")


def test_put_with_private_acl_is_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"x", ACL="private")
