"""Authentication at the HTTP edge: pick the SigV4 form a request uses, verify it, and wrap its body so the
payload hash or the aws-chunked chunk signatures are checked as the bytes stream through.

Verification itself is pure (router/sigv4.py, router/aws_chunked.py); this module only adapts a request to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from shards.errors import S3Error

from . import sigv4
from .aws_chunked import ChunkedDecoder

MAX_PUT = 5 << 30  # largest single PUT S3 accepts

STREAMING = {
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": (True, False),
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": (True, True),
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER": (False, True),
}


def lower_headers(raw_headers) -> dict[str, str]:
    """Lower-cased header map; repeated headers are joined with ',' as SigV4's canonical form wants."""
    out: dict[str, str] = {}
    for k, v in raw_headers.items():
        k = k.lower()
        out[k] = f"{out[k]},{v}" if k in out else v
    return out


# The region this router serves (--region), set once at start by serve_region(); a credential scoped to another
# region (or service) is refused as S3 refuses it, naming the expected region so SDKs can re-sign.
_region: str | None = None


def serve_region(region: str) -> None:
    global _region
    _region = region


def authenticate(method: str, raw_path: str, query_string: str, query: dict, headers: dict,
                 credentials: dict[str, str], *, region: str | None = None) -> sigv4.Verified:
    region = region or _region
    lookup = credentials.get
    now = time.time()
    if "authorization" in headers:
        return sigv4.verify_header_auth(method, raw_path, query_string, headers, lookup, now, region=region)
    if "X-Amz-Signature" in query or "X-Amz-Algorithm" in query:
        return sigv4.verify_presigned(method, raw_path, query_string, headers, lookup, now, region=region)
    if "Signature" in query or "AWSAccessKeyId" in query:
        raise S3Error("AccessDenied", "Signature Version 2 is not supported; sign requests with SigV4.")
    raise S3Error("AccessDenied", "Anonymous access is not allowed.")


class Body:
    """The request body as the client meant it: aws-chunked framing removed, signatures and hashes checked.

    Iterate it for payload pieces; when iteration ends without an error the body is complete and verified,
    and ``trailers`` holds any trailing checksums.
    """

    __slots__ = ("stream", "decoder", "sha", "expected_sha", "trailers", "length", "declared", "declared_trailers",
                 "idle_timeout")

    def __init__(self, stream, verified: sigv4.Verified, headers: dict, idle_timeout: float = 30.0) -> None:
        self.stream = stream
        self.idle_timeout = idle_timeout
        self.trailers: dict[str, str] = {}
        self.length = 0
        self.decoder = None
        self.sha = None
        ph = verified.payload_hash
        mode = STREAMING.get(ph)
        self.declared_trailers = [t.strip().lower() for t in headers.get("x-amz-trailer", "").split(",") if t.strip()]
        declared = headers.get("x-amz-decoded-content-length") if mode else headers.get("content-length")
        if declared is None and mode is not None:
            raise S3Error("MissingContentLength")
        try:
            self.declared = int(declared) if declared is not None else None
        except ValueError:
            raise S3Error("InvalidArgument", "Content-Length is not a number.") from None
        if self.declared is not None and (self.declared < 0):
            raise S3Error("InvalidArgument", "Content-Length must not be negative.")
        if self.declared is not None and self.declared > MAX_PUT:
            raise S3Error("EntityTooLarge", ProposedSize=str(self.declared), MaxSizeAllowed=str(MAX_PUT))
        if mode is not None:
            signed, trailer = mode
            self.decoder = ChunkedDecoder(signed=signed, trailer=trailer, verified=verified)
        elif ph.startswith("STREAMING-"):
            raise S3Error("NotImplemented", f"Payload signing mode {ph} is not implemented.")
        elif ph != "UNSIGNED-PAYLOAD":
            if len(ph) != 64:
                raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING "
                                                 "mode or the hex SHA-256 of the payload.")
            self.sha = hashlib.sha256()
        self.expected_sha = ph.lower()

    async def __aiter__(self):
        stream = self.stream
        decoder, sha = self.decoder, self.sha
        # the raw front hands over pieces already buffered without the task wait_for makes for every read
        nowait = getattr(stream, "read_nowait", None)
        while True:
            chunk = nowait() if nowait is not None else None
            if chunk is None:
                try:
                    # a sender that stalls mid-body (slowloris) is cut off instead of holding its upload open
                    chunk = await asyncio.wait_for(stream.read(), self.idle_timeout) if stream is not None else None
                except asyncio.TimeoutError:
                    raise S3Error("RequestTimeout") from None
            if chunk is None:
                break
            if decoder is not None:
                for piece in decoder.feed(chunk):
                    self.length += len(piece)
                    yield piece
            else:
                if sha is not None:
                    sha.update(chunk)
                self.length += len(chunk)
                if self.length > MAX_PUT:
                    raise S3Error("EntityTooLarge")
                yield chunk
        if decoder is not None:
            self.trailers = decoder.finish()
            # an unsigned body cut between two trailer lines still looks complete to the decoder
            if any(name not in self.trailers for name in self.declared_trailers):
                raise S3Error("IncompleteBody")
        elif sha is not None and sha.hexdigest() != self.expected_sha:
            raise S3Error("XAmzContentSHA256Mismatch", ClientComputedContentSHA256=self.expected_sha,
                          S3ComputedContentSHA256=sha.hexdigest())
        if self.declared is not None and self.length != self.declared:
            raise S3Error("IncompleteBody")

    async def read_all(self, limit: int = 1 << 20) -> bytes:
        """Small XML request bodies; larger than ``limit`` is refused rather than buffered."""
        parts = []
        async for piece in self:
            parts.append(bytes(piece))
            if self.length > limit:
                raise S3Error("MalformedXML", "The XML you provided was too large.")
        return b"".join(parts)
