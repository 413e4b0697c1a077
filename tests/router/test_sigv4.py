"""SigV4 (S3 flavour) as a specification: AWS's published examples, the building blocks, and header auth
round trips through botocore's signer (presigned URLs: test_sigv4_presigned.py)."""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import quote

import pytest

from router import sigv4
from router.sigv4 import Credential, Verified
from tests.router.sigv4_support import (AK, AMZ_DATE, BOTO_AK, BOTO_SK, EMPTY, EXAMPLE_TIME, HOST, KEYS,
                                        SCOPE, SK, aws_error, secrets, signed_by_botocore)


# --- AWS's published examples (S3 API reference: "Signature Calculations for the Authorization Header") -------

EXAMPLES = [
    pytest.param(
        "GET", "/test.txt", "",
        {"host": HOST, "range": "bytes=0-9", "x-amz-content-sha256": EMPTY, "x-amz-date": AMZ_DATE},
        EMPTY,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        f"x-amz-content-sha256:{EMPTY}\nx-amz-date:20130524T000000Z\n\n"
        f"host;range;x-amz-content-sha256;x-amz-date\n{EMPTY}",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="get-object-with-range"),
    pytest.param(
        "PUT", "/test$file.text", "",
        {"host": HOST, "date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-date": AMZ_DATE,
         "x-amz-storage-class": "REDUCED_REDUNDANCY",
         "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
        "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="put-object"),
    pytest.param(
        "GET", "/", "lifecycle",
        {"host": HOST, "x-amz-content-sha256": EMPTY, "x-amz-date": AMZ_DATE},
        EMPTY,
        f"GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:{EMPTY}\n"
        f"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY}",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="get-bucket-lifecycle"),
    pytest.param(
        "GET", "/", "max-keys=2&prefix=J",
        {"host": HOST, "x-amz-content-sha256": EMPTY, "x-amz-date": AMZ_DATE},
        EMPTY,
        f"GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:{EMPTY}\n"
        f"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY}",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="list-objects-max-keys-prefix"),
]


@pytest.mark.parametrize("method,path,query,headers,payload,canonical,signature", EXAMPLES)
def test_aws_example_canonical_request_and_signature_match_the_documentation(
        method, path, query, headers, payload, canonical, signature):
    signed = sorted(headers)
    assert sigv4.canonical_request(method, path, query, headers, signed, payload) == canonical
    key = sigv4.signing_key(SK, "20130524", "us-east-1", "s3")
    assert sigv4.sign(key, sigv4.string_to_sign(AMZ_DATE, SCOPE, canonical)) == signature


@pytest.mark.parametrize("method,path,query,headers,payload,canonical,signature", EXAMPLES)
def test_aws_example_requests_verify_with_header_auth(method, path, query, headers, payload, canonical, signature):
    signed = ";".join(sorted(headers))
    headers = {**headers, "authorization":
               f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders={signed},Signature={signature}"}
    verified = sigv4.verify_header_auth(method, path, query, headers, secrets({AK: SK}), EXAMPLE_TIME + 60)
    assert verified == Verified(AK, sigv4.signing_key(SK, "20130524", "us-east-1", "s3"), SCOPE, AMZ_DATE,
                                signature, payload)


def test_aws_example_request_signed_with_wrong_secret_is_rejected():
    method, path, query, headers, payload, _, signature = EXAMPLES[0].values
    headers = {**headers, "authorization": f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},"
               f"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={signature}"}
    with aws_error("SignatureDoesNotMatch"):
        sigv4.verify_header_auth(method, path, query, headers, secrets({AK: SK + "x"}), EXAMPLE_TIME)


PRESIGNED_EXAMPLE_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
    "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


def test_aws_presigned_example_canonical_request_matches_the_documentation():
    canonical = sigv4.canonical_request("GET", "/test.txt", PRESIGNED_EXAMPLE_QUERY, {"host": HOST}, ["host"],
                                        "UNSIGNED-PAYLOAD", presigned=True)
    assert canonical == (
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
        "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
        "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD")
    assert hashlib.sha256(canonical.encode()).hexdigest() == \
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"


def test_aws_presigned_example_verifies_within_its_day_of_validity():
    verified = sigv4.verify_presigned("GET", "/test.txt", PRESIGNED_EXAMPLE_QUERY, {"host": HOST},
                                      secrets({AK: SK}), EXAMPLE_TIME + 86400)
    assert verified.seed_signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    assert verified.payload_hash == "UNSIGNED-PAYLOAD"
    assert (verified.access_key, verified.scope, verified.amz_date) == (AK, SCOPE, AMZ_DATE)


def test_aws_presigned_example_is_rejected_once_expired():
    with aws_error("AccessDenied") as err:
        sigv4.verify_presigned("GET", "/test.txt", PRESIGNED_EXAMPLE_QUERY, {"host": HOST}, secrets({AK: SK}),
                               EXAMPLE_TIME + 86401)
    assert err.value.message == "Request has expired"
    assert err.value.extra["X-Amz-Expires"] == "86400"


def test_aws_chunked_upload_example_seed_signature_verifies():
    # "Example: PUT Object" from "Transferring Payload in Multiple Chunks".
    headers = {"host": "s3.amazonaws.com", "x-amz-date": AMZ_DATE, "x-amz-storage-class": "REDUCED_REDUNDANCY",
               "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked",
               "x-amz-decoded-content-length": "66560", "content-length": "66824"}
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE}, SignedHeaders=content-encoding;"
                                "content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                                f"x-amz-storage-class, Signature={seed}")
    verified = sigv4.verify_header_auth("PUT", "/examplebucket/chunkObject.txt", "", headers, secrets({AK: SK}),
                                        EXAMPLE_TIME)
    assert verified.seed_signature == seed
    assert verified.payload_hash == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


# --- the building blocks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,encode_slash,expected", [
    ("AZaz09-_.~", True, "AZaz09-_.~"),
    ("a b", True, "a%20b"),
    ("a/b", True, "a%2Fb"),
    ("a/b", False, "a/b"),
    ("+=&%*$", True, "%2B%3D%26%25%2A%24"),
    ("é€", True, "%C3%A9%E2%82%AC"),
])
def test_uri_encode_keeps_only_rfc3986_unreserved_characters(raw, encode_slash, expected):
    assert sigv4.uri_encode(raw, encode_slash) == expected


