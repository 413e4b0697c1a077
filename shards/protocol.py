"""The router <-> shard wire protocol (DESIGN §3): one module both sides import.

A connection carries many exchanges at once, told apart by a request id. Every frame is a 9-byte header
(request id u32, kind u8, payload length u32) followed by the payload:

  REQUEST  router->shard  orjson metadata that opens an exchange ({"op": ..., ...})
  DATA     both ways      raw body bytes (never JSON: a 5 GiB PUT must not be re-encoded)
  END      both ways      closes a body stream; router->shard carries orjson metadata (trailer checksums)
  RESPONSE shard->router  orjson metadata answering the request; DATA* + END follow when "body" is true
  CANCEL   router->shard  the client went away: drop the exchange, commit nothing
  CREDIT   router->shard  u32 bytes the router has passed on; a shard streams a body only within its window
  PUSH     shard->router  bucket configuration changed; the request id is a push sequence number
  PUSH_ACK router->shard  the push with that sequence number is applied: the call that made the change
                          returns only once every connected router has acknowledged it
  WAL      primary->standby  log records shipped for HA (shards/replication.py): u64 segment, u64 offset of
                          the first record, u64 the primary's last written LSN, then whole records as on disk
  WAL_ACK  standby->primary  u64 LSN through which the standby has written and applied every record
  RESPONSE_BODY shard->router  a RESPONSE with a small body (<= INLINE_BODY) inside: u32 length of the orjson
                          metadata, the metadata, then the whole body; no DATA or END follow (one frame, not three)
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("<IBI")
HEADER_SIZE = HEADER.size
CREDIT = struct.Struct("<I")
META_LENGTH = struct.Struct("<I")
WAL_BATCH = struct.Struct("<QQQ")  # segment, offset of the first record, primary's last written LSN
WAL_ACK = struct.Struct("<Q")

K_REQUEST, K_DATA, K_END, K_RESPONSE, K_CANCEL, K_CREDIT, K_PUSH, K_PUSH_ACK, K_WAL, K_WAL_ACK, K_RESPONSE_BODY = range(
    1, 12)

# How long a config change waits for a router to acknowledge its push (a hung router must not block writes).
PUSH_ACK_TIMEOUT = 2.0

# A shard may have this many response-body bytes in flight per exchange before it waits for CREDIT.
WINDOW = 4 << 20
# A GET body up to this size goes inside its RESPONSE_BODY frame.
INLINE_BODY = 64 << 10
# Largest DATA frame either side sends; bigger bodies are split.
MAX_DATA_FRAME = 1 << 20
# Anything larger than this in a single frame is a protocol violation, not a big body.
MAX_FRAME = 16 << 20


class ProtocolError(Exception):
    pass


def frame(req_id: int, kind: int, payload: bytes | memoryview = b"") -> bytes:
    return HEADER.pack(req_id, kind, len(payload)) + payload


def frame_header(req_id: int, kind: int, length: int) -> bytes:
    return HEADER.pack(req_id, kind, length)


def response_body_frame(req_id: int, meta: bytes, body: bytes) -> bytes:
    return HEADER.pack(req_id, K_RESPONSE_BODY, META_LENGTH.size + len(meta) + len(body)) + \
        META_LENGTH.pack(len(meta)) + meta + body


def split_response_body(payload: bytes) -> tuple[bytes, bytes]:
    """A RESPONSE_BODY payload -> (orjson metadata, body)."""
    end = META_LENGTH.size + META_LENGTH.unpack_from(payload)[0]
    return payload[META_LENGTH.size:end], payload[end:]


class Cork:
    """Coalesces the frames written during one event-loop turn into one ``writelines`` (one syscall).

    Many small exchanges share a connection; without this each frame of each exchange is its own send().
    A large body is passed on at once so memory stays bounded by what the transport buffers.
    """

    __slots__ = ("transport", "loop", "parts", "size", "scheduled")
    FLUSH_AT = 256 << 10

    def __init__(self, transport, loop) -> None:
        self.transport = transport
        self.loop = loop
        self.parts: list = []
        self.size = 0
        self.scheduled = False

    def write(self, *parts) -> None:
        self.parts.extend(parts)
        for p in parts:
            self.size += len(p)
        if self.size >= self.FLUSH_AT:
            self.flush()
        elif not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        if self.parts:
            parts, self.parts, self.size = self.parts, [], 0
            if not self.transport.is_closing():
                self.transport.writelines(parts)
