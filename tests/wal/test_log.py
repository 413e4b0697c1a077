import asyncio
import os
import random

import pytest
from tests.wal.wal_helpers import TEST_SEGMENT_SIZE, close, make_io, open_log, segment_path

from wal import HEADER_SIZE, CorruptRange, CorruptRecord, Location, Log, LogClosed, RecordType, SyncPolicy
from wal.segments import list_segments

T = RecordType
pytestmark = pytest.mark.usefixtures("backend")


def append_all(log, records):
    """Append (type, payload, flags) triples; return [(lsn, location)]."""
    return [log.append(rtype, payload, flags) for rtype, payload, flags in records]


def sample_records(seed=1, n=40):
    rng = random.Random(seed)
    sizes = [0, 1, 100, 4096, 70_000, 300_000]
    return [(rng.choice(list(T)), rng.randbytes(rng.choice(sizes)), rng.randrange(256)) for _ in range(n)]


def file_bytes(directory, number):
    with open(segment_path(directory, number), "rb") as f:
        return f.read()


def write_file(directory, number, data):
    os.makedirs(directory, exist_ok=True)
    with open(segment_path(directory, number), "wb") as f:
        f.write(data)


def flip(directory, number, offset):
    with open(segment_path(directory, number), "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))


# -- fresh logs, round trips ---------------------------------------------------

def test_fresh_directory_is_created_with_a_first_segment(tmp_path):
    directory = tmp_path / "deep" / "wal"
    log, recovered = open_log(directory)
    assert recovered == []
    assert (log.last_lsn, log.durable_lsn) == (0, 0)
    assert list_segments(directory) == [1]
    # Pre-zeroed at full size: appends never allocate (see wal/spare.py).
    assert file_bytes(directory, 1) == bytes(TEST_SEGMENT_SIZE)
    assert log.append(T.PUT, b"x") == (1, Location(1, HEADER_SIZE, 1))
    close(log)
    assert sorted(os.listdir(directory)) == ["0000000000000001.seg", "spare"]


def test_recovery_yields_exactly_what_was_appended(tmp_path):
    records = sample_records()
    log, _ = open_log(tmp_path, segment_size=256 << 10)
    appended = append_all(log, records)
    close(log)
    assert [lsn for lsn, _ in appended] == list(range(1, len(records) + 1))
    assert len({loc.segment for _, loc in appended}) > 3  # rotation happened

    for full in (False, True):
        log, recovered = open_log(tmp_path, full=full, segment_size=256 << 10)
        assert [(r.lsn, r.type, r.flags, r.location) for r in recovered] == [
            (lsn, rtype, flags, loc) for (lsn, loc), (rtype, _, flags) in zip(appended, records)]
        for r, (rtype, payload, _) in zip(recovered, records):
            if rtype == T.CHUNK and not full:
                assert r.payload is None  # light mode: the shard only needs the location
            else:
                assert r.payload == payload
            assert log.read(r.location) == payload
        assert log.report.records == len(records)
        assert log.report.corrupt_ranges == [] and log.report.truncated_bytes == 0
        assert log.last_lsn == log.durable_lsn == len(records)
        close(log)
    log, _ = open_log(tmp_path, segment_size=256 << 10)
    assert log.append(T.PUT, b"next")[0] == len(records) + 1
    close(log)


def test_locations_are_plain_tuples(tmp_path):
    log, _ = open_log(tmp_path)
    _, loc = log.append(T.CHUNK, b"abc")
    assert type(loc).__mro__[1] is tuple and loc == (1, HEADER_SIZE, 3)
    close(log)


def test_rotation_at_segment_size(tmp_path):
    log, _ = open_log(tmp_path, segment_size=4096)
    # 24 + 1000 bytes per record: exactly four fill a segment.
    segments = [loc.segment for _, loc in append_all(log, [(T.CHUNK, b"z" * 1000, 0)] * 10)]
    assert segments == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]
    assert log.segments == [1, 2, 3]
    close(log)
    assert [os.path.getsize(segment_path(tmp_path, n)) for n in (1, 2, 3)] == [4096, 4096, 4096]


def test_record_larger_than_segment_gets_a_segment_of_its_own(tmp_path):
    log, _ = open_log(tmp_path, segment_size=4096)
    big = os.urandom(10_000)
    lsns_locs = append_all(log, [(T.CHUNK, big, 0), (T.PUT, b"a", 0), (T.CHUNK, big, 0), (T.PUT, b"b", 0)])
    assert [loc.segment for _, loc in lsns_locs] == [1, 2, 3, 4]
    close(log)
    log, recovered = open_log(tmp_path, full=True, segment_size=4096)
    assert [r.payload for r in recovered] == [big, b"a", big, b"b"]
    close(log)


# -- reads -----------------------------------------------------------------------

