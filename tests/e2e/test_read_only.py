"""A data directory that stops being writable. While running: writes get 503 ServiceUnavailable (S3 has no code
for read-only storage; like a store without write quorum, Cairn answers the retryable 503) as soon as they need a
new file, reads go on, no process crashes or restarts, and writes resume by themselves once the directory is
writable again. At start: `cairn serve` refuses with one clear line and exit code 1 instead of letting shards
crash-loop, and starts normally once the directory is writable. A file system the kernel remounts read-only
after an error (ext4 errors=remount-ro) is the same to clients; the shards stay up serving reads until an
operator repairs it, and after the repair every acknowledged write is there.

Permissions bind root only without CAP_DAC_OVERRIDE, so as root the server runs under setpriv with that
capability (and CAP_DAC_READ_SEARCH) dropped from its bounding set; the test itself keeps them to chmod back."""

import contextlib
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.support.load import RawClient, Writers, lost_objects
from tests.support.server import ROOT, CairnServer
from tests.support.tmpfs import small_filesystem


def without_dac_override() -> list[str]:
    if os.getuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.fail("running as root needs setpriv (util-linux) to make permissions bind the server")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def chmod_tree(top, dirs: int, files: int) -> None:
    for path, subdirs, names in os.walk(top):
        os.chmod(path, dirs)
        for name in names:
            if not os.path.islink(os.path.join(path, name)):
                os.chmod(os.path.join(path, name), files)


def test_a_data_dir_made_read_only_refuses_writes_with_503_serves_reads_and_recovers(tmp_path):
    data_dir, log = tmp_path / "data", tmp_path / "stderr.log"
    srv = CairnServer(data_dir, shards=2, extra=["--segment-size", str(1 << 20)], wrapper=without_dac_override(),
                      stderr_path=log).start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="frozen")
        s3.put_object(Bucket="frozen", Key="before", Body=b"written before")
        pids = srv.pids()
        with Writers(srv, "frozen", threads=3) as writers:
            writers.wait_for_acks(20)
            for shard in ("shard-0", "shard-1"):
                chmod_tree(data_dir / shard, 0o555, 0o444)
            refused = lambda tally: sum(1 for o in tally.outcomes if o.status == 503) >= 20  # noqa: E731
            writers.wait_for(refused)  # the open segments filled up; no new one can be made

            probe = RawClient(srv)
            status, headers, body = probe.request("PUT", "/frozen/refused", b"x" * 1_500_000)  # needs a segment
            assert status == 503
            error = ET.fromstring(body)
            assert error.findtext("Code") == "ServiceUnavailable"
            assert "not writable" in error.findtext("Message")
            assert error.findtext("RequestId") == headers["x-amz-request-id"]
            assert probe.request("GET", "/frozen/before")[2] == b"written before"
            assert probe.request("GET", "/frozen?list-type=2")[0] == 200
            assert srv.pids() == pids, "no process crashed or was restarted"

            for shard in ("shard-0", "shard-1"):
                chmod_tree(data_dir / shard, 0o755, 0o644)
            acked = len(writers.tally.acked)
            writers.wait_for_acks(acked + 20)  # writes resume without a restart
        codes = writers.tally.codes()
        assert set(codes) == {(503, "ServiceUnavailable")}, codes
        assert not [o for o in writers.tally.failures() if o.op == "GET"]
        assert writers.tally.mismatches == []
        assert lost_objects(s3, "frozen", writers.tally.acked) == []
        assert "writes refused: the data directory is not writable" in log.read_text()
    finally:
        chmod_tree(data_dir, 0o755, 0o644)
        srv.stop()


def serve(data_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "router.cli", "serve", "--port", "0", "--data-dir", str(data_dir),
                           "--shards", "2"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ROOT})