@pytest.mark.parametrize("raw_path,expected", [
    ("", "/"),
    ("/", "/"),
    ("/bucket/a%20b", "/bucket/a%20b"),
    ("/bucket/a+b", "/bucket/a%2Bb"),  # '+' in a path is a literal plus, never a space
    ("/bucket/%7Etilde", "/bucket/~tilde"),
    ("/bucket/%e2%82%ac", "/bucket/%E2%82%AC"),
    ("/bucket/%FF%FE", "/bucket/%FF%FE"),  # not UTF-8: still re-encodes to the bytes the client signed
    ("/bucket//a/./b/../c", "/bucket//a/./b/../c"),  # S3 does not normalise the path
    ("/bucket/a%2Fb", "/bucket/a/b"),  # decoded once: an encoded slash is a slash
])
def test_canonical_uri_decodes_once_and_reencodes_without_normalising(raw_path, expected):
    assert sigv4.canonical_uri(raw_path) == expected


@pytest.mark.parametrize("query,expected", [
    ("", ""),
    ("acl", "acl="),
    ("prefix=", "prefix="),
    ("b=2&a=1", "a=1&b=2"),
    ("a=2&a=1&a=", "a=&a=1&a=2"),
    ("a=1&B=1", "B=1&a=1"),  # code point order: uppercase first
    ("prefix=a/b c", "prefix=a%2Fb%20c"),
    ("prefix=a%2fb%7e", "prefix=a%2Fb~"),
    ("k=a+b", "k=a%2Bb"),
    ("a=1&&b=2", "a=1&b=2"),
])
def test_canonical_query_sorts_and_reencodes_parameters(query, expected):
    assert sigv4.canonical_query(query) == expected


