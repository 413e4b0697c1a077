"""Group commit off (`SyncPolicy(group_commit=False)`, `cairn serve --group-commit off`): under `always` every
commit waits for an fsync of its own, one at a time -- the reference bench/put_group_commit.py measures group
commit against. The loss window is the same: nothing acknowledged is lost."""
import asyncio
import errno
import os

import pytest
from tests.wal.test_sync import failing_sync_io
from tests.wal.wal_helpers import CountingObserver, close, open_log

from wal import RecordType, SyncFailed, SyncPolicy, policy_for

T = RecordType
pytestmark = pytest.mark.usefixtures("backend")
OFF = SyncPolicy("always", group_commit=False)


def test_the_setting_defaults_on_and_rides_on_presets():
    assert SyncPolicy("always").group_commit is True
    assert policy_for("durable", group_commit=False) == OFF


@pytest.mark.parametrize("policy", [OFF, SyncPolicy("always")], ids=["off", "on"])
def test_every_commit_gets_its_own_fsync_only_when_off(tmp_path, policy):
    observer = CountingObserver()
    log, _ = open_log(tmp_path, sync=policy, observer=observer, segment_size=64 << 10)  # rotations too
    writers, rounds = 16, 5

    async def writer():
        for _ in range(rounds):
            lsn, _ = log.append(T.CHUNK, os.urandom(4096))
            await log.commit(lsn)
            assert log.durable_lsn >= lsn

    async def main():
        await asyncio.gather(*(writer() for _ in range(writers)))
        commits_synced = len(observer.calls)
        await log.close()
        return commits_synced

    synced = asyncio.run(main())
    commits = writers * rounds
    if policy.group_commit:
        assert synced < commits // 2
    else:
        assert synced >= commits  # one each, plus those sealing segments
    log, recovered = open_log(tmp_path, segment_size=64 << 10)
    assert [r.lsn for r in recovered] == list(range(1, commits + 1))
    close(log)


def test_off_a_cancelled_committer_costs_no_fsync_and_disturbs_nobody(tmp_path):
    log, _ = open_log(tmp_path, sync=OFF)

    async def main():
        lsn1, _ = log.append(T.PUT, b"a")
        doomed = asyncio.ensure_future(log.commit(lsn1))
        lsn2, _ = log.append(T.PUT, b"b")
        kept = asyncio.ensure_future(log.commit(lsn2))
        await asyncio.sleep(0)
        doomed.cancel()
        await kept
        assert log.durable_lsn >= lsn2
        await log.close()

    asyncio.run(main())


def test_off_a_failed_fsync_fails_the_committer(tmp_path):
    log, _ = open_log(tmp_path, sync=OFF, io=failing_sync_io())

    async def main():
        lsn, _ = log.append(T.PUT, b"a")
        with pytest.raises(SyncFailed) as failed:
            await log.commit(lsn)
        assert failed.value.__cause__.errno == errno.EIO
        with pytest.raises(SyncFailed):
            await log.close()

    asyncio.run(main())