def test_starting_on_a_read_only_file_system_is_refused_clearly_and_works_once_writable(tmp_path):
    data_dir = tmp_path / "data"
    with small_filesystem(data_dir, "64m"):
        srv = CairnServer(data_dir, shards=2, extra=["--segment-size", str(1 << 20)]).start()
        try:
            srv.client().create_bucket(Bucket="mounted")
            srv.client().put_object(Bucket="mounted", Key="k", Body=b"kept")
        finally:
            srv.stop()
        subprocess.run(["mount", "-o", "remount,ro", str(data_dir)], check=True)
        refused = serve(data_dir)
        assert refused.returncode == 1
        assert "refusing to start: the data directory is not writable" in refused.stderr
        assert "Read-only file system" in refused.stderr and "Traceback" not in refused.stderr
        assert refused.stdout == ""  # no banner: nothing was started

        subprocess.run(["mount", "-o", "remount,rw", str(data_dir)], check=True)
        srv = CairnServer(data_dir, shards=2, extra=["--segment-size", str(1 << 20)]).start()
        try:
            s3 = srv.client()
            assert s3.get_object(Bucket="mounted", Key="k")["Body"].read() == b"kept"
            s3.put_object(Bucket="mounted", Key="after", Body=b"writable again")
            assert s3.get_object(Bucket="mounted", Key="after")["Body"].read() == b"writable again"
        finally:
            srv.stop()


@contextlib.contextmanager
def ext4_remounting_read_only_on_error(tmp_path):
    """A small ext4 file system on a loop device, mounted errors=remount-ro: writing to its trigger_fs_error
    makes the kernel abort the journal and remount it read-only, as after a disk error."""
    image, mnt = tmp_path / "ext4.img", tmp_path / "mnt"
    subprocess.run(["truncate", "-s", "96M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mnt)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount an ext4 image on a loop device here: {mounted.stderr.strip()}")
    try:
        device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mnt)], capture_output=True, text=True,
                                check=True).stdout.strip()
        yield image, mnt, f"/sys/fs/ext4/{os.path.basename(device)}/trigger_fs_error"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_file_system_remounted_read_only_after_an_error_refuses_writes_and_loses_nothing(tmp_path):
    log = tmp_path / "stderr.log"
    with ext4_remounting_read_only_on_error(tmp_path) as (image, mnt, trigger):
        opts = dict(shards=2, preset="durable", extra=["--segment-size", str(1 << 20)])
        srv = CairnServer(mnt / "data", stderr_path=log, **opts).start()
        try:
            s3 = srv.client()
            s3.create_bucket(Bucket="remounted")
            pids = srv.pids()
            with Writers(srv, "remounted", threads=3) as writers:
                writers.wait_for_acks(30)
                with open(trigger, "w") as f:
                    f.write("cairn test: disk error\n")
                writers.wait_for(lambda tally: sum(1 for o in tally.outcomes if o.status == 503) >= 20)
            assert srv.pids() == pids, "no process crashed or was restarted"
            codes = writers.tally.codes()
            assert set(codes) == {(503, "ServiceUnavailable")}, codes
            assert not [o for o in writers.tally.failures() if o.op == "GET"] and writers.tally.mismatches == []
            assert lost_objects(s3, "remounted", writers.tally.acked) == []  # still served, from the page cache
        finally:
            srv.stop()
        assert srv.proc.returncode == 0
        assert "Traceback" not in log.read_text(), log.read_text()
        assert "its storage failed" in log.read_text()  # the final sync could not happen: said in one line

        # The operator's repair: unmount, fsck, mount; every acknowledged (durable) write is there.
        subprocess.run(["umount", str(mnt)], check=True)
        assert subprocess.run(["e2fsck", "-y", "-f", str(image)], capture_output=True).returncode in (0, 1)
        subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
        srv = CairnServer(mnt / "data", **opts).start()
        try:
            s3 = srv.client()
            assert lost_objects(s3, "remounted", writers.tally.acked) == []
            s3.put_object(Bucket="remounted", Key="after-repair", Body=b"writable again")
            assert s3.get_object(Bucket="remounted", Key="after-repair")["Body"].read() == b"writable again"
        finally:
            srv.stop()