def test_canonical_query_drops_only_the_signature_for_presigned_requests():
    query = "X-Amz-Signature=abc&X-Amz-Date=x&a=1"
    assert sigv4.canonical_query(query, drop_signature=True) == "X-Amz-Date=x&a=1"
    assert sigv4.canonical_query(query) == "X-Amz-Date=x&X-Amz-Signature=abc&a=1"


def test_canonical_header_values_are_trimmed_and_inner_spaces_collapsed():
    canonical = sigv4.canonical_request("GET", "/", "", {"host": "h", "x-amz-meta-a": "  one   two \t three  "},
                                        ["host", "x-amz-meta-a"], EMPTY)
    assert "\nx-amz-meta-a:one two three\n" in canonical


def test_credential_scope_joins_date_region_service_and_terminator():
    assert Credential(AK, "20130524", "us-east-1", "s3").scope == SCOPE


def test_chunk_and_trailer_strings_to_sign_have_the_documented_layout():
    assert sigv4.chunk_string_to_sign(AMZ_DATE, SCOPE, "prev", "hash") == \
        f"AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{SCOPE}\nprev\n{EMPTY}\nhash"
    assert sigv4.trailer_string_to_sign(AMZ_DATE, SCOPE, "prev", "hash") == \
        f"AWS4-HMAC-SHA256-TRAILER\n{AMZ_DATE}\n{SCOPE}\nprev\nhash"


def test_signing_key_is_cached_per_secret_date_region_and_service():
    assert sigv4.signing_key(SK, "20130524", "us-east-1", "s3") is sigv4.signing_key(SK, "20130524", "us-east-1", "s3")
    assert sigv4.signing_key(SK, "20130524", "us-east-1", "s3") != sigv4.signing_key(SK, "20130525", "us-east-1", "s3")


@pytest.mark.parametrize("value", [
    f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE}, SignedHeaders=host;x-amz-date, Signature=abc",
    f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=host;x-amz-date,Signature=abc",
    f"AWS4-HMAC-SHA256  Credential={AK}/{SCOPE} ,  SignedHeaders=host;x-amz-date ,Signature=abc ",
])
def test_parse_authorization_tolerates_spacing_around_commas(value):
    credential, signed, signature = sigv4.parse_authorization(value)
    assert credential == Credential(AK, "20130524", "us-east-1", "s3")
    assert signed == ["host", "x-amz-date"]
    assert signature == "abc"


def test_parse_authorization_keeps_slashes_inside_the_access_key():
    credential, _, _ = sigv4.parse_authorization(f"AWS4-HMAC-SHA256 Credential=a/b/{SCOPE},SignedHeaders=host,"
                                                 "Signature=abc")
    assert credential.access_key == "a/b"


@pytest.mark.parametrize("value,code", [
    ("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "InvalidRequest"),  # SigV2
    ("Bearer token", "InvalidArgument"),
    (f"AWS4-HMAC-SHA25 Credential={AK}/{SCOPE},SignedHeaders=host,Signature=abc", "InvalidArgument"),
    ("AWS4-HMAC-SHA256", "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=host", "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=host,Signature=a,Signature=b",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=host,Signature=a,Extra=1",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3,SignedHeaders=host,Signature=a",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws5_request,SignedHeaders=host,Signature=a",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/2013-05-24/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=a",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=Host;x-amz-date,Signature=a",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=host;;x,Signature=a",
     "AuthorizationHeaderMalformed"),
    (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders=host,Signature=", "AuthorizationHeaderMalformed"),
])
def test_parse_authorization_rejects_malformed_or_foreign_schemes_with_s3_error_codes(value, code):
    with aws_error(code) as err:
        sigv4.parse_authorization(value)
    assert err.value.status == 400


def test_unsupported_authorization_type_echoes_the_header_like_s3():
    with aws_error("InvalidArgument") as err:
        sigv4.parse_authorization("Basic U1Q6")
    assert err.value.message == "Unsupported Authorization Type"
    assert err.value.extra == {"ArgumentName": "Authorization", "ArgumentValue": "Basic U1Q6"}


@pytest.mark.parametrize("key", KEYS)
def test_header_auth_accepts_botocore_signed_put_for_awkward_keys(key):
    body = b"hello"
    path = "/bucket/" + quote(key, safe="/~")  # as botocore's REST serializer encodes keys
    raw_path, query, headers, when = signed_by_botocore("PUT", path, headers={"x-amz-meta-note": "  a  b "},
                                                        body=body)
    verified = sigv4.verify_header_auth("PUT", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    assert verified.payload_hash == hashlib.sha256(body).hexdigest()
    assert verified.access_key == BOTO_AK


@pytest.mark.parametrize("query", [
    "list-type=2&prefix=&delimiter=%2F",
    "list-type=2&prefix=a%20b%2B%25~%3D&encoding-type=url",
    "tag=b&tag=a&tag=",
    "uploads",
    "versionId=3%2FL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY%2BMTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
])
def test_header_auth_accepts_botocore_signed_requests_with_repeated_and_empty_query_values(query):
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket", query)
    sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)


def test_header_auth_accepts_a_request_dated_by_the_date_header_alone():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k", date_header=True)
    assert "x-amz-date" not in headers
    verified = sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    assert verified.amz_date == time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))


