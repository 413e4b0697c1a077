"""Fuzzing the WAL record reader: arbitrary bytes are either a valid record or rejected, never a crash and
never a 'valid' record whose bytes differ from what was encoded."""

from hypothesis import given, settings
from hypothesis import strategies as st

from wal.records import HEADER_SIZE, CorruptRecord, decode_header, encode_header, verify


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=HEADER_SIZE, max_size=HEADER_SIZE + 64))
def test_random_bytes_are_rejected_or_fail_verification(blob):
    try:
        header = decode_header(blob[:HEADER_SIZE])
    except CorruptRecord:
        return
    payload = blob[HEADER_SIZE:HEADER_SIZE + header.length]
    if len(payload) == header.length and verify(header, payload):
        # only possible if the fuzzer forged a correct CRC32C: then the record must re-encode identically
        assert encode_header(header.lsn, header.type, payload, header.flags) == blob[:HEADER_SIZE]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2 ** 63), st.integers(1, 7), st.binary(max_size=512), st.data())
def test_any_single_byte_change_in_a_record_is_detected(lsn, rtype, payload, data):
    record = bytearray(encode_header(lsn, rtype, payload) + payload)
    i = data.draw(st.integers(0, len(record) - 1))
    record[i] ^= data.draw(st.integers(1, 255))
    try:
        header = decode_header(bytes(record[:HEADER_SIZE]))
    except CorruptRecord:
        return
    body = bytes(record[HEADER_SIZE:HEADER_SIZE + header.length])
    assert not (len(body) == header.length and verify(header, body))
