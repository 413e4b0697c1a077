"""SigV4 presigned URLs and the whole boto3 pipeline, verified by router/sigv4.py."""

from __future__ import annotations

import calendar
import hashlib
import time
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from router import sigv4
from tests.router.sigv4_support import BOTO_AK, BOTO_SK, KEYS, aws_error, presigned_by_botocore, secrets


# --- presigned URLs through botocore -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_presigned_get_from_botocore_verifies_for_awkward_keys(key):
    raw_path, query, headers, when = presigned_by_botocore("GET", "/bucket/" + quote(key, safe="/~"),
                                                           "response-content-type=text%2Fplain")
    verified = sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when + 10)
    assert verified.payload_hash == "UNSIGNED-PAYLOAD"
    assert verified.seed_signature in query


def test_presigned_url_is_rejected_after_x_amz_expires_seconds():
    raw_path, query, headers, when = presigned_by_botocore("GET", "/bucket/k", expires=60)
    sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when + 60)
    with aws_error("AccessDenied") as err:
        sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when + 61)
    assert err.value.message == "Request has expired"


def test_presigned_url_dated_more_than_fifteen_minutes_ahead_is_not_yet_valid():
    raw_path, query, headers, when = presigned_by_botocore("GET", "/bucket/k")
    sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when - 899)
    with aws_error("AccessDenied") as err:
        sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when - 901)
    assert err.value.message == "Request is not yet valid"


@pytest.mark.parametrize("expires,ok", [(0, True), (1, True), (604800, True), (604801, False), (-1, False)])
def test_presigned_expiry_is_limited_to_one_week(expires, ok):
    raw_path, query, headers, when = presigned_by_botocore("GET", "/bucket/k", expires=expires)
    check = lambda: sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    if ok:
        check()
    else:
        with aws_error("AuthorizationQueryParametersError"):
            check()


@pytest.mark.parametrize("tamper,code", [
    pytest.param(lambda q: q.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"), "SignatureDoesNotMatch",
                 id="extended-expiry"),
    pytest.param(lambda q: q + "&versionId=1", "SignatureDoesNotMatch", id="added-param"),
    pytest.param(lambda q: q.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
                 "AuthorizationQueryParametersError", id="algorithm"),
    pytest.param(lambda q: "&".join(p for p in q.split("&") if not p.startswith("X-Amz-SignedHeaders")),
                 "AuthorizationQueryParametersError", id="missing-signed-headers"),
    pytest.param(lambda q: q.replace("X-Amz-Date=", "X-Amz-Date=x"), "AuthorizationQueryParametersError",
                 id="bad-date"),
    pytest.param(lambda q: q.replace("X-Amz-Expires=3600", "X-Amz-Expires=soon"),
                 "AuthorizationQueryParametersError", id="bad-expires"),
    pytest.param(lambda q: q.replace("%2Fs3%2F", "%2Fec2%2F"), "AuthorizationQueryParametersError",
                 id="other-service"),
    pytest.param(lambda q: q + "&X-Amz-Expires=9", "AuthorizationQueryParametersError", id="duplicate-param"),
])
def test_presigned_url_rejects_tampered_or_malformed_auth_parameters(tamper, code):
    raw_path, query, headers, when = presigned_by_botocore("GET", "/bucket/k")
    with aws_error(code):
        sigv4.verify_presigned("GET", raw_path, tamper(query), headers, secrets({BOTO_AK: BOTO_SK}), when)


def test_presigned_url_rejects_wrong_secret_and_unknown_key():
    raw_path, query, headers, when = presigned_by_botocore("GET", "/bucket/k")
    with aws_error("SignatureDoesNotMatch"):
        sigv4.verify_presigned("GET", raw_path, query, headers, secrets({BOTO_AK: "other"}), when)
    with aws_error("InvalidAccessKeyId"):
        sigv4.verify_presigned("GET", raw_path, query, headers, secrets({}), when)


def test_presigned_put_rejects_x_amz_headers_the_url_did_not_sign():
    raw_path, query, headers, when = presigned_by_botocore("PUT", "/bucket/k")
    sigv4.verify_presigned("PUT", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    with aws_error("AccessDenied") as err:
        sigv4.verify_presigned("PUT", raw_path, query, {**headers, "x-amz-acl": "public-read"},
                               secrets({BOTO_AK: BOTO_SK}), when)
    assert err.value.extra == {"HeadersNotSigned": "x-amz-acl"}


def test_presigned_put_with_signed_headers_verifies_and_binds_their_values():
    raw_path, query, headers, when = presigned_by_botocore("PUT", "/bucket/k",
                                                           headers={"x-amz-acl": "private", "Content-Type": "a/b"})
    assert "content-type%3Bhost%3Bx-amz-acl" in query
    sigv4.verify_presigned("PUT", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    with aws_error("SignatureDoesNotMatch"):
        sigv4.verify_presigned("PUT", raw_path, query, {**headers, "x-amz-acl": "public-read"},
                               secrets({BOTO_AK: BOTO_SK}), when)


# --- the whole botocore client pipeline (serializer + checksums + signer), captured before it hits the wire -------


def captured_requests(endpoint: str, calls):
    sent = []

    def capture(request, **_):
        body = request.body.read() if hasattr(request.body, "read") else request.body
        sent.append((request.method, request.url, request.headers, body or b""))
        return AWSResponse(request.url, 200, {"ETag": '"0"'}, type("Raw", (), {"stream": lambda *a, **k: iter(())})())

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=BOTO_AK,
                          aws_secret_access_key=BOTO_SK, config=Config(s3={"addressing_style": "path"}))
    client.meta.events.register("before-send", capture)
    for call in calls:
        try:
            call(client)
        except Exception:  # the fake empty response may not parse; the request was captured already
            pass
    out = []
    for method, url, headers, body in sent:
        split = urlsplit(url)
        lower = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in headers.items()}
        lower["host"] = split.netloc
        out.append((method, split.path, split.query, lower, body))
    return out


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://127.0.0.1:9443"])
def test_requests_from_a_real_boto3_client_verify(endpoint):
    key = "dir/ünï cødé+%~=.txt"
    calls = [
        lambda c: c.put_object(Bucket="bucket", Key=key, Body=b"payload", Metadata={"m": "v"}),
        lambda c: c.get_object(Bucket="bucket", Key=key, Range="bytes=0-3"),
        lambda c: c.list_objects_v2(Bucket="bucket", Prefix="dir/ü +", Delimiter="/", MaxKeys=7),
        lambda c: c.create_multipart_upload(Bucket="bucket", Key=key),
        lambda c: c.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": key}]}),
        lambda c: c.copy_object(Bucket="bucket", Key="b", CopySource={"Bucket": "bucket", "Key": key}),
    ]
    requests = captured_requests(endpoint, calls)
    assert len(requests) == len(calls)
    for method, path, query, headers, body in requests:
        when = calendar.timegm(time.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))
        verified = sigv4.verify_header_auth(method, path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
        if len(verified.payload_hash) == 64:
            assert verified.payload_hash == hashlib.sha256(body).hexdigest()