def test_header_auth_rejects_request_signed_with_wrong_secret():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k", secret="not-the-secret")
    with aws_error("SignatureDoesNotMatch") as err:
        sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    assert err.value.status == 403
    assert err.value.extra["CanonicalRequest"].startswith("GET\n/bucket/k\n")


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda p, q, h: (p + "x", q, h), id="path"),
    pytest.param(lambda p, q, h: (p, q + "&extra=1", h), id="query-added"),
    pytest.param(lambda p, q, h: (p, q.replace("max-keys=5", "max-keys=6"), h), id="query-value"),
    pytest.param(lambda p, q, h: (p, q, {**h, "x-amz-meta-note": "evil"}), id="signed-header"),
    pytest.param(lambda p, q, h: (p, q, {**h, "host": "other.example:9000"}), id="host"),
    pytest.param(lambda p, q, h: (p, q, {**h, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}), id="payload-hash"),
])
def test_header_auth_rejects_request_tampered_after_signing(tamper):
    raw_path, query, headers, when = signed_by_botocore("PUT", "/bucket/k", "max-keys=5",
                                                        headers={"x-amz-meta-note": "ok"}, body=b"data")
    raw_path, query, headers = tamper(raw_path, query, headers)
    with aws_error("SignatureDoesNotMatch"):
        sigv4.verify_header_auth("PUT", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)


def test_header_auth_rejects_a_different_method_than_the_one_signed():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    with aws_error("SignatureDoesNotMatch"):
        sigv4.verify_header_auth("DELETE", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)


def test_header_auth_rejects_unknown_access_key():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    with aws_error("InvalidAccessKeyId") as err:
        sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({}), when)
    assert err.value.status == 403
    assert err.value.extra == {"AWSAccessKeyId": BOTO_AK}


@pytest.mark.parametrize("offset,ok", [(0, True), (899, True), (-899, True), (901, False), (-901, False),
                                       (86400, False)])
def test_header_auth_allows_fifteen_minutes_of_clock_skew_either_way(offset, ok):
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    check = lambda: sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}),
                                             when + offset)
    if ok:
        check()
    else:
        with aws_error("RequestTimeTooSkewed") as err:
            check()
        assert err.value.status == 403
        assert err.value.extra["MaxAllowedSkewMilliseconds"] == "900000"


def test_header_auth_requires_x_amz_content_sha256():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    del headers["x-amz-content-sha256"]
    with aws_error("InvalidRequest") as err:
        sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    assert err.value.message == "Missing required header for this request: x-amz-content-sha256"


@pytest.mark.parametrize("value", ["abc", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "unsigned-payload", "z" * 64])
def test_header_auth_rejects_a_payload_hash_that_is_neither_hex_nor_a_known_mode(value):
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    headers["x-amz-content-sha256"] = value  # checked before the signature, which it would also break
    with aws_error("InvalidArgument") as err:
        sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    assert err.value.extra["ArgumentName"] == "x-amz-content-sha256"


