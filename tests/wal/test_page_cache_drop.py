"""Big object data leaves the page cache once an fsync made it durable; small records stay (wal/log.py,
`drop_synced`). Whether a page is cached is asked of the kernel itself: a read with RWF_NOWAIT fails with EAGAIN
instead of going to the disk."""
import asyncio
import os
import shutil
import tempfile

import pytest
from tests.wal.wal_helpers import open_log, segment_path

from wal import Location, RecordType, SyncPolicy

BIG = (1 << 20) + 1000  # a chunk that neither starts nor ends on a page boundary


def _fs_type(path: str) -> str:
    best, kind = "", ""
    with open("/proc/self/mounts") as f:
        for line in f:
            _, point, fstype = line.split()[:3]
            if path.startswith(point.rstrip("/") + "/") and len(point) > len(best):
                best, kind = point, fstype
    return kind


@pytest.fixture
def disk_dir():
    """A directory on the checkout's file system: /tmp may be a tmpfs, whose pages are the files themselves."""
    path = tempfile.mkdtemp(prefix=".wal-cache-", dir=os.path.dirname(os.path.abspath(__file__)))
    if _fs_type(path) in ("tmpfs", "ramfs"):
        shutil.rmtree(path)
        pytest.skip("the checkout is on a memory file system: it has no page cache apart from the files")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cached(log, loc: Location, at: int) -> bool:
    """Whether the page holding payload byte `at` of `loc` is in the page cache. Asked through an fd of our own
    marked random-access: a RWF_NOWAIT miss still starts the kernel's readahead, which on the log's fd would
    bring the following pages back while they are being counted."""
    fd = os.open(segment_path(log.directory, loc.segment), os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        return os.preadv(fd, [bytearray(1)], loc.offset + at, os.RWF_NOWAIT) == 1
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def cached_share(log, loc: Location) -> float:
    """The share of a payload's pages in the page cache. Not every page need leave: the kernel drops a large
    folio only when the range covers it whole, and one may straddle either end of what the log drops."""
    pages = range(0, loc.length, 4096)
    return sum(cached(log, loc, at) for at in pages) / len(pages)


async def settled(log, expected_bytes: int) -> None:
    """The pages are dropped by the log's background thread after the sync returns: wait for it (2 s at most)."""
    for _ in range(200):
        if log.dropped_bytes >= expected_bytes or not log.drop_synced:
            return
        await asyncio.sleep(0.01)


async def write_and_sync(log, payloads):
    locs = []
    for rtype, payload in payloads:
        lsn, loc = log.append(rtype, payload)
        locs.append(loc)
    await log.commit(lsn)
    before = log.dropped_bytes
    await log.sync()
    await settled(log, before + sum(len(p) for t, p in payloads if t == RecordType.CHUNK and len(p) >= 256 << 10))
    return locs


def test_synced_big_chunks_leave_the_page_cache_and_a_sync_of_small_records_drops_nothing(disk_dir, backend):
    log, _ = open_log(disk_dir, segment_size=8 << 20)
    bigs = [os.urandom(BIG) for _ in range(3)]

    async def go():
        (small,) = await write_and_sync(log, [(RecordType.PUT, b"m" * 5000)])
        assert cached(log, small, 0) and cached(log, small, 4999) and log.dropped_bytes == 0
        chunks = await write_and_sync(log, [(RecordType.CHUNK, b) for b in bigs])
        lsn, later = log.append(RecordType.PUT, b"n" * 300)
        await log.commit(lsn)
        assert cached(log, later, 0)
        assert not cached(log, chunks[1], BIG // 2) and cached_share(log, chunks[1]) < 0.2
        assert log.dropped_bytes >= 3 * BIG
        assert [log.read(c) for c in chunks] == bigs  # read back from the disk, byte-exact
        assert log.read(small) == b"m" * 5000
        await log.close()

    asyncio.run(go())


def test_big_chunks_stay_cached_until_their_fsync(disk_dir, backend):
    log, _ = open_log(disk_dir, segment_size=8 << 20)

    async def go():
        for _ in range(3):
            lsn, loc = log.append(RecordType.CHUNK, os.urandom(BIG))
            if _ == 1:
                middle = loc
        await log.commit(lsn)  # policy none: written, not synced
        assert cached_share(log, middle) == 1.0 and log.dropped_bytes == 0
        await log.sync()
        await settled(log, 3 * BIG)
        assert cached_share(log, middle) < 0.2
        await log.close()

    asyncio.run(go())


def test_keep_cached_leaves_big_chunks_in_the_page_cache(disk_dir, backend):
    log, _ = open_log(disk_dir, segment_size=8 << 20, drop_synced=False)

    async def go():
        chunks = await write_and_sync(log, [(RecordType.CHUNK, os.urandom(BIG)) for _ in range(3)])
        assert cached_share(log, chunks[1]) == 1.0 and log.dropped_bytes == 0
        await log.close()

    asyncio.run(go())


def test_a_sealed_segment_drops_its_chunks_with_the_seal_fsync_even_with_no_sync_policy(disk_dir, backend):
    log, _ = open_log(disk_dir, segment_size=4 << 20, sync=SyncPolicy("none"))

    async def go():
        locs = []
        for _ in range(6):  # the fourth chunk no longer fits: segment 1 is sealed and fsynced by the flusher
            lsn, loc = log.append(RecordType.CHUNK, os.urandom(BIG))
            locs.append(loc)
        await log.commit(lsn)
        await settled(log, 3 * BIG)  # the flusher's seal fsync, then the drop on the log's background thread
        assert locs[1].segment < locs[-1].segment
        assert cached_share(log, locs[1]) < 0.2
        assert cached(log, locs[-1], BIG // 2)  # the active segment waits for its own fsync
        await log.close()

    asyncio.run(go())


def test_a_read_of_a_dropped_chunk_goes_off_the_loop_and_returns_every_byte(disk_dir, backend):
    log, _ = open_log(disk_dir, segment_size=8 << 20)
    bigs = [os.urandom(BIG) for _ in range(3)]

    async def go():
        chunks = await write_and_sync(log, [(RecordType.CHUNK, b) for b in bigs])
        lsn, small = log.append(RecordType.PUT, b"s" * 700)
        await log.commit(lsn)
        assert log.read_cached(chunks[1], 0, BIG) is None  # not in the page cache: the caller must not block
        assert bytes(log.read_cached(small, 0, 700)) == b"s" * 700
        assert bytes(await log.read_async(chunks[1], 1000, BIG)) == bigs[1][1000:]
        assert bytes(await log.read_async(small, 100, 50)) == b"s" * 50
        assert bytes(log.read_cached(chunks[1], 1000, 5000)) == bigs[1][1000:6000]  # read back: cached again
        await log.close()

    asyncio.run(go())
