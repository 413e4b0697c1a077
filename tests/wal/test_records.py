import os
import struct

import pytest
from crc32c import crc32c

from wal.records import (
    HEADER_SIZE,
    MAGIC,
    CorruptRecord,
    Header,
    RecordType,
    decode_header,
    encode_header,
    verify,
)

SIZES = [0, 1, 2, 3, 7, 8, 23, 24, 25, 511, 4095, 4096, 4097, 65535, 65536, (1 << 20) - 1,
         1 << 20, (1 << 20) + 1, 2 << 20]


def test_on_disk_constants_are_frozen():
    # Changing any of these breaks every existing log.
    assert HEADER_SIZE == 24
    assert MAGIC.to_bytes(4, "little") == b"CRN\x01"
    assert {t.name: t.value for t in RecordType} == {
        "CHUNK": 1, "PUT": 2, "DELETE": 3, "BUCKET_PUT": 4, "BUCKET_DELETE": 5,
        "CHECKPOINT": 6, "MULTIPART": 7, "TAGGING": 8, "COMPACT": 9,
    }


@pytest.mark.parametrize("rtype", list(RecordType))
def test_round_trip_all_types_and_sizes(rtype):
    for size in SIZES:
        payload = os.urandom(size)
        lsn = 1 + size * 7919
        raw = encode_header(lsn, rtype, payload, flags=size % 256)
        assert len(raw) == HEADER_SIZE
        header = decode_header(raw)
        assert header == Header(header.crc, size, lsn, rtype, size % 256)
        assert verify(header, payload)


def test_layout_is_as_documented():
    payload = b"hello"
    raw = encode_header(0x0102030405060708, RecordType.PUT, payload, flags=0x5A)
    crc, magic, length, rtype, flags, reserved, lsn = struct.unpack("<IIIBBHQ", raw)
    assert (magic, length, rtype, flags, reserved, lsn) == (MAGIC, 5, 2, 0x5A, 0, 0x0102030405060708)
    # The crc covers every header byte after itself, then the payload.
    assert crc == crc32c(raw[4:] + payload)


def test_payload_buffer_kinds_agree():
    data = os.urandom(1000)
    expected = encode_header(9, RecordType.CHUNK, data)
    assert encode_header(9, RecordType.CHUNK, bytearray(data)) == expected
    assert encode_header(9, RecordType.CHUNK, memoryview(data)) == expected
    # A memoryview whose items aren't bytes still frames its byte length.
    wide = memoryview(data).cast("I")
    assert decode_header(encode_header(9, RecordType.CHUNK, wide)).length == 1000


@pytest.mark.parametrize("size", [0, 1, 100, 4096])
def test_every_single_bit_flip_is_detected(size):
    payload = os.urandom(size)
    record = encode_header(42, RecordType.PUT, payload, flags=3) + payload
    for bit in range(len(record) * 8):
        damaged = bytearray(record)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            header = decode_header(damaged[:HEADER_SIZE])
        except CorruptRecord:
            continue
        # A flipped length bit is caught by a reader framing the wrong number
        # of bytes; here the payload is what the header says it should be.
        body = bytes(damaged[HEADER_SIZE:HEADER_SIZE + header.length])
        assert not verify(header, body), f"bit {bit} flip went unnoticed"


@pytest.mark.parametrize("raw", [
    bytes(HEADER_SIZE),                       # zeroed space
    b"\xff" * HEADER_SIZE,
    bytes(HEADER_SIZE - 1),                   # short
])
def test_garbage_headers_are_rejected(raw):
    with pytest.raises(CorruptRecord):
        decode_header(raw)


def test_zero_record_is_invalid_even_with_matching_magic():
    for field_bytes in (slice(12, 13), slice(16, 24)):  # type 0, lsn 0
        raw = bytearray(encode_header(1, RecordType.PUT, b""))
        raw[field_bytes] = bytes(field_bytes.stop - field_bytes.start)
        with pytest.raises(CorruptRecord):
            decode_header(raw)


def test_nonzero_reserved_is_rejected():
    raw = bytearray(encode_header(1, RecordType.PUT, b""))
    raw[14] = 1
    with pytest.raises(CorruptRecord):
        decode_header(raw)


def test_verify_rejects_wrong_payload_length():
    header = decode_header(encode_header(5, RecordType.CHUNK, b"abc"))
    assert not verify(header, b"ab")
    assert not verify(header, b"abcd")


@pytest.mark.parametrize("args", [
    (0, RecordType.PUT, 0),      # lsn starts at 1
    (1, 0, 0),                   # type 0 reserved for "zeroed space"
    (1, 256, 0),
    (1, RecordType.PUT, 256),
    (1, RecordType.PUT, -1),
])
def test_encode_rejects_out_of_range_fields(args):
    lsn, rtype, flags = args
    with pytest.raises(ValueError):
        encode_header(lsn, rtype, b"", flags)
