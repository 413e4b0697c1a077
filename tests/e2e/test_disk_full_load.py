"""A disk filling up under concurrent writers: every request is answered 200 or 507 InsufficientStorage (never a
500, never a dropped connection), reads go on throughout, nothing acknowledged is lost, and writes succeed again
once space is freed — without a restart."""

import contextlib

from tests.support.load import Writers, lost_objects
from tests.support.server import CairnServer
from tests.support.tmpfs import fill, small_filesystem


def test_concurrent_writers_on_a_filling_disk_get_200_or_507_and_lose_nothing(tmp_path):
    data_dir = tmp_path / "data"
    shard_dirs = [data_dir / f"shard-{i}" for i in range(2)]
    with contextlib.ExitStack() as mounts:
        for d in shard_dirs:  # each shard's log and index on a small file system of its own
            mounts.enter_context(small_filesystem(d, "12m"))
        log = tmp_path / "stderr.log"
        srv = CairnServer(data_dir, shards=2, extra=["--segment-size", str(1 << 20)], stderr_path=log).start()
        try:
            s3 = srv.client()
            s3.create_bucket(Bucket="filling")
            with Writers(srv, "filling", threads=4, sizes=(1, 96 << 10)) as writers:
                writers.wait_for_acks(20)
                for d in shard_dirs:
                    fill(d / "filler")
                full = lambda tally: sum(1 for o in tally.outcomes if o.status == 507) >= 20  # noqa: E731
                writers.wait_for(full)  # every writer is now meeting the full disk
                acked_while_full = len(writers.tally.acked)
                for d in shard_dirs:
                    (d / "filler").unlink()
                writers.wait_for_acks(acked_while_full + 20)  # writes resume by themselves
            codes = writers.tally.codes()
            assert set(codes) == {(507, "InsufficientStorage")}, codes
            assert writers.tally.successes("GET") and not [o for o in writers.tally.failures() if o.op == "GET"]
            assert writers.tally.mismatches == []
            assert lost_objects(s3, "filling", writers.tally.acked) == []
            assert "Traceback" not in log.read_text()
        finally:
            srv.stop()
        srv = CairnServer(data_dir, shards=2, extra=["--segment-size", str(1 << 20)]).start()
        try:
            assert lost_objects(srv.client(), "filling", writers.tally.acked) == []
        finally:
            srv.stop()
