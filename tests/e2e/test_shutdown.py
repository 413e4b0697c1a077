"""Stopping: SIGTERM to the whole process group (as systemd, docker stop of a shell wrapper or Ctrl-C in a
terminal deliver it) reaches the supervisor and every child, and the supervisor then signals its children again.
Cairn stops cleanly under load all the same: exit code 0, nothing but log lines on stderr (no traceback, no
"Event loop stopped before Future completed"), and every acknowledged write is there after a restart."""

import os
import signal

import pytest

from tests.support.load import Writers, lost_objects
from tests.support.server import CairnServer


@pytest.mark.parametrize("front", ["sanic", "raw"])
def test_sigterm_to_the_process_group_under_load_exits_0_quietly_and_loses_nothing(tmp_path, front):
    log = tmp_path / "stderr.log"
    srv = CairnServer(tmp_path / "data", shards=2, stderr_path=log, extra=["--http-front", front]).start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="stopping")
        with Writers(srv, "stopping", threads=3) as writers:
            writers.wait_for_acks(30)
            os.killpg(srv.proc.pid, signal.SIGTERM)
            os.killpg(srv.proc.pid, signal.SIGTERM)  # an impatient operator: every process gets it again
            assert srv.proc.wait(30) == 0
        # Requests cut by the stop got an S3 error or a closed connection, never a 500.
        assert not [o for o in writers.tally.outcomes if o.status >= 500 and o.code != "ServiceUnavailable"]
        stderr = log.read_text()
        for noise in ("Traceback", "Event loop stopped", " ERROR ", "exited with"):
            assert noise not in stderr, stderr
    finally:
        srv.stop()
    srv = CairnServer(tmp_path / "data", shards=2).start()
    try:
        assert lost_objects(srv.client(), "stopping", writers.tally.acked) == []
    finally:
        srv.stop()
