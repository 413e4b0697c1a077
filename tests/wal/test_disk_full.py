"""ENOSPC on a real (tmpfs) file system: the full disk surfaces as a clean error from append(), reads go on,
appends resume once space returns, and nothing acknowledged is lost."""
import asyncio
import errno
import os

import pytest
from tests.support.tmpfs import fill, small_filesystem
from tests.wal.wal_helpers import close, open_log

from wal import RecordType, SyncPolicy
from wal.spare import FILLS

T = RecordType
pytestmark = pytest.mark.usefixtures("backend")
SEGMENT = 1 << 20


@pytest.mark.parametrize("how", FILLS)  # segments of written zeros or of reserved extents (wal/spare.py)
def test_a_full_disk_fails_appends_cleanly_keeps_reads_and_recovers_when_space_returns(tmp_path, how):
    with small_filesystem(tmp_path / "fs", "4m") as fs:
        log, _ = open_log(fs / "wal", sync=SyncPolicy("always"), segment_size=SEGMENT, fill=how)
        payload = os.urandom(60_000)

        async def main():
            acked = []
            with pytest.raises(OSError) as full:
                for _ in range(1000):
                    lsn, loc = log.append(T.CHUNK, payload)
                    await log.commit(lsn)
                    acked.append((lsn, loc))
                    if len(acked) == 20:
                        fill(fs / "filler")  # take what the log has not preallocated
            assert full.value.errno == errno.ENOSPC
            # The segment being appended to is whole: every acknowledged record reads back.
            assert all(log.read(loc) == payload for _, loc in acked)
            with pytest.raises(OSError):
                log.append(T.CHUNK, payload)  # still full
            os.unlink(fs / "filler")
            lsn, loc = log.append(T.PUT, b"after the disk had room again")
            await log.commit(lsn)
            await log.close()
            return acked, lsn

        acked, last = asyncio.run(main())
        log, recovered = open_log(fs / "wal", full=True, segment_size=SEGMENT, fill=how)
        assert log.report.corrupt_ranges == [] and log.report.truncated_bytes == 0
        by_lsn = {r.lsn: r.payload for r in recovered}
        assert all(by_lsn[lsn] == payload for lsn, _ in acked)
        assert by_lsn[last] == b"after the disk had room again"
        assert sorted(by_lsn) == list(range(1, last + 1))  # the refused appends consumed no LSN
        close(log)
