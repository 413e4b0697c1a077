"""aws-chunked body decoding as a specification: AWS's published chunk signatures, arbitrary splits of the
stream, framing and signature faults, and bodies produced by botocore itself."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import io
import random
import re
import time
import zlib

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from router import sigv4
from router.aws_chunked import MAX_LINE, ChunkedDecoder
from router.sigv4 import Verified
from shards.errors import S3Error

SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
KEY = sigv4.signing_key(SK, "20130524", "us-east-1", "s3")
EMPTY = hashlib.sha256(b"").hexdigest()


def aws_error(code: str):
    return pytest.raises(S3Error, match=f"^{code}:")


def verified_for(seed: str, mode: str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") -> Verified:
    return Verified("AKIAIOSFODNN7EXAMPLE", KEY, SCOPE, AMZ_DATE, seed, mode)


# --- an independent encoder (plain hmac, not router.sigv4) so the decoder is checked against a second opinion ---


def _hmac_hex(msg: str) -> str:
    return hmac.new(KEY, msg.encode(), hashlib.sha256).hexdigest()


def encode(payload: bytes, chunk: int, *, signed: bool, trailers: list[str] | None = None,
           seed: str = "0" * 64, final_crlf: bool = True) -> bytes:
    out, previous = bytearray(), seed
    pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for data in pieces:
        if signed:
            previous = _hmac_hex("\n".join(["AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, previous, EMPTY,
                                            hashlib.sha256(data).hexdigest()]))
            out += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode())
        else:
            out += b"%x\r\n" % len(data)
        if data:
            out += data + b"\r\n"
    if trailers is not None:
        for line in trailers:
            out += line.encode() + b"\r\n"
        if signed:
            digest = hashlib.sha256("".join(line + "\n" for line in trailers).encode()).hexdigest()
            signature = _hmac_hex("\n".join(["AWS4-HMAC-SHA256-TRAILER", AMZ_DATE, SCOPE, previous, digest]))
            out += b"x-amz-trailer-signature:%s\r\n" % signature.encode()
    if final_crlf:
        out += b"\r\n"
    return bytes(out)


def decoder(*, signed: bool, trailer: bool, seed: str = "0" * 64, **kw) -> ChunkedDecoder:
    return ChunkedDecoder(signed=signed, trailer=trailer, verified=verified_for(seed) if signed else None, **kw)


def decode(dec: ChunkedDecoder, parts) -> tuple[bytes, dict[str, str]]:
    out = bytearray()
    for part in parts:
        for piece in dec.feed(part):
            assert isinstance(piece, memoryview)
            out += piece
    trailers = dec.finish()
    assert dec.decoded_length == len(out)
    return bytes(out), trailers


def random_splits(body: bytes, seed: int, max_piece: int = 97) -> list[bytes]:
    rng, parts, i = random.Random(seed), [], 0
    while i < len(body):
        n = rng.randint(1, max_piece)
        parts.append(body[i:i + n])
        i += n
    return parts


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# --- AWS's published examples -----------------------------------------------------------------------------------

# "Example: PUT Object" in "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
# Chunks": 66560 bytes of 'a' in 64 KiB chunks, Content-Length 66824.
AWS_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
AWS_BODY = (b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
            + b"a" * 65536 + b"\r\n"
            + b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
            + b"a" * 1024 + b"\r\n"
            + b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")

# The same object with a crc32c trailer, from "Including Trailing Headers (Chunked Upload)".
AWS_TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
AWS_TRAILER_BODY = (
    b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
    + b"a" * 65536 + b"\r\n"
    + b"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n"
    + b"a" * 1024 + b"\r\n"
    + b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
    + b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    + b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n")


def test_aws_chunked_upload_example_verifies_and_decodes():
    assert len(AWS_BODY) == 66824  # the Content-Length the example states
    payload, trailers = decode(decoder(signed=True, trailer=False, seed=AWS_SEED), [AWS_BODY])
    assert payload == b"a" * 66560
    assert trailers == {}


def test_aws_chunked_upload_example_verifies_in_random_splits():
    for seed in range(5):
        dec = decoder(signed=True, trailer=False, seed=AWS_SEED)
        assert decode(dec, random_splits(AWS_BODY, seed, max_piece=9000))[0] == b"a" * 66560


def test_aws_trailer_example_verifies_and_returns_the_checksum_trailer():
    dec = decoder(signed=True, trailer=True, seed=AWS_TRAILER_SEED)
    payload, trailers = decode(dec, random_splits(AWS_TRAILER_BODY, 1, max_piece=5000))
    assert payload == b"a" * 66560
    assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_independent_encoder_reproduces_the_aws_example_byte_for_byte():
    assert encode(b"a" * 66560, 65536, signed=True, seed=AWS_SEED) == AWS_BODY
    assert encode(b"a" * 66560, 65536, signed=True, seed=AWS_TRAILER_SEED,
                  trailers=["x-amz-checksum-crc32c:sOO8/Q=="]) == AWS_TRAILER_BODY


def test_aws_example_with_one_payload_byte_changed_fails_the_chunk_signature():
    body = bytearray(AWS_BODY)
    body[100] = ord("b")
    with aws_error("SignatureDoesNotMatch"):
        decode(decoder(signed=True, trailer=False, seed=AWS_SEED), [bytes(body)])


def test_aws_example_against_another_seed_signature_fails():
    with aws_error("SignatureDoesNotMatch"):
        decode(decoder(signed=True, trailer=False, seed="1" * 64), [AWS_BODY])


def test_aws_trailer_example_with_altered_checksum_fails_the_trailer_signature():
    body = AWS_TRAILER_BODY.replace(b"sOO8/Q==", b"AAAAAA==")
    with aws_error("SignatureDoesNotMatch"):
        decode(decoder(signed=True, trailer=True, seed=AWS_TRAILER_SEED), [body])


# --- every split of the stream gives the same result ----------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 3 + b"tail"
BODIES = [
    pytest.param(dict(signed=True, trailer=False), encode(PAYLOAD, 300, signed=True), {}, id="signed"),
    pytest.param(dict(signed=True, trailer=True),
                 encode(PAYLOAD, 300, signed=True, trailers=[f"x-amz-checksum-crc32:{crc32_b64(PAYLOAD)}"]),
                 {"x-amz-checksum-crc32": crc32_b64(PAYLOAD)}, id="signed-trailer"),
    pytest.param(dict(signed=False, trailer=True),
                 encode(PAYLOAD, 300, signed=False, trailers=[f"x-amz-checksum-crc32:{crc32_b64(PAYLOAD)}"]),
                 {"x-amz-checksum-crc32": crc32_b64(PAYLOAD)}, id="unsigned-trailer"),
    pytest.param(dict(signed=False, trailer=True),
                 encode(PAYLOAD, 1000, signed=False, trailers=["x-amz-checksum-crc32:AAAAAA==",
                                                              "X-Amz-Checksum-SHA256: abc= "]),
                 {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha256": "abc="}, id="two-trailers"),
]


@pytest.mark.parametrize("mode,body,trailers", BODIES)
def test_decoding_is_the_same_at_every_two_way_split(mode, body, trailers):
    for i in range(len(body) + 1):
        assert decode(ChunkedDecoder(**mode, verified=verified_for("0" * 64)), [body[:i], body[i:]]) == \
            (PAYLOAD, trailers), i


@pytest.mark.parametrize("mode,body,trailers", BODIES)
def test_decoding_is_the_same_fed_one_byte_at_a_time_and_in_random_pieces(mode, body, trailers):
    one_by_one = [body[i:i + 1] for i in range(len(body))]
    assert decode(ChunkedDecoder(**mode, verified=verified_for("0" * 64)), one_by_one) == (PAYLOAD, trailers)
    for seed in range(20):
        parts = random_splits(body, seed)
        assert decode(ChunkedDecoder(**mode, verified=verified_for("0" * 64)), parts) == (PAYLOAD, trailers)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_feed_accepts_any_bytes_like_and_returns_views_into_it(wrap):
    body = encode(PAYLOAD, 300, signed=True)
    dec = decoder(signed=True, trailer=False)
    data = wrap(body)
    pieces = dec.feed(data)
    assert all(isinstance(p, memoryview) and p.obj is (data.obj if isinstance(data, memoryview) else data)
               for p in pieces)
    assert b"".join(pieces) == PAYLOAD
    dec.finish()


def test_empty_payload_decodes_to_nothing():
    assert decode(decoder(signed=True, trailer=False), [encode(b"", 10, signed=True)]) == (b"", {})
    assert decode(decoder(signed=False, trailer=True), [b"0\r\n\r\n"]) == (b"", {})


def test_feeding_nothing_yields_nothing():
    dec = decoder(signed=False, trailer=True)
    assert dec.feed(b"") == []
    assert dec.decoded_length == 0


# --- truncation and framing faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode,body,trailers", BODIES)
def test_body_cut_short_anywhere_is_an_incomplete_body(mode, body, trailers):
    # Only the closing blank line may be missing. An unsigned body may also end after any complete trailer
    # line (nothing marks the last one): the caller compares the trailers it gets with x-amz-trailer.
    lenient = {len(body) - 2: trailers}
    if not mode["signed"]:
        end_of_chunks = body.index(b"\r\n0\r\n") + 5
        lines = body[end_of_chunks:-2].split(b"\r\n")[:-1]
        for n in range(1, len(lines)):
            cut = end_of_chunks + sum(len(line) + 2 for line in lines[:n])
            lenient[cut] = dict(list(trailers.items())[:n])
    for i in range(len(body) - 1):
        dec = ChunkedDecoder(**mode, verified=verified_for("0" * 64))
        dec.feed(body[:i])
        if i in lenient:
            assert dec.finish() == lenient[i]
            continue
        with aws_error("IncompleteBody"):
            dec.finish()


def test_missing_final_crlf_is_tolerated_after_unsigned_trailers():
    body = encode(b"hello", 3, signed=False, trailers=["x-amz-checksum-crc32:AAAAAA=="], final_crlf=False)
    assert decode(decoder(signed=False, trailer=True), [body]) == (b"hello", {"x-amz-checksum-crc32": "AAAAAA=="})


def test_signed_trailers_cut_before_their_signature_are_incomplete():
    body = encode(b"hello", 3, signed=True, trailers=["x-amz-checksum-crc32:AAAAAA=="])
    cut = body[:body.index(b"x-amz-trailer-signature")]
    dec = decoder(signed=True, trailer=True)
    dec.feed(cut)
    with aws_error("IncompleteBody"):
        dec.finish()


@pytest.mark.parametrize("mode,body", [
    pytest.param(dict(signed=False, trailer=True), b"zz\r\n", id="non-hex-size"),
    pytest.param(dict(signed=False, trailer=True), b"0x5\r\nhello\r\n0\r\n\r\n", id="0x-prefix"),
    pytest.param(dict(signed=False, trailer=True), b"+5\r\nhello\r\n0\r\n\r\n", id="signed-size"),
    pytest.param(dict(signed=False, trailer=True), b" 5\r\nhello\r\n0\r\n\r\n", id="space-before-size"),
    pytest.param(dict(signed=False, trailer=True), b"\r\n", id="empty-size"),
    pytest.param(dict(signed=False, trailer=True), b"11111111111111111\r\n", id="size-too-many-digits"),
    pytest.param(dict(signed=False, trailer=True), b"5\nhello\r\n0\r\n\r\n", id="bare-lf"),
    pytest.param(dict(signed=False, trailer=True), b"3\r\nhello\r\n0\r\n\r\n", id="size-smaller-than-data"),
    pytest.param(dict(signed=False, trailer=True), b"5\r\nhello\n0\r\n\r\n", id="data-not-followed-by-crlf"),
    pytest.param(dict(signed=False, trailer=True), b"5;ext=1\r\nhello\r\n0\r\n\r\n", id="chunk-extension"),
    pytest.param(dict(signed=False, trailer=True), b"0\r\nno-colon\r\n\r\n", id="trailer-without-colon"),
    pytest.param(dict(signed=False, trailer=True), b"0\r\n bad name:x\r\n\r\n", id="trailer-bad-name"),
    pytest.param(dict(signed=False, trailer=True), b"0\r\n\r\nextra", id="data-after-end"),
    pytest.param(dict(signed=False, trailer=False), b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
                 id="trailer-when-none-declared"),
    pytest.param(dict(signed=False, trailer=True), b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n0\r\n\r\n",
                 id="signature-in-unsigned-body"),
    pytest.param(dict(signed=True, trailer=False), b"5\r\nhello\r\n", id="unsigned-chunk-in-signed-body"),
    pytest.param(dict(signed=True, trailer=False), b"5;chunk-signature=abc\r\nhello\r\n", id="short-signature"),
    pytest.param(dict(signed=True, trailer=False), b"5;chunk-signature=" + b"A" * 64 + b"\r\n",
                 id="uppercase-signature"),
])
def test_malformed_framing_is_an_incomplete_body_like_s3(mode, body):
    dec = ChunkedDecoder(**mode, verified=verified_for("0" * 64))
    with aws_error("IncompleteBody") as err:
        dec.feed(body)
        dec.finish()
    assert err.value.message == "The request body terminated unexpectedly"


def test_header_line_longer_than_the_limit_is_rejected_without_waiting_for_its_end():
    dec = decoder(signed=False, trailer=True)
    with aws_error("IncompleteBody"):
        for _ in range(MAX_LINE // 100 + 2):
            dec.feed(b"1" * 100)  # never a newline: must not be buffered forever


def test_trailer_line_longer_than_the_limit_is_rejected():
    dec = decoder(signed=False, trailer=True)
    with aws_error("IncompleteBody"):
        dec.feed(b"0\r\nx-amz-checksum-crc32:" + b"A" * (MAX_LINE + 10) + b"\r\n\r\n")


def test_endless_trailer_lines_are_rejected():
    dec = decoder(signed=False, trailer=True)
    with aws_error("IncompleteBody"):
        dec.feed(b"0\r\n" + b"".join(b"x-amz-meta-%d:v\r\n" % i for i in range(100)))


def test_chunk_larger_than_the_limit_is_rejected_before_its_data():
    dec = decoder(signed=False, trailer=True, max_chunk=1024)
    with aws_error("InvalidArgument"):
        dec.feed(b"401\r\n")


# --- signature faults on generated bodies -----------------------------------------------------------------------


def test_tampering_with_any_chunk_fails_its_chunk_signature():
    body = encode(b"0123456789" * 5, 16, signed=True)
    chunks = [m for m in re.finditer(rb"([0-9a-f]+);chunk-signature=[0-9a-f]{64}\r\n", body) if m[1] != b"0"]
    assert len(chunks) == 4
    for m in chunks:
        for offset in (m.end(), m.end() + int(m[1], 16) - 1):  # first and last byte of the chunk's data
            tampered = bytearray(body)
            tampered[offset] ^= 0x01
            with aws_error("SignatureDoesNotMatch"):
                decode(decoder(signed=True, trailer=False), [bytes(tampered)])


def test_chunks_replayed_out_of_order_fail_the_signature_chain():
    first = encode(b"A" * 8, 8, signed=True)
    second = encode(b"B" * 8, 8, signed=True)
    spliced = second[:second.index(b"0;")] + first[first.index(b"0;"):]
    with aws_error("SignatureDoesNotMatch"):
        decode(decoder(signed=True, trailer=False), [spliced])


def test_signed_body_whose_trailer_lacks_a_signature_is_rejected():
    body = encode(b"hello", 3, signed=False, trailers=["x-amz-checksum-crc32:AAAAAA=="])
    signed_chunks = encode(b"hello", 3, signed=True, trailers=None, final_crlf=False)
    body = signed_chunks + body[body.index(b"x-amz-checksum"):]
    with aws_error("SignatureDoesNotMatch"):
        decode(decoder(signed=True, trailer=True), [body])


def test_trailer_lines_after_the_trailer_signature_are_rejected():
    body = encode(b"hello", 3, signed=True, trailers=["x-amz-checksum-crc32:AAAAAA=="], final_crlf=False)
    with aws_error("IncompleteBody"):
        decode(decoder(signed=True, trailer=True), [body + b"x-amz-checksum-sha1:abc\r\n\r\n"])


def test_signed_decoder_requires_the_verified_request():
    with pytest.raises(ValueError):
        ChunkedDecoder(signed=True, trailer=False)


# --- what botocore itself sends ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size,chunk_size", [(0, 1024), (1, 1024), (5000, 1024), (3 * 1024, 1024), (70000, None)])
def test_botocore_aws_chunked_wrapper_body_with_crc32_trailer_decodes(size, chunk_size):
    payload = random.Random(size).randbytes(size)
    wrapper = AwsChunkedWrapper(io.BytesIO(payload), checksum_cls=Crc32Checksum,
                                checksum_name="x-amz-checksum-crc32", chunk_size=chunk_size)
    body = wrapper.read()
    for parts in ([body], random_splits(body, size)):
        got, trailers = decode(decoder(signed=False, trailer=True), parts)
        assert got == payload
        assert trailers == {"x-amz-checksum-crc32": crc32_b64(payload)}


def test_boto3_put_object_over_https_sends_an_unsigned_trailer_body_that_verifies_and_decodes():
    sent = []

    def capture(request, **_):
        sent.append((request.url, dict(request.headers), request.body.read()))
        return AWSResponse(request.url, 200, {"ETag": '"0"'}, type("Raw", (), {"stream": lambda *a, **k: iter(())})())

    client = boto3.client("s3", endpoint_url="https://127.0.0.1:9443", region_name="us-east-1",
                          aws_access_key_id="AKID", aws_secret_access_key="SECRET",
                          config=Config(s3={"addressing_style": "path"}))
    client.meta.events.register("before-send", capture)
    payload = b"streamed through boto3 " * 1000
    client.put_object(Bucket="bucket", Key="k", Body=io.BytesIO(payload))
    [(url, raw_headers, body)] = sent
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in raw_headers.items()}
    headers["host"] = "127.0.0.1:9443"
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    when = calendar.timegm(time.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))
    verified = sigv4.verify_header_auth("PUT", "/bucket/k", "", headers, {"AKID": "SECRET"}.get, when)
    dec = ChunkedDecoder(signed=False, trailer=True, verified=verified)
    got, trailers = decode(dec, random_splits(body, 7, max_piece=4096))
    assert got == payload
    assert dec.decoded_length == int(headers["x-amz-decoded-content-length"])
    assert trailers == {headers["x-amz-trailer"]: crc32_b64(payload)}