def test_reads_slices_and_fds(tmp_path):
    log, _ = open_log(tmp_path)
    payload = os.urandom(600_000)  # large enough for the two-pread path
    _, big = log.append(T.CHUNK, payload)
    _, small = log.append(T.PUT, b"metadata")
    assert log.read(big) == payload and log.read(small) == b"metadata"
    assert log.read_into(big, 1000, 50) == payload[1000:1050]
    assert log.read_into(big, len(payload) - 10, 100) == payload[-10:]  # clamped
    assert log.read_into(big, len(payload), 5) == b""
    with pytest.raises(ValueError):
        log.read_into(big, len(payload) + 1, 1)
    assert os.pread(log.fd_for(big.segment), 8, small.offset) == b"metadata"
    with pytest.raises(KeyError):
        log.fd_for(99)
    close(log)


@pytest.mark.parametrize("size", [100, 600_000])
def test_read_verifies_the_crc(tmp_path, size):
    log, _ = open_log(tmp_path)
    payload = bytes(size)
    _, loc = log.append(T.CHUNK, payload)
    flip(tmp_path, 1, loc.offset + size // 2)
    with pytest.raises(CorruptRecord):
        log.read(loc)
    assert log.read(loc, verify=False) != payload  # unverified reads hand back what is there
    with pytest.raises(CorruptRecord):
        log.read(Location(1, loc.offset, size + 1))  # a stale or wrong location
    close(log)


def test_append_requires_recovery_and_an_open_log(tmp_path):
    log = Log(tmp_path, sync=SyncPolicy("none"), io=make_io(), segment_size=TEST_SEGMENT_SIZE)
    with pytest.raises(LogClosed):
        log.append(T.PUT, b"x")
    list(log.recover())
    close(log)
    with pytest.raises(LogClosed):
        log.append(T.PUT, b"x")


# -- torn tails ------------------------------------------------------------------

def _three_record_segment(tmp_path):
    log, _ = open_log(tmp_path / "base")
    appended = append_all(log, [(T.PUT, b"a" * 60, 0), (T.CHUNK, b"b" * 60, 0), (T.PUT, b"c" * 60, 0)])
    close(log)
    ends = [loc.offset + loc.length for _, loc in appended]
    return file_bytes(tmp_path / "base", 1)[:ends[-1]], ends  # the records, without the zero padding


def test_torn_tail_is_zeroed_at_every_offset(tmp_path):
    data, (_, end2, end3) = _three_record_segment(tmp_path)
    for cut in range(end2, end3, 7):
        directory = tmp_path / f"cut{cut}"
        # A pre-zeroed file torn by a crash: part of the last record, then zeros.
        write_file(directory, 1, data[:cut] + bytes(len(data) - cut))
        log, recovered = open_log(directory)
        assert [r.lsn for r in recovered] == [1, 2], cut
        assert log.report.truncated_bytes == len(data[end2:cut].rstrip(b"\0"))
        assert file_bytes(directory, 1) == data[:end2] + bytes(len(data) - end2)  # the size is kept
        assert log.append(T.DELETE, b"new") == (3, Location(1, end2 + HEADER_SIZE, 3))
        close(log)
        log, recovered = open_log(directory)
        assert [(r.lsn, r.payload) for r in recovered][-1] == (3, b"new")
        close(log)


@pytest.mark.parametrize("tail", [
    b"\0", bytes(23), bytes(24), bytes(25), bytes(5000),                   # zeroed space
    random.Random(7).randbytes(100), random.Random(8).randbytes(70_000),  # garbage
    b"\xff" * 30,
], ids=lambda t: f"{len(t)}B")
def test_garbage_after_the_last_record_is_truncated(tmp_path, tail):
    data, ends = _three_record_segment(tmp_path)
    write_file(tmp_path / "w", 1, data + tail)
    log, recovered = open_log(tmp_path / "w", full=True)
    assert [r.payload for r in recovered] == [b"a" * 60, b"b" * 60, b"c" * 60]
    assert log.report.truncated_bytes == len(tail.rstrip(b"\0"))  # zeros are padding, not damage
    assert log.report.corrupt_ranges == []
    assert file_bytes(tmp_path / "w", 1) == data + bytes(len(tail))
    assert log.append(T.PUT, b"d")[0] == 4
    close(log)


def test_a_replayed_old_record_at_the_tail_is_not_accepted(tmp_path):
    # A valid record whose LSN goes backwards is stale data, not a new record.
    data, (end1, _, _) = _three_record_segment(tmp_path)
    write_file(tmp_path / "w", 1, data + data[:end1])
    log, recovered = open_log(tmp_path / "w")
    assert [r.lsn for r in recovered] == [1, 2, 3]
    assert log.report.truncated_bytes == end1
    close(log)


# -- corruption in the middle ---------------------------------------------------

def _multi_segment_log(directory):
    """Four segments of five 1000-byte records; returns [(lsn, location)]."""
    log, _ = open_log(directory, segment_size=5 * 1024)
    appended = append_all(log, [(T.PUT if i % 2 else T.CHUNK, bytes([i]) * 1000, 0) for i in range(20)])
    close(log)
    return appended


@pytest.mark.parametrize("where, reason", [
    (lambda loc: loc.offset + 500, "crc mismatch"),                 # payload bit rot
    (lambda loc: loc.offset - HEADER_SIZE + 5, "bad magic"),        # header damage
    (lambda loc: loc.offset - HEADER_SIZE + 9, "past end"),         # length damage
])
def test_a_corrupt_record_in_the_middle_of_a_sealed_segment_costs_only_itself(tmp_path, where, reason):
    appended = _multi_segment_log(tmp_path)
    lsn, damaged = appended[7]  # third record of segment 2, a PUT (always verified)
    assert damaged.segment == 2 and lsn == 8
    flip(tmp_path, 2, where(damaged))
    log, recovered = open_log(tmp_path, segment_size=5 * 1024)
    start = damaged.offset - HEADER_SIZE
    [bad] = log.report.corrupt_ranges
    assert bad[:3] == (2, start, start + 1024) and reason in bad.reason
    assert [r.lsn for r in recovered] == [n for n in range(1, 21) if n != 8]
    assert os.path.getsize(segment_path(tmp_path, 2)) == 5 * 1024  # quarantined, not cut
    assert log.damaged(damaged) and not any(log.damaged(loc) for _, loc in appended if loc != damaged)
    with pytest.raises(CorruptRecord):
        log.read_into(damaged, 0, 10)  # no crc check on ranged reads, but the report is consulted
    assert log.read_into(appended[8][1], 0, 3) == bytes([8]) * 3
    assert log.append(T.PUT, b"after")[0] == 21
    close(log)


def test_light_recovery_trusts_sealed_chunks_full_recovery_checks_them(tmp_path):
    appended = _multi_segment_log(tmp_path)
    lsn, chunk = appended[2]  # a CHUNK in sealed segment 1
    flip(tmp_path, 1, chunk.offset + 10)

    log, recovered = open_log(tmp_path, segment_size=5 * 1024)
    assert len(recovered) == 20 and log.report.corrupt_ranges == []
    with pytest.raises(CorruptRecord):
        log.read(chunk)  # ...but a read still catches it
    asyncio.run(log.close())

    log, recovered = open_log(tmp_path, full=True, segment_size=5 * 1024)
    start = chunk.offset - HEADER_SIZE
    assert log.report.corrupt_ranges == [CorruptRange(1, start, start + 1024, "crc mismatch")]
    assert [r.lsn for r in recovered] == [1, 2] + list(range(4, 21))
    assert log.damaged(chunk)
    close(log)


def test_damage_followed_by_valid_records_in_the_last_segment_is_quarantined_not_discarded(tmp_path):
    # A crash only loses a suffix, so valid records after the damage mean bit
    # rot: truncating would destroy acknowledged records.
    appended = _multi_segment_log(tmp_path)
    lsn, damaged = appended[16]  # second record of the last segment
    assert damaged.segment == 4
    flip(tmp_path, 4, damaged.offset - HEADER_SIZE + 9)  # its length field
    size = os.path.getsize(segment_path(tmp_path, 4))

    log, recovered = open_log(tmp_path, segment_size=5 * 1024)
    assert [r.lsn for r in recovered] == [n for n in range(1, 21) if n != 17]
    assert log.report.truncated_bytes == 0
    start = damaged.offset - HEADER_SIZE
    assert log.report.corrupt_ranges == [CorruptRange(4, start, start + 1024, "record runs past end of segment")]
    # LSNs in the quarantined bytes are never reused.
    assert log.append(T.PUT, b"new") == (21, Location(5, HEADER_SIZE, 3))
    close(log)
    assert os.path.getsize(segment_path(tmp_path, 4)) == size

    log, recovered = open_log(tmp_path, segment_size=5 * 1024)
    assert [r.lsn for r in recovered] == [n for n in range(1, 22) if n != 17]
    assert len(log.report.corrupt_ranges) == 1
    close(log)


def test_empty_segments_and_foreign_files_are_harmless(tmp_path):
    log, _ = open_log(tmp_path)
    log.append(T.PUT, b"one")
    close(log)
    write_file(tmp_path, 2, b"")
    (tmp_path / "notes.txt").write_text("not a segment")
    log, recovered = open_log(tmp_path)
    assert [r.lsn for r in recovered] == [1]
    assert log.append(T.PUT, b"two") == (2, Location(2, HEADER_SIZE, 3))
    close(log)
