"""Property-based fuzzing of the router's parsers: whatever bytes arrive, each parser either returns a result or
raises an S3Error with a known code — never another exception (which would become a 500)."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router import sigv4, xml
from router.addressing import locate, parse_query
from router.aws_chunked import ChunkedDecoder
from shards.errors import ERRORS, S3Error
from shards.ranges import check_conditions, parse_range

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_s3_errors(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except S3Error as e:
        assert e.code in ERRORS, e.code
        return None


@FUZZ
@given(st.text(max_size=300))
def test_authorization_header_parser_never_fails_with_a_non_s3_error(value):
    only_s3_errors(sigv4.parse_authorization, value)


@FUZZ
@given(st.dictionaries(st.sampled_from(["authorization", "x-amz-date", "date", "x-amz-content-sha256", "host",
                                        "x-amz-meta-a"]),
                       st.text(max_size=120), max_size=6),
       st.text(alphabet=string.printable, max_size=80), st.text(alphabet=string.printable, max_size=120))
def test_header_auth_verification_never_fails_with_a_non_s3_error(headers, path, query):
    only_s3_errors(sigv4.verify_header_auth, "GET", "/" + path, query, headers, {"AK": "secret"}.get, 1.7e9)


@FUZZ
@given(st.text(alphabet=string.printable, max_size=300))
def test_presigned_verification_never_fails_with_a_non_s3_error(query):
    only_s3_errors(sigv4.verify_presigned, "GET", "/b/k", query, {"host": "h"}, {"AK": "secret"}.get, 1.7e9)


@FUZZ
@given(st.binary(max_size=2000), st.booleans(), st.lists(st.integers(1, 50), max_size=20))
def test_unsigned_chunked_decoder_never_fails_with_a_non_s3_error(body, trailer, splits):
    dec = ChunkedDecoder(signed=False, trailer=trailer)

    def run():
        pos = 0
        for n in splits:
            dec.feed(body[pos:pos + n])
            pos += n
        dec.feed(body[pos:])
        return dec.finish()
    only_s3_errors(run)


@FUZZ
@given(st.binary(max_size=2000))
def test_signed_chunked_decoder_never_fails_with_a_non_s3_error(body):
    v = sigv4.Verified("AK", b"k" * 32, "20130524/us-east-1/s3/aws4_request", "20130524T000000Z", "0" * 64,
                       sigv4.STREAMING_SIGNED)
    dec = ChunkedDecoder(signed=True, trailer=False, verified=v)
    only_s3_errors(lambda: (dec.feed(body), dec.finish()))


@FUZZ
@given(st.binary(max_size=3000))
def test_xml_body_parser_never_fails_with_a_non_s3_error(body):
    only_s3_errors(xml.parse, body, "CreateBucketConfiguration")


def test_entity_expansion_is_refused_as_malformed_xml():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b'<CreateBucketConfiguration>&lol2;</CreateBucketConfiguration>')
    assert only_s3_errors(xml.parse, bomb, "CreateBucketConfiguration") is None
    external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b'<CreateBucketConfiguration>&e;</CreateBucketConfiguration>')
    assert only_s3_errors(xml.parse, external, "CreateBucketConfiguration") is None


@FUZZ
@given(st.text(max_size=60), st.text(max_size=200))
def test_addressing_never_fails_with_a_non_s3_error(host, path):
    only_s3_errors(locate, host, "/" + path, ["localhost"])


@FUZZ
@given(st.text(max_size=200))
def test_query_parser_accepts_anything(qs):
    assert isinstance(parse_query(qs), dict)


@FUZZ
@given(st.text(max_size=60), st.integers(0, 10 ** 12))
def test_range_parser_returns_a_range_inside_the_object_or_an_s3_error(value, size):
    r = only_s3_errors(parse_range, value, size)
    if r is not None:
        start, end = r
        assert 0 <= start <= end < size


@FUZZ
@given(st.dictionaries(st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]),
                       st.text(max_size=60)))
def test_conditions_never_fail_with_a_non_s3_error(cond):
    only_s3_errors(check_conditions, cond, "abc", 1.7e9)