@pytest.mark.parametrize("mode", ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"])
def test_header_auth_returns_the_payload_mode_as_sent(mode):
    headers = {"host": HOST, "x-amz-date": AMZ_DATE, "x-amz-content-sha256": mode}
    canonical = sigv4.canonical_request("PUT", "/k", "", headers, sorted(headers), mode)
    key = sigv4.signing_key(SK, "20130524", "us-east-1", "s3")
    signature = sigv4.sign(key, sigv4.string_to_sign(AMZ_DATE, SCOPE, canonical))
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE}, SignedHeaders="
                                f"{';'.join(sorted(headers))}, Signature={signature}")
    verified = sigv4.verify_header_auth("PUT", "/k", "", headers, secrets({AK: SK}), EXAMPLE_TIME)
    assert verified.payload_hash == mode


def test_header_auth_requires_a_valid_date():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    for broken in ({k: v for k, v in headers.items() if k != "x-amz-date"}, {**headers, "x-amz-date": "2013-05-24"}):
        with aws_error("AccessDenied") as err:
            sigv4.verify_header_auth("GET", raw_path, query, broken, secrets({BOTO_AK: BOTO_SK}), when)
        assert err.value.message == "AWS authentication requires a valid Date or x-amz-date header"


def test_header_auth_rejects_credential_date_other_than_the_request_date():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    headers["authorization"] = re.sub(r"Credential=([^/]+)/\d{8}/", r"Credential=\1/19990101/",
                                      headers["authorization"])
    assert "/19990101/" in headers["authorization"]
    with aws_error("AuthorizationHeaderMalformed"):
        sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)


def test_header_auth_reports_the_expected_region_when_one_is_configured():
    raw_path, query, headers, when = signed_by_botocore("GET", "/bucket/k")
    sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when, region="us-east-1")
    with aws_error("AuthorizationHeaderMalformed") as err:
        sigv4.verify_header_auth("GET", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when,
                                 region="eu-west-1")
    assert err.value.extra == {"Region": "eu-west-1"}


def test_header_auth_rejects_a_scope_for_another_service():
    headers = {"host": HOST, "x-amz-date": AMZ_DATE, "x-amz-content-sha256": EMPTY, "authorization":
               f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host,"
               "Signature=abc"}
    with aws_error("AuthorizationHeaderMalformed"):
        sigv4.verify_header_auth("GET", "/", "", headers, secrets({AK: SK}), EXAMPLE_TIME)


def test_header_auth_rejects_x_amz_headers_added_after_signing():
    raw_path, query, headers, when = signed_by_botocore("PUT", "/bucket/k", body=b"x")
    headers["x-amz-acl"] = "public-read"
    headers["x-amzn-trace-id"] = "not an x-amz- header, may stay unsigned"
    with aws_error("AccessDenied") as err:
        sigv4.verify_header_auth("PUT", raw_path, query, headers, secrets({BOTO_AK: BOTO_SK}), when)
    assert err.value.extra == {"HeadersNotSigned": "x-amz-acl"}


def test_header_auth_requires_host_to_be_signed():
    headers = {"host": HOST, "x-amz-date": AMZ_DATE, "x-amz-content-sha256": EMPTY}
    signed = ["x-amz-content-sha256", "x-amz-date"]
    canonical = sigv4.canonical_request("GET", "/", "", headers, signed, EMPTY)
    signature = sigv4.sign(sigv4.signing_key(SK, "20130524", "us-east-1", "s3"),
                           sigv4.string_to_sign(AMZ_DATE, SCOPE, canonical))
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={AK}/{SCOPE},SignedHeaders={';'.join(signed)},"
                                f"Signature={signature}")
    with aws_error("AccessDenied") as err:
        sigv4.verify_header_auth("GET", "/", "", headers, secrets({AK: SK}), EXAMPLE_TIME)
    assert err.value.extra == {"HeadersNotSigned": "host"}
