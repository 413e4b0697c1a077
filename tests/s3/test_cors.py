"""CORS end to end: Put/Get/DeleteBucketCors, the unauthenticated OPTIONS preflight, and CORS headers on real
(signed) responses, as S3 documents them."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from tests.support import raw

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

RULES = [
    {"ID": "uploads", "AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["PUT", "POST", "DELETE"],
     "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["http://*.example.org"], "AllowedMethods": ["GET", "HEAD"],
     "AllowedHeaders": ["x-amz-*", "Content-Type"]},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def error(exc_info) -> tuple[int, str]:
    r = exc_info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture
def cors_bucket(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    return bucket


def preflight(server, path: str, origin: str | None, method: str | None, headers: str | None = None):
    h = {}
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return raw.send(server, "OPTIONS", path, headers=h)


def cors_headers(reply) -> dict:
    return {k: v for k, v in reply.headers.items() if k.startswith("access-control-")}


# --- Put/Get/DeleteBucketCors ------------------------------------------------------------------------------------

def test_cors_configuration_round_trips(s3, cors_bucket):
    got = s3.get_bucket_cors(Bucket=cors_bucket)["CORSRules"]
    assert got[0] == RULES[0]
    assert got[1] == RULES[1] and got[2] == RULES[2]


def test_a_bucket_without_cors_is_no_such_cors_configuration(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert error(e) == (404, "NoSuchCORSConfiguration")
    assert e.value.response["Error"]["Message"] == "The CORS configuration does not exist"


def test_deleting_cors_is_204_and_leaves_no_configuration(s3, cors_bucket):
    assert s3.delete_bucket_cors(Bucket=cors_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=cors_bucket)
    assert error(e) == (404, "NoSuchCORSConfiguration")


def test_putting_cors_replaces_the_whole_configuration(s3, cors_bucket):
    s3.put_bucket_cors(Bucket=cors_bucket, CORSConfiguration={"CORSRules": [RULES[2]]})
    assert s3.get_bucket_cors(Bucket=cors_bucket)["CORSRules"] == [RULES[2]]


def test_unsupported_cors_method_is_invalid_request(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PATCH"]}]})
    assert error(e) == (400, "InvalidRequest")
    assert e.value.response["Error"]["Message"] == \
        "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"


def test_origin_with_two_wildcards_is_invalid_request(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["http://*.*.example.com"], "AllowedMethods": ["GET"]}]})
    assert error(e) == (400, "InvalidRequest")


def test_more_than_one_hundred_rules_are_malformed_xml(s3, bucket):
    rules = [{"AllowedOrigins": [f"http://h{i}.test"], "AllowedMethods": ["GET"]} for i in range(101)]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert error(e) == (400, "MalformedXML")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules[:100]})
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


@pytest.mark.parametrize("body", [
    b"<CORSConfiguration></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
    b"<MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule>",
])
def test_malformed_cors_documents_are_malformed_xml(server, bucket, body):
    r = raw.signed(server, "PUT", f"/{bucket}?cors", body=body,
                   headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body


def test_cors_on_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket="no-such-cors-bucket", CORSConfiguration={"CORSRules": [RULES[2]]})
    assert error(e) == (404, "NoSuchBucket")


# --- preflight ---------------------------------------------------------------------------------------------------

def test_preflight_matching_a_rule_answers_its_headers_without_credentials(server, cors_bucket):
    r = preflight(server, f"/{cors_bucket}/photo.jpg", "https://app.example.com", "PUT",
                  "Content-Type, X-Amz-Date, x-amz-meta-caption")
    assert r.status == 200 and r.body == b""
    assert cors_headers(r) == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "PUT, POST, DELETE",
        "access-control-allow-headers": "content-type, x-amz-date, x-amz-meta-caption",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
    }
    assert r.headers["vary"] == VARY


def test_preflight_matches_a_wildcard_subdomain_origin(server, cors_bucket):
    r = preflight(server, f"/{cors_bucket}/k", "http://cdn.example.org", "GET", "x-amz-date")
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "http://cdn.example.org"
    assert r.headers["access-control-allow-methods"] == "GET, HEAD"


def test_preflight_of_a_star_origin_rule_answers_star(server, cors_bucket):
    r = preflight(server, f"/{cors_bucket}", "http://anyone.test", "GET")
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize("origin, method, headers", [
    ("https://evil.test", "PUT", None),               # origin not allowed for PUT
    ("http://cdn.example.org", "DELETE", None),       # method not allowed for that origin
    ("http://cdn.example.org", "GET", "authorization"),  # header not allowed
    ("http://example.org", "GET", "x-amz-date"),      # wildcard needs a subdomain; the * rule allows no headers
    ("https://app.example.com", "PATCH", None),
])
def test_preflight_matching_no_rule_is_403_cors_response(server, cors_bucket, origin, method, headers):
    r = preflight(server, f"/{cors_bucket}/k", origin, method, headers)
    assert r.status == 403 and b"<Code>CORSResponse</Code>" in r.body
    assert b"This CORS request is not allowed." in r.body
    assert "access-control-allow-origin" not in r.headers


def test_preflight_on_a_bucket_without_cors_says_cors_is_not_enabled(server, bucket):
    r = preflight(server, f"/{bucket}/k", "http://x.test", "GET")
    assert r.status == 403 and b"<Code>CORSResponse</Code>" in r.body
    assert b"CORS is not enabled for this bucket." in r.body


def test_preflight_without_origin_is_400_bad_request(server, cors_bucket):
    r = preflight(server, f"/{cors_bucket}/k", None, "GET")
    assert r.status == 400 and b"<Code>BadRequest</Code>" in r.body
    assert b"Insufficient information. Origin request header needed." in r.body


def test_preflight_without_a_requested_method_is_400_bad_request(server, cors_bucket):
    r = preflight(server, f"/{cors_bucket}/k", "http://x.test", None)
    assert r.status == 400 and b"<Code>BadRequest</Code>" in r.body


def test_preflight_on_a_missing_bucket_is_no_such_bucket(server):
    r = preflight(server, "/no-such-cors-bucket/k", "http://x.test", "GET")
    assert r.status == 404 and b"<Code>NoSuchBucket</Code>" in r.body


def test_preflight_after_deleting_cors_is_refused(server, s3, cors_bucket):
    s3.delete_bucket_cors(Bucket=cors_bucket)
    assert preflight(server, f"/{cors_bucket}/k", "http://x.test", "GET").status == 403


# --- CORS headers on real responses ------------------------------------------------------------------------------

def test_signed_get_from_an_allowed_origin_carries_cors_headers(server, s3, cors_bucket):
    s3.put_object(Bucket=cors_bucket, Key="k", Body=b"hello")
    r = raw.signed(server, "GET", f"/{cors_bucket}/k", headers={"Origin": "http://www.example.org"})
    assert r.status == 200 and r.body == b"hello"
    assert r.headers["access-control-allow-origin"] == "http://www.example.org"
    assert r.headers["access-control-allow-methods"] == "GET, HEAD"
    assert r.headers["vary"] == VARY
    assert "access-control-allow-headers" not in r.headers


def test_signed_put_from_an_allowed_origin_exposes_the_configured_headers(server, cors_bucket):
    r = raw.signed(server, "PUT", f"/{cors_bucket}/up", body=b"data", headers={"Origin": "https://app.example.com"})
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert r.headers["access-control-max-age"] == "3000"


def test_response_to_a_request_without_origin_has_no_cors_headers(server, s3, cors_bucket):
    s3.put_object(Bucket=cors_bucket, Key="k", Body=b"x")
    assert cors_headers(raw.signed(server, "GET", f"/{cors_bucket}/k")) == {}


def test_response_to_an_origin_no_rule_allows_has_no_cors_headers(server, s3, cors_bucket):
    s3.put_object(Bucket=cors_bucket, Key="k", Body=b"x")
    r = raw.signed(server, "DELETE", f"/{cors_bucket}/k", headers={"Origin": "http://www.example.org"})
    assert r.status == 204 and cors_headers(r) == {}


def test_a_bucket_without_cors_adds_no_cors_headers(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert cors_headers(raw.signed(server, "GET", f"/{bucket}/k", headers={"Origin": "http://x.test"})) == {}


def test_error_responses_carry_cors_headers_so_the_page_can_read_them(server, cors_bucket):
    r = raw.signed(server, "GET", f"/{cors_bucket}/missing", headers={"Origin": "http://x.test"})
    assert r.status == 404 and b"<Code>NoSuchKey</Code>" in r.body
    assert r.headers["access-control-allow-origin"] == "*"


def test_head_and_streamed_large_get_carry_cors_headers(server, s3, cors_bucket):
    s3.put_object(Bucket=cors_bucket, Key="big", Body=b"z" * (1 << 20))
    head = raw.signed(server, "HEAD", f"/{cors_bucket}/big", headers={"Origin": "http://a.example.org"})
    assert head.status == 200 and head.headers["access-control-allow-origin"] == "http://a.example.org"
    get = raw.signed(server, "GET", f"/{cors_bucket}/big", headers={"Origin": "http://a.example.org"})
    assert len(get.body) == 1 << 20 and get.headers["access-control-allow-origin"] == "http://a.example.org"


def test_bucket_level_responses_carry_cors_headers(server, cors_bucket):
    r = raw.signed(server, "GET", f"/{cors_bucket}?list-type=2", headers={"Origin": "http://x.test"})
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "*"
