"""The I/O backends at the seam: what io_uring batching promises, and how a backend is chosen."""
import asyncio
import errno
import os

import pytest
from tests.wal.wal_helpers import CountingObserver, close, make_io, open_log

from wal import RecordType, SyncFailed, SyncPolicy
from wal.io import ThreadPoolIO
from wal.io_select import open_backend
from wal.io_uring import UringIO, WriteFailed

T = RecordType


# -- choosing -----------------------------------------------------------------------

def test_auto_picks_io_uring_where_it_can_be_set_up():
    io, why = open_backend("auto")
    try:
        assert (io.name, why) == ("io_uring", "available")
    finally:
        io.shutdown()


def test_threadpool_can_be_forced_and_unknown_names_are_refused():
    io, why = open_backend("threadpool")
    assert isinstance(io, ThreadPoolIO) and io.name == "threadpool" and why == "configured"
    with pytest.raises(ValueError):
        open_backend("aio")


# -- io_uring: one submission per group commit ------------------------------------------

def test_group_commit_links_the_writes_to_their_fsync_in_one_submission(tmp_path):
    observer = CountingObserver()
    io = UringIO()
    log, _ = open_log(tmp_path, sync=SyncPolicy("always"), observer=observer, io=io)

    async def writer(i):
        for _ in range(10):
            lsn, _ = log.append(T.PUT, os.urandom(4096))
            await log.commit(lsn)

    async def main():
        await asyncio.gather(*(writer(i) for i in range(32)))
        await log.close()

    asyncio.run(main())
    assert observer.records == 320
    # Every committed write travelled in its fsync's chain: no submission carried writes alone.
    assert io.submissions <= len(observer.calls) + 1, (io.submissions, len(observer.calls))
    log, recovered = open_log(tmp_path, full=True)
    assert [r.lsn for r in recovered] == list(range(1, 321))
    close(log)


def test_commit_returns_only_once_the_record_is_written_under_every_policy(tmp_path):
    # The io_uring write completes after append() returns; an acknowledged record must
    # already be in the page cache (a killed process loses nothing under any preset).
    log, _ = open_log(tmp_path, sync=SyncPolicy("none"), io=UringIO())

    async def main():
        lsn, loc = log.append(T.PUT, b"visible")
        assert log.written_lsn < lsn  # queued, not yet submitted
        await log.commit(lsn)
        assert log.written_lsn >= lsn
        assert os.pread(log.fd_for(loc.segment), 7, loc.offset) == b"visible"
        await log.close()

    asyncio.run(main())


def test_past_the_in_flight_cap_writes_go_inline_and_nothing_is_lost(tmp_path):
    io = UringIO(entries=32, max_in_flight=4)
    log, _ = open_log(tmp_path, sync=SyncPolicy("always"), io=io)
    payloads = [os.urandom(n) for n in range(1, 200)]

    async def main():
        appended = [log.append(T.CHUNK, p) for p in payloads]  # one loop iteration: far past the cap
        await log.commit(appended[-1][0])
        await log.close()
        return appended

    appended = asyncio.run(main())
    log, recovered = open_log(tmp_path, full=True)
    assert [r.payload for r in recovered] == payloads
    assert [r.location for r in recovered] == [loc for _, loc in appended]
    close(log)


def test_completions_beyond_the_completion_queue_are_reaped_after_an_overflow(tmp_path):
    # 64 CQ slots, 150 completions outstanding: the kernel parks the rest on its overflow list, and the
    # eventfd stops firing until reap() asks for them with io_uring_get_events.
    io = UringIO(entries=32, max_in_flight=16)
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o644)
    loop = asyncio.new_event_loop()
    try:
        fsyncs = []
        for _ in range(5):
            batch = [_fsync_op(fd, loop) for _ in range(30)]
            io._submit(batch)
            fsyncs += batch
        loop.run_until_complete(asyncio.sleep(0.2))  # not attached: nothing reaps meanwhile
        assert io._L.io_uring_cq_has_overflow(io._ring)
        io.reap()
        assert all(op.future.done() and op.future.result() == 0 for op in fsyncs)
        assert not io._ops
    finally:
        loop.close()
        os.close(fd)
        io.shutdown()


def _fsync_op(fd, loop):
    from wal.io_uring import _FSYNC, _Op
    op = _Op(_FSYNC, fd)
    op.future = loop.create_future()
    return op


def test_a_failed_asynchronous_write_poisons_the_log(tmp_path):
    io = UringIO()
    log, _ = open_log(tmp_path, sync=SyncPolicy("none"), io=io)
    readonly = os.open(tmp_path / "ro", os.O_RDONLY | os.O_CREAT, 0o644)

    async def main():
        log.append(T.PUT, b"fine")
        io.write(readonly, [b"x" * 10], 0, log.last_lsn + 1)  # completes with EBADF
        with pytest.raises(WriteFailed):
            await io.wait_written(log.last_lsn + 1)
        assert io.error.errno == errno.EBADF
        with pytest.raises(SyncFailed):
            log.append(T.PUT, b"refused")  # the page cache may not hold what we think: restart and recover

    asyncio.run(main())
    os.close(readonly)
    io.shutdown()


def test_without_an_event_loop_io_uring_behaves_synchronously(tmp_path):
    log, _ = open_log(tmp_path, io=make_io())
    lsn, loc = log.append(T.PUT, b"now")
    assert log.written_lsn == lsn and log.read(loc) == b"now"
    close(log)
