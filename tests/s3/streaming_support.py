"""Hand-built SigV4 requests whose payload is not hashed whole: aws-chunked bodies (signed chunks, trailers,
unsigned trailers) and requests declaring a payload hash of our choosing. Signing uses botocore's own signer for
the seed; chunk and trailer signatures follow the S3 API reference."""

from __future__ import annotations

import hashlib
import hmac

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support import raw

REGION = "us-east-1"
EMPTY = hashlib.sha256(b"").hexdigest()


class _DeclaredPayload(S3SigV4Auth):
    """botocore's header signer, signing the payload hash we declare instead of hashing the body."""

    def __init__(self, credentials, region, declared):
        super().__init__(credentials, "s3", region)
        self.declared = declared

    def payload(self, request):
        return self.declared


def sign_headers(server, method: str, path: str, payload_hash: str, headers: dict | None = None, *,
                 region: str = REGION, secret: str | None = None) -> dict:
    url = f"http://127.0.0.1:{server.port}{path}"
    req = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    creds = Credentials(server.access_key, secret or server.secret_key)
    _DeclaredPayload(creds, region, payload_hash).add_auth(req)
    # http.client sets the real Content-Length from the body sent (prepare() says 0: it saw none)
    return {k: v for k, v in req.prepare().headers.items() if k.lower() != "content-length"}


def signing_key(secret: str, date: str, region: str = REGION) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def signed_chunks(payload: bytes, chunk: int, key: bytes, amz_date: str, seed: str,
                  trailer: tuple[str, str] | None = None, region: str = REGION) -> bytes:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body: each chunk signed on the previous signature."""
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    out, previous = bytearray(), seed
    for data in [payload[i:i + chunk] for i in range(0, len(payload), chunk)] + [b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY,
                             hashlib.sha256(data).hexdigest()])
        previous = _hmac_hex(key, to_sign)
        out += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode()) + data
        if data or trailer is None:
            out += b"\r\n"
    if trailer is not None:
        line = f"{trailer[0]}:{trailer[1]}"
        to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                             hashlib.sha256((line + "\n").encode()).hexdigest()])
        out += f"{line}\r\nx-amz-trailer-signature:{_hmac_hex(key, to_sign)}\r\n\r\n".encode()
    return bytes(out)


def unsigned_chunks(payload: bytes, chunk: int, trailer: tuple[str, str]) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER body."""
    out = bytearray()
    for i in range(0, len(payload), chunk):
        data = payload[i:i + chunk]
        out += b"%x\r\n" % len(data) + data + b"\r\n"
    out += b"0\r\n" + f"{trailer[0]}:{trailer[1]}\r\n\r\n".encode()
    return bytes(out)


def put_signed_chunked(server, path: str, payload: bytes, *, chunk: int = 64 * 1024,
                       trailer: tuple[str, str] | None = None, decoded_length: int | None = None,
                       tamper=None) -> raw.Reply:
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    headers = {"Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(len(payload) if decoded_length is None else decoded_length)}
    if trailer:
        headers["x-amz-trailer"] = trailer[0]
    signed = sign_headers(server, "PUT", path, mode, headers)
    amz_date = signed["X-Amz-Date"]
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    body = signed_chunks(payload, chunk, signing_key(server.secret_key, amz_date[:8]), amz_date, seed, trailer)
    if tamper is not None:
        body = tamper(body)
    return raw.send(server, "PUT", path, headers=signed, body=body)


def put_unsigned_trailer(server, path: str, payload: bytes, trailer: tuple[str, str], *, chunk: int = 64 * 1024,
                         decoded_length: int | None = None) -> raw.Reply:
    headers = {"Content-Encoding": "aws-chunked", "x-amz-trailer": trailer[0],
               "x-amz-decoded-content-length": str(len(payload) if decoded_length is None else decoded_length)}
    signed = sign_headers(server, "PUT", path, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers)
    return raw.send(server, "PUT", path, headers=signed, body=unsigned_chunks(payload, chunk, trailer))
