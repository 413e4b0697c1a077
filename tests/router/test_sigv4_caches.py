"""The SigV4 fast paths give the answers of the general ones: the canonical query of a query string already in
canonical encoding, and the per-day caches (signing key, HMAC pad states, credential and date parsing) across a
change of date."""

from __future__ import annotations

import calendar
import hashlib
import hmac
from urllib.parse import quote

import pytest

from router import sigv4
from tests.router.sigv4_support import aws_error, secrets

AK, SK = "AKIDCACHETEST", "cache/secret+key=="


def presign(path: str, amz_date: str, expires: int = 604800, key_date: str | None = None) -> str:
    """A presigned GET query string made by the recipe in the S3 documentation (hashlib/hmac, not router code)."""
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{AK}/{scope}", "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}.items()))
    canonical = f"GET\n{path}\n{query}\nhost:127.0.0.1:9000\n\nhost\nUNSIGNED-PAYLOAD"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + SK).encode()
    for part in (key_date or amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return f"{query}&X-Amz-Signature={hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()}"


def verify(query: str, now: float, path: str = "/bucket/key"):
    return sigv4.verify_presigned("GET", path, query, {"host": "127.0.0.1:9000"}, secrets({AK: SK}), now,
                                  region="us-east-1")


def at(y, mo, d, h=0, mi=0, s=0) -> float:
    return float(calendar.timegm((y, mo, d, h, mi, s)))


def test_urls_signed_on_consecutive_days_verify_with_each_days_key():
    before_midnight = presign("/bucket/key", "20261124T235959Z")
    after_midnight = presign("/bucket/key", "20261125T000001Z")
    now = at(2026, 11, 25, 0, 0, 30)
    for _ in range(3):  # again and again: what the caches return must not depend on the order of the days
        assert verify(before_midnight, now).scope == "20261124/us-east-1/s3/aws4_request"
        assert verify(after_midnight, now).scope == "20261125/us-east-1/s3/aws4_request"
        assert verify(before_midnight, now).signing_key != verify(after_midnight, now).signing_key


def test_a_signature_made_with_another_days_key_is_refused():
    verify(presign("/bucket/key", "20261125T000001Z"), at(2026, 11, 25, 0, 1))  # the 25th's key is cached now
    # dated the 24th, but signed with the 25th's key
    with aws_error("SignatureDoesNotMatch"):
        verify(presign("/bucket/key", "20261124T235959Z", key_date="20261125"), at(2026, 11, 25, 0, 1))


def test_the_same_timestamp_string_means_the_same_second_whenever_it_is_parsed():
    query = presign("/bucket/key", "20261231T235959Z", expires=1)
    verify(query, at(2027, 1, 1))  # the last second of the year, valid for one more second
    with aws_error("AccessDenied") as err:
        verify(query, at(2027, 1, 1, 0, 0, 1))
    assert err.value.message == "Request has expired"


def test_an_impossible_date_is_refused_every_time():
    query = presign("/bucket/key", "20260230T000000Z")
    for _ in range(2):
        with aws_error("AuthorizationQueryParametersError"):
            verify(query, at(2026, 3, 1))


def test_hmac_from_cached_pads_matches_the_standard_library_for_every_key_length():
    for key in (b"", b"k", b"k" * 32, b"k" * 64, b"k" * 65, bytes(range(200))):
        for msg in ("", "x", "AWS4-HMAC-SHA256\n20261124T000000Z\nscope\n" + "0" * 64):
            assert sigv4.sign(key, msg) == hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def _general_canonical_query(query: str, drop_signature: bool) -> str:
    """The SigV4 recipe: decode each name and value, encode it again, sort the pairs."""
    pairs = []
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            name = sigv4._canonical_component(name)
            if not (drop_signature and name == "X-Amz-Signature"):
                pairs.append((name, sigv4._canonical_component(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


@pytest.mark.parametrize("query", [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261124%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261124T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "a" * 64,
    "b=2&a=1",                      # out of order
    "a-b=1&a=2",                    # '-' sorts before '=' as text, after "a" as a name
    "uploads&prefix=x",             # a name without '='
    "a=&a",                         # an empty value, with and without '='
    "=v&k=",                        # an empty name
    "k=%2f",                        # lowercase escape: re-encoded upper case
    "k=%41",                        # an escaped unreserved character: decoded
    "k=%7E&k=~",
    "k=a b", "k=a+b", "k=é",        # characters that need encoding
    "k=a=b",                        # '=' inside a value
    "a=1&&b=2", "&a=1", "a=1&",     # empty pieces
    "k=%", "k=%4", "k=%G1",         # broken escapes
    "X-Amz-Signature=x&X-Amz-Signature=y&z=1",
])
@pytest.mark.parametrize("drop_signature", [False, True])
def test_canonical_query_equals_the_general_recipe(query, drop_signature):
    assert sigv4.canonical_query(query, drop_signature=drop_signature) == \
        _general_canonical_query(query, drop_signature)
