import asyncio
import errno
import os
import random
import subprocess
import sys
import threading
import time

import pytest
from tests.wal.crash_child import SEGMENT_SIZE, record_for
from tests.wal import wal_helpers
from tests.wal.wal_helpers import CountingObserver, backend_class, close, open_log

from wal import PRESETS, RecordType, SyncFailed, SyncPolicy, policy_for

T = RecordType
pytestmark = pytest.mark.usefixtures("backend")
CHILD = os.path.join(os.path.dirname(__file__), "crash_child.py")


async def eventually(predicate, timeout=5.0):
    """Poll instead of asserting tight timings: CI disks are slow and noisy."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def recovered_log(tmp_path, policy, **kwargs):
    observer = CountingObserver()
    log, _ = open_log(tmp_path, sync=policy, observer=observer, **kwargs)
    return log, observer


# -- policies -------------------------------------------------------------------

def test_presets():
    assert PRESETS["performance"] == SyncPolicy("none")
    assert PRESETS["balanced"].mode == "periodic" and PRESETS["balanced"].interval_ms > 0
    assert PRESETS["durable"] == SyncPolicy("always")
    assert policy_for("Balanced", interval_ms=5) == SyncPolicy("periodic", interval_ms=5)
    with pytest.raises(ValueError):
        policy_for("reckless")
    with pytest.raises(ValueError):
        SyncPolicy("sometimes")
    with pytest.raises(ValueError):
        SyncPolicy("periodic", interval_ms=0)


# -- always: group commit --------------------------------------------------------

def test_group_commit_shares_fsyncs_among_64_concurrent_committers(tmp_path):
    log, observer = recovered_log(tmp_path, SyncPolicy("always"))

    async def writer(i):
        lsn, _ = log.append(T.PUT, os.urandom(4096))
        await log.commit(lsn)
        assert log.durable_lsn >= lsn
        return lsn

    async def main():
        lsns = await asyncio.gather(*(writer(i) for i in range(64)))
        await log.close()
        return lsns

    lsns = asyncio.run(main())
    assert sorted(lsns) == list(range(1, 65))
    assert 1 <= len(observer.calls) <= 8, observer.calls
    assert observer.records == 64
    log, recovered = open_log(tmp_path)
    assert [r.lsn for r in recovered] == list(range(1, 65))
    close(log)


def test_sustained_group_commit_keeps_fsyncs_well_below_commits(tmp_path):
    # Rotation every few records too: a commit in a new segment must also
    # cover the sealed one.
    log, observer = recovered_log(tmp_path, SyncPolicy("always"), segment_size=64 << 10)
    rounds = 20

    async def writer(i):
        for _ in range(rounds):
            lsn, _ = log.append(T.CHUNK, os.urandom(4096))
            await log.commit(lsn)
            assert log.durable_lsn >= lsn

    async def main():
        await asyncio.gather(*(writer(i) for i in range(64)))
        assert log.durable_lsn == log.last_lsn == 64 * rounds
        await log.close()

    asyncio.run(main())
    assert len(observer.calls) < 64 * rounds // 8
    assert observer.records == 64 * rounds


def test_commit_of_an_already_durable_lsn_returns_at_once(tmp_path):
    log, observer = recovered_log(tmp_path, SyncPolicy("always"))

    async def main():
        lsn, _ = log.append(T.PUT, b"x")
        await log.commit(lsn)
        calls = len(observer.calls)
        await log.commit(lsn)
        await log.commit(0)
        assert len(observer.calls) == calls
        with pytest.raises(ValueError):
            await log.commit(lsn + 1)  # never appended
        await log.close()

    asyncio.run(main())


def test_a_cancelled_committer_does_not_disturb_the_others(tmp_path):
    log, _ = recovered_log(tmp_path, SyncPolicy("always"))

    async def main():
        lsn1, _ = log.append(T.PUT, b"a")
        doomed = asyncio.ensure_future(log.commit(lsn1))
        await asyncio.sleep(0)
        doomed.cancel()
        lsn2, _ = log.append(T.PUT, b"b")
        await log.commit(lsn2)
        assert log.durable_lsn >= lsn2
        await log.close()

    asyncio.run(main())


def test_close_completes_pending_commits(tmp_path):
    log, _ = recovered_log(tmp_path, SyncPolicy("always"))

    async def main():
        lsn, _ = log.append(T.PUT, b"a")
        pending = asyncio.ensure_future(log.commit(lsn))
        await asyncio.sleep(0)
        await log.close()
        await pending
        assert log.durable_lsn == lsn

    asyncio.run(main())


# -- background policies ------------------------------------------------------------

def test_periodic_fsyncs_in_the_background(tmp_path):
    log, observer = recovered_log(tmp_path, SyncPolicy("periodic", interval_ms=20))

    async def main():
        lsn, _ = log.append(T.PUT, b"x" * 100)
        await log.commit(lsn)
        assert log.durable_lsn < lsn  # commit did not wait for the disk
        await eventually(lambda: log.durable_lsn == lsn)
        assert observer.calls and observer.records == 1
        calls = len(observer.calls)
        await asyncio.sleep(0.1)  # five idle intervals
        assert len(observer.calls) == calls, "fsynced with nothing appended"
        await log.close()

    asyncio.run(main())


def test_threshold_fsyncs_once_enough_bytes_are_appended(tmp_path):
    threshold = 64 << 10
    log, observer = recovered_log(tmp_path, SyncPolicy("threshold", threshold_bytes=threshold))
    record = 4096 + 24

    async def main():
        for _ in range(threshold // record):  # just under the threshold
            lsn, _ = log.append(T.CHUNK, bytes(4096))
            await log.commit(lsn)
        await asyncio.sleep(0.05)
        assert observer.calls == [] and log.durable_lsn == 0
        lsn, _ = log.append(T.CHUNK, bytes(4096))  # crosses it
        await eventually(lambda: log.durable_lsn == lsn)
        assert len(observer.calls) == 1
        await log.close()

    asyncio.run(main())


def test_none_syncs_only_on_rotation_and_close(tmp_path):
    log, observer = recovered_log(tmp_path, SyncPolicy("none"), segment_size=8192)

    async def main():
        for _ in range(3):
            lsn, _ = log.append(T.CHUNK, bytes(2000))
            await log.commit(lsn)
        await asyncio.sleep(0.05)
        assert observer.calls == []
        sealed_last = log.last_lsn
        log.append(T.CHUNK, bytes(4000))  # does not fit: seals segment 1
        await eventually(lambda: log.durable_lsn == sealed_last)
        assert log.durable_lsn < log.last_lsn
        await log.close()
        assert log.durable_lsn == log.last_lsn

    asyncio.run(main())
    assert observer.records == 4


def test_rotation_without_an_event_loop_syncs_inline(tmp_path):
    log, observer = recovered_log(tmp_path, SyncPolicy("none"), segment_size=4096)
    for _ in range(3):
        log.append(T.CHUNK, bytes(2000))
    assert log.durable_lsn == 2 and observer.records == 2
    close(log)


# -- crash ------------------------------------------------------------------------

def test_every_acknowledged_record_survives_kill_9(tmp_path):
    rng = random.Random(0xC0FFEE)
    acked: dict[int, tuple[int, int, int]] = {}
    for round_ in range(6):
        child = subprocess.Popen([sys.executable, CHILD, str(tmp_path), str(round_), wal_helpers.BACKEND],
                                 stdout=subprocess.PIPE, text=True)
        lines: list[str] = []
        # Drain the pipe continuously so the child never blocks on a full one.
        reader = threading.Thread(target=lambda: lines.extend(child.stdout))
        reader.start()
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        assert lines and lines[0].startswith("ready"), f"child did not start: {lines}"
        # the kill must land mid-stream: wait for a first acknowledgement (slow on a loaded machine), then a
        # random while longer
        while len(lines) < 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.05, 0.4))
        child.kill()
        child.wait()
        reader.join()

        complete = [line.split() for line in lines[1:] if line.endswith("\n")]
        assert complete, "child acknowledged nothing before the kill"
        for lsn, r, w, seq in complete:
            acked[int(lsn)] = (int(r), int(w), int(seq))

        log, recovered = open_log(tmp_path, full=True, segment_size=SEGMENT_SIZE)
        assert log.report.corrupt_ranges == []
        assert [r.lsn for r in recovered] == list(range(1, len(recovered) + 1))
        by_lsn = {r.lsn: r for r in recovered}
        for lsn, key in acked.items():
            rtype, payload = record_for(*key)
            got = by_lsn.get(lsn)
            assert got is not None, f"acknowledged lsn {lsn} lost in round {round_}"
            assert (got.type, got.payload) == (rtype, payload)
            assert log.read(got.location) == payload
        close(log)


# -- failures ---------------------------------------------------------------------

def failing_sync_io():
    """Fault injection at the I/O seam: real files, but the serving path's
    fsync reports EIO (recovery's blocking sync still works)."""

    async def sync(self, fds, dir_fd=None):
        raise OSError(errno.EIO, "injected fsync failure")

    return type("FailingSyncIO", (backend_class(),), {"sync": sync})()


def test_a_failed_fsync_fails_waiters_and_refuses_further_work(tmp_path):
    log, _ = open_log(tmp_path, sync=SyncPolicy("always"), io=failing_sync_io())

    async def main():
        lsn, _ = log.append(T.PUT, b"a")
        with pytest.raises(SyncFailed):
            await log.commit(lsn)
        # After a failed fsync the kernel may have dropped the dirty pages:
        # nothing may be acknowledged as durable any more.
        with pytest.raises(SyncFailed):
            log.append(T.PUT, b"b")
        with pytest.raises(SyncFailed):
            await log.close()

    asyncio.run(main())
    assert log.durable_lsn == 0


def test_a_broken_observer_does_not_poison_the_log(tmp_path):
    class Broken:
        def fsync(self, seconds, records):
            raise RuntimeError("metrics bug")

    log, _ = open_log(tmp_path, sync=SyncPolicy("always"), observer=Broken())

    async def main():
        lsn, _ = log.append(T.PUT, b"a")
        await log.commit(lsn)
        lsn, _ = log.append(T.PUT, b"b")
        await log.commit(lsn)
        await log.close()

    asyncio.run(main())
    assert log.durable_lsn == 2
