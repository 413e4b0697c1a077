"""Record framing: a fixed 24-byte header in front of every payload.

Layout (little-endian), chosen so the LSN sits 8-byte aligned and the magic
comes right after the crc (a cheap first check when scanning garbage):

    offset  size  field
         0     4  crc32c    over bytes 4..24 of the header, then the payload
         4     4  magic     format marker + version; all-zero space never matches
         8     4  length    payload length in bytes
        12     1  type      RecordType (0 is never valid)
        13     1  flags     meaning belongs to the record's owner
        14     2  reserved  must be zero in this format version
        16     8  lsn       strictly increasing, first record is 1

The crc is chained (crc of header tail, then continued over the payload) so a
big payload is never copied just to be checksummed.
"""
from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from crc32c import crc32c

# b"CRN\x01" read little-endian: the last byte is the format version.
MAGIC = int.from_bytes(b"CRN\x01", "little")

_HEADER = struct.Struct("<IIIBBHQ")
_TAIL = struct.Struct("<IIBBHQ")  # the header without its crc: what the crc covers
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 0xFFFF_FFFF

assert HEADER_SIZE == 24 and _TAIL.size == HEADER_SIZE - 4


class RecordType(enum.IntEnum):
    """On-disk values: never renumber. Payload meaning belongs to the shard,
    except CHUNK, which is raw object data."""

    CHUNK = 1
    PUT = 2
    DELETE = 3
    BUCKET_PUT = 4
    BUCKET_DELETE = 5
    CHECKPOINT = 6
    MULTIPART = 7
    TAGGING = 8
    COMPACT = 9


class CorruptRecord(Exception):
    """A header or payload failed a framing or checksum check."""


class Header(NamedTuple):
    crc: int
    length: int
    lsn: int
    type: int
    flags: int


def _nbytes(payload: bytes | bytearray | memoryview) -> int:
    # len() of a memoryview counts items, not bytes, when its format isn't "B".
    return payload.nbytes if isinstance(payload, memoryview) else len(payload)


def encode_header(lsn: int, rtype: int, payload: bytes | bytearray | memoryview,
                  flags: int = 0) -> bytes:
    length = _nbytes(payload)
    if lsn < 1:
        raise ValueError(f"lsn must be >= 1, got {lsn}")
    if not 0 < rtype < 256:
        raise ValueError(f"record type must be 1..255, got {rtype}")
    if not 0 <= flags < 256:
        raise ValueError(f"flags must be 0..255, got {flags}")
    if length > MAX_PAYLOAD:
        raise ValueError(f"payload of {length} bytes exceeds {MAX_PAYLOAD}")
    tail = _TAIL.pack(MAGIC, length, rtype, flags, 0, lsn)
    return _HEADER.pack(crc32c(payload, value=crc32c(tail)), MAGIC, length, rtype, flags, 0, lsn)


def decode_header(buf: bytes | bytearray | memoryview) -> Header:
    """Parse and sanity-check a header; the crc is checked by verify()."""
    if _nbytes(buf) < HEADER_SIZE:
        raise CorruptRecord("short header")
    crc, magic, length, rtype, flags, reserved, lsn = _HEADER.unpack_from(buf)
    if magic != MAGIC:
        raise CorruptRecord(f"bad magic {magic:#010x}")
    if reserved != 0 or rtype == 0 or lsn == 0:
        raise CorruptRecord("invalid header fields")
    return Header(crc, length, lsn, rtype, flags)


def checksum(header: Header, payload: bytes | bytearray | memoryview) -> int:
    tail = _TAIL.pack(MAGIC, header.length, header.type, header.flags, 0, header.lsn)
    return crc32c(payload, value=crc32c(tail))


def verify(header: Header, payload: bytes | bytearray | memoryview) -> bool:
    return _nbytes(payload) == header.length and checksum(header, payload) == header.crc
