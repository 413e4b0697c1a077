"""Incremental decoder for ``Content-Encoding: aws-chunked`` request bodies.

Wire format (S3 API reference, "Transferring Payload in Multiple Chunks" and "Including Trailing Headers"):

    signed:    <hex-size>;chunk-signature=<64 hex>\\r\\n<data>\\r\\n ... 0;chunk-signature=<64 hex>\\r\\n
    unsigned:  <hex-size>\\r\\n<data>\\r\\n ... 0\\r\\n
    then, with trailers:  <name>:<value>\\r\\n ... [x-amz-trailer-signature:<64 hex>\\r\\n]
    and finally:          \\r\\n

Each chunk signature chains on the previous one (the first on the request's seed signature), the final 0-size
chunk is signed like any other, and the trailer signature chains on the final chunk's. The trailer signature
covers the trailer lines re-joined with bare LF ("name:value\\n" each), which is what the SDKs hash.

Errors: S3 answers every framing fault (bad size, missing CRLF, truncation, junk after the end) with
IncompleteBody, so that is what this raises; signature faults are SignatureDoesNotMatch. Payload bytes are
handed out before their chunk's signature has been checked (that needs the whole chunk), so a caller must not
make the object visible until ``finish()`` has returned.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from router.sigv4 import EMPTY_SHA256, Verified, chunk_string_to_sign, sign, trailer_string_to_sign
from shards.errors import S3Error

MAX_LINE = 4096  # a chunk header is ~85 bytes and a checksum trailer ~60: anything near this is hostile
MAX_TRAILERS = 16
_FIND_STEP = 256  # header lines are short: look for their LF in small copies, never in a copy of the payload

_SIGNED_HEADER = re.compile(rb"([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})")
_UNSIGNED_HEADER = re.compile(rb"([0-9a-fA-F]{1,16})")
_TRAILER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TRAILER_SIGNATURE = "x-amz-trailer-signature"

# states
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def _incomplete(detail: str) -> S3Error:
    # The client sees S3's own wording; the note is for our logs and tracebacks.
    err = S3Error("IncompleteBody", "The request body terminated unexpectedly")
    err.add_note(detail)
    return err


def _find_lf(view: memoryview) -> int:
    for start in range(0, len(view), _FIND_STEP):
        i = bytes(view[start:start + _FIND_STEP]).find(b"\n")
        if i >= 0:
            return start + i
    return -1


class ChunkedDecoder:
    """Feed it the body as it arrives; it returns the payload pieces and checks signatures on the way."""

    __slots__ = ("_signed", "_trailer", "_verified", "_max_chunk", "_state", "_line", "_remaining", "_hasher",
                 "_chunk_signature", "_previous", "_trailers", "_trailer_lines", "_trailer_signed", "decoded_length")

    def __init__(self, *, signed: bool, trailer: bool, verified: Verified | None = None,
                 max_chunk: int = 16 * 1024 * 1024) -> None:
        if signed and verified is None:
            raise ValueError("signed aws-chunked bodies need the request's Verified")
        self._signed = signed
        self._trailer = trailer
        self._verified = verified
        self._max_chunk = max_chunk
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._hasher = None
        self._chunk_signature = ""
        self._previous = verified.seed_signature if signed else ""
        self._trailers: dict[str, str] = {}
        self._trailer_lines: list[bytes] = []
        self._trailer_signed = False
        self.decoded_length = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """Decode the next piece of body; the views returned point into ``data`` and live as long as it does."""
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        out: list[memoryview] = []
        pos, end = 0, len(view)
        while pos < end:
            state = self._state
            if state == _DATA:
                n = min(self._remaining, end - pos)
                piece = view[pos:pos + n]
                if self._hasher is not None:
                    self._hasher.update(piece)
                out.append(piece)
                pos += n
                self._remaining -= n
                self.decoded_length += n
                if self._remaining == 0:
                    self._end_of_data()
            elif state == _DATA_END:
                pos = self._expect_crlf(view, pos, end)
            elif state == _DONE:
                raise _incomplete("data after the end of the aws-chunked body")
            else:
                pos = self._read_line(view, pos, end)
        return out

    def finish(self) -> dict[str, str]:
        """Call at end of body: raises IncompleteBody unless the body ended properly; returns the trailers."""
        if self._state == _TRAILER and not self._line and self._may_end_here():
            # Lenient on the closing blank line only: some clients stop right after the last trailer line.
            self._state = _DONE
        if self._state != _DONE:
            raise _incomplete("aws-chunked body ended before its final chunk")
        return dict(self._trailers)

    # --- framing ---------------------------------------------------------------------------------------------

    def _read_line(self, view: memoryview, pos: int, end: int) -> int:
        room = MAX_LINE + 2 - len(self._line)  # +2: the CRLF does not count against the limit
        window = view[pos:min(end, pos + room)]
        i = _find_lf(window)
        if i < 0:
            if len(window) >= room:
                raise _incomplete("aws-chunked header line too long")
            self._line += window
            return pos + len(window)
        self._line += window[:i + 1]
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(b"\r\n"):
            raise _incomplete("aws-chunked line not terminated by CRLF")
        if self._state == _SIZE:
            self._chunk_header(line[:-2])
        else:
            self._trailer_line(line[:-2])
        return pos + i + 1

    def _expect_crlf(self, view: memoryview, pos: int, end: int) -> int:
        take = min(2 - len(self._line), end - pos)
        self._line += view[pos:pos + take]
        if not b"\r\n".startswith(self._line):
            raise _incomplete("chunk data not followed by CRLF (size does not match the data)")
        if len(self._line) == 2:
            self._line.clear()
            self._state = _SIZE
        return pos + take

    def _chunk_header(self, line: bytes) -> None:
        match = (_SIGNED_HEADER if self._signed else _UNSIGNED_HEADER).fullmatch(line)
        if match is None:
            raise _incomplete(f"bad aws-chunked chunk header {line[:80]!r}")
        size = int(match[1], 16)
        if size > self._max_chunk:
            raise S3Error("InvalidArgument", f"aws-chunked chunk of {size} bytes exceeds the {self._max_chunk} limit")
        if self._signed:
            self._chunk_signature = match[2].decode()
            self._hasher = hashlib.sha256()
        if size:
            self._remaining = size
            self._state = _DATA
        else:
            if self._signed:
                self._check_chunk_signature(EMPTY_SHA256)
            self._state = _TRAILER

    def _end_of_data(self) -> None:
        if self._signed:
            self._check_chunk_signature(self._hasher.hexdigest())
            self._hasher = None
        self._state = _DATA_END

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_of_trailers()
            return
        if not self._trailer:
            raise _incomplete("trailer line in an aws-chunked body that declared no trailer")
        if self._trailer_signed:
            raise _incomplete("trailer line after x-amz-trailer-signature")
        name, colon, value = line.partition(b":")
        if not colon or not _TRAILER_NAME.fullmatch(name):
            raise _incomplete(f"bad trailer line {line[:80]!r}")
        key = name.decode().lower()
        text = value.decode("latin-1").strip(" \t")
        if key == _TRAILER_SIGNATURE:
            if self._signed:
                self._check_trailer_signature(text)
            self._trailer_signed = True
            return
        if len(self._trailer_lines) >= MAX_TRAILERS:
            raise _incomplete("too many trailer lines")
        self._trailer_lines.append(line)
        self._trailers[key] = text

    def _end_of_trailers(self) -> None:
        if self._missing_trailer_signature():
            # Unsigned trailers on a signed body could be swapped by anyone on the path.
            raise S3Error("SignatureDoesNotMatch", "The trailing headers were not signed (x-amz-trailer-signature)")
        self._state = _DONE

    def _may_end_here(self) -> bool:
        # With trailers declared, at least one must have arrived; an unsigned body cut between two trailer lines
        # is indistinguishable from a complete one, so the caller checks x-amz-trailer against what it got.
        if self._trailer and not self._trailer_lines:
            return False
        return not self._missing_trailer_signature()

    def _missing_trailer_signature(self) -> bool:
        return self._signed and self._trailer and bool(self._trailer_lines) and not self._trailer_signed

    # --- signatures ----------------------------------------------------------------------------------------

    def _check_chunk_signature(self, chunk_sha256: str) -> None:
        v = self._verified
        expected = sign(v.signing_key, chunk_string_to_sign(v.amz_date, v.scope, self._previous, chunk_sha256))
        if not hmac.compare_digest(expected, self._chunk_signature):
            raise S3Error("SignatureDoesNotMatch", "The chunk signature does not match the chunk data.")
        self._previous = expected

    def _check_trailer_signature(self, provided: str) -> None:
        v = self._verified
        digest = hashlib.sha256(b"".join(line + b"\n" for line in self._trailer_lines)).hexdigest()
        expected = sign(v.signing_key, trailer_string_to_sign(v.amz_date, v.scope, self._previous, digest))
        if not hmac.compare_digest(expected.encode(), provided.encode("latin-1")):
            raise S3Error("SignatureDoesNotMatch", "The trailer signature does not match the trailing headers.")
