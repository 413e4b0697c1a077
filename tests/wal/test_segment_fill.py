"""Segment preallocation: written zeros or reserved (fallocate) extents. Both make full-size files that read as
zeros, hold their blocks (so appends never meet ENOSPC: tests/wal/test_disk_full.py runs with each), and recover
the same records."""
import asyncio
import os

import pytest
from tests.wal.wal_helpers import close, open_log, segment_path

from wal import RecordType, SyncPolicy
from wal import spare
from wal.spare import FILLS, Spares, default_fill, make_segment_file
from wal.io import ThreadPoolIO

T = RecordType
pytestmark = pytest.mark.usefixtures("backend")
SEGMENT = 256 << 10


def test_default_fill_is_adaptive_under_always_and_fallocate_otherwise():
    assert default_fill(SyncPolicy("always")) == "adaptive"
    assert {default_fill(SyncPolicy(m)) for m in ("none", "periodic", "threshold")} == {"fallocate"}


def test_adaptive_fill_follows_the_records_that_fill_the_log(tmp_path, monkeypatch):
    made = []

    def recording(io, path, size, fill="zeros"):
        made.append(fill)
        return real(io, path, size, fill)

    real = spare.make_segment_file
    monkeypatch.setattr(spare, "make_segment_file", recording)
    segment = 1 << 20
    log, _ = open_log(tmp_path, sync=SyncPolicy("always"), segment_size=segment)  # adaptive
    assert set(made) == {"zeros"}  # the first segment and spare: nothing known yet

    async def write(size, n):
        for _ in range(n):
            lsn, _ = log.append(T.CHUNK, os.urandom(size))
            await log.commit(lsn)
        log._spares._wait()

    async def main():
        await write(100_000, 12)  # small records: spares stay zeroed
        small = list(made)
        await write(spare.BIG_RECORD, 8)  # big ones: the next spares are fallocated
        big = list(made)
        await write(4096, 600)    # small again: back to zeros
        await log.close()
        return small, big

    small, big = asyncio.run(main())
    assert set(small) == {"zeros"} and big[-1] == "fallocate" and made[-1] == "zeros", made
    log, recovered = open_log(tmp_path, full=True, segment_size=segment)
    assert len(recovered) == 620 and log.report.corrupt_ranges == []
    close(log)


@pytest.mark.parametrize("how", FILLS)
def test_a_made_segment_is_full_size_allocated_and_zero(tmp_path, how):
    io = ThreadPoolIO()
    fd = make_segment_file(io, str(tmp_path / "seg"), SEGMENT, how)
    try:
        st = os.fstat(fd)
        assert st.st_size == SEGMENT
        assert st.st_blocks * 512 >= SEGMENT  # the blocks are reserved: no allocation on append
        assert os.pread(fd, SEGMENT, 0) == bytes(SEGMENT)
    finally:
        os.close(fd)


def test_an_unknown_fill_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Spares(ThreadPoolIO(), str(tmp_path), SEGMENT, "sparse")


@pytest.mark.parametrize("how", FILLS)
def test_records_across_rotations_recover_with_either_fill(tmp_path, how):
    payloads = [os.urandom(n) for n in (1, 4096, 100_000, 200_000, 300_000, 7)]  # 300 kB: a segment of its own
    log, _ = open_log(tmp_path, sync=SyncPolicy("always"), segment_size=SEGMENT, fill=how)

    async def write():
        for p in payloads:
            lsn, _ = log.append(T.CHUNK, p)
            await log.commit(lsn)
        await log.close()

    asyncio.run(write())
    assert os.path.getsize(segment_path(tmp_path, 1)) == SEGMENT
    log, recovered = open_log(tmp_path, full=True, segment_size=SEGMENT, fill=how)
    assert [r.payload for r in recovered] == payloads
    assert log.report.corrupt_ranges == [] and log.report.truncated_bytes == 0
    close(log)
