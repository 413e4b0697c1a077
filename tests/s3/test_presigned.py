"""Presigned URLs made by boto3's generate_presigned_url and used by plain HTTP clients (urllib, http.client), as
a browser or curl would: GET/PUT/HEAD/DELETE, expiry, the one-week ceiling and tampering."""

import http.client
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
from botocore.config import Config


@pytest.fixture
def s3(server):
    """boto3 presigns with SigV2 unless told otherwise; S3 itself only takes SigV4 in new regions, as we do."""
    return server.client(signature_version="s3v4")


def fetch(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of a plain, unsigned-by-us HTTP request."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def presign(s3, op: str, bucket: str, key: str, expires: int = 300, **params) -> str:
    return s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires)


def test_presigned_get_returns_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"presigned body", ContentType="text/plain")
    status, headers, body = fetch(presign(s3, "get_object", bucket, "doc.txt"))
    assert (status, body) == (200, b"presigned body")
    assert headers["content-type"] == "text/plain"


def test_presigned_get_with_signed_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
    url = presign(s3, "get_object", bucket, "report.csv", ResponseContentDisposition='attachment; filename="r.csv"')
    status, headers, _ = fetch(url)
    assert status == 200 and headers["content-disposition"] == 'attachment; filename="r.csv"'


def test_presigned_put_from_urllib_creates_the_object(s3, bucket):
    url = presign(s3, "put_object", bucket, "upload.bin")
    status, headers, _ = fetch(url, "PUT", b"\x00browser bytes\xff")
    assert status == 200 and headers["etag"]
    assert s3.get_object(Bucket=bucket, Key="upload.bin")["Body"].read() == b"\x00browser bytes\xff"


def test_presigned_put_from_http_client_with_a_content_type_as_a_browser_sends_it(server, s3, bucket):
    parts = urlsplit(presign(s3, "put_object", bucket, "photos/cat picture.jpg"))
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("PUT", f"{parts.path}?{parts.query}", body=b"JPEG" * 1000,
                 headers={"Content-Type": "image/jpeg", "Origin": "http://uploader.test"})
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == 200
    head = s3.head_object(Bucket=bucket, Key="photos/cat picture.jpg")
    assert head["ContentLength"] == 4000 and head["ContentType"] == "image/jpeg"


def test_presigned_head_reports_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="h", Body=b"12345")
    status, headers, body = fetch(presign(s3, "head_object", bucket, "h"), "HEAD")
    assert status == 200 and headers["content-length"] == "5" and body == b""


def test_presigned_delete_removes_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    status, _, _ = fetch(presign(s3, "delete_object", bucket, "gone"), "DELETE")
    assert status == 204
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_expired_presigned_url_is_access_denied_request_has_expired(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = presign(s3, "get_object", bucket, "k", expires=1)
    time.sleep(2.1)
    status, _, body = fetch(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert b"<Message>Request has expired</Message>" in body
    assert b"<X-Amz-Expires>1</X-Amz-Expires>" in body and b"<ServerTime>" in body


def test_expiry_of_exactly_one_week_is_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"week")
    status, _, body = fetch(presign(s3, "get_object", bucket, "k", expires=604800))
    assert (status, body) == (200, b"week")


def test_expiry_beyond_one_week_is_authorization_query_parameters_error(s3, bucket):
    status, _, body = fetch(presign(s3, "get_object", bucket, "k", expires=604801))
    assert status == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in body
    assert b"604800" in body


@pytest.mark.parametrize("tamper", [
    lambda url: url.replace("/k?", "/other?"),
    lambda url: with_query(url, **{"X-Amz-Expires": "600"}),
    lambda url: with_query(url, **{"response-content-type": "text/html"}),
    lambda url: with_query(url, **{"X-Amz-Signature": "0" * 64}),
])
def test_tampered_presigned_url_is_signature_does_not_match(s3, bucket, tamper):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object(Bucket=bucket, Key="other", Body=b"y")
    status, _, body = fetch(tamper(presign(s3, "get_object", bucket, "k")))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_a_presigned_get_url_cannot_be_used_to_put(s3, bucket):
    status, _, body = fetch(presign(s3, "get_object", bucket, "k"), "PUT", b"sneaky")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    with pytest.raises(Exception):
        s3.head_object(Bucket=bucket, Key="k")


def test_presigned_url_signed_with_the_wrong_secret_is_refused(server, bucket):
    other = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                         aws_secret_access_key="not-the-secret", region_name="us-east-1",
                         config=Config(signature_version="s3v4"))
    status, _, body = fetch(presign(other, "get_object", bucket, "k"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_presigned_url_missing_its_signature_is_authorization_query_parameters_error(s3, bucket):
    parts = urlsplit(presign(s3, "get_object", bucket, "k"))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "X-Amz-Signature"]
    status, _, body = fetch(urlunsplit(parts._replace(query=urlencode(query))))
    assert status == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in body


def test_presigned_put_from_an_allowed_origin_gets_cors_headers(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["http://uploader.test"], "AllowedMethods": ["PUT"], "ExposeHeaders": ["ETag"]}]})
    status, headers, _ = fetch(presign(s3, "put_object", bucket, "via-browser"), "PUT", b"x",
                               headers={"Origin": "http://uploader.test"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://uploader.test"
    assert headers["access-control-expose-headers"] == "ETag"
