"""The storage engine's faults seen through S3: bit rot in a segment file (cairn check, --recovery full, a damaged
object answers InternalError while the rest reads back) and a full disk (507 InsufficientStorage, reads go on,
writes resume once space returns)."""

import os
import random
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.support.server import ROOT, CairnServer
from tests.support.tmpfs import fill, small_filesystem


def cairn_check(data_dir):
    return subprocess.run([sys.executable, "-m", "router.cli", "check", str(data_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def flip_byte_of(wal_dir, needle: bytes) -> None:
    """Flip one byte inside the first occurrence of ``needle`` in the shard's segment files."""
    for name in sorted(os.listdir(wal_dir)):
        if not name.endswith(".seg"):
            continue
        path = os.path.join(wal_dir, name)
        with open(path, "r+b") as f:
            data = f.read()
            at = data.find(needle)
            if at >= 0:
                f.seek(at + len(needle) // 2)
                f.write(bytes([data[at + len(needle) // 2] ^ 0x01]))
                return
    raise AssertionError("needle not found in any segment")


def test_flipped_byte_is_reported_and_only_the_damaged_object_fails_after_full_recovery(tmp_path):
    rng = random.Random(5)
    data_dir = tmp_path / "data"
    bodies = {f"small-{i}": rng.randbytes(rng.choice([10, 5000])) for i in range(20)}
    bodies.update({f"big-{i}": rng.randbytes(2_500_000) for i in range(3)})
    srv = CairnServer(data_dir, shards=1, preset="durable", extra=["--segment-size", str(4 << 20)]).start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="rot")
        for key, body in bodies.items():
            s3.put_object(Bucket="rot", Key=key, Body=body)
    finally:
        srv.stop()
    clean = cairn_check(data_dir)
    assert clean.returncode == 0 and "no corruption" in clean.stdout, clean.stdout

    flip_byte_of(data_dir / "shard-0" / "wal", bodies["big-1"][1_200_000:1_200_064])  # inside its second chunk
    damaged = cairn_check(data_dir)
    assert damaged.returncode == 1, damaged.stdout
    assert "1 corrupt ranges" in damaged.stdout and "CORRUPT segment" in damaged.stdout and "crc mismatch" in damaged.stdout

    srv = CairnServer(data_dir, shards=1, preset="durable", extra=["--recovery", "full"]).start()
    try:
        s3 = srv.client()
        with pytest.raises(ClientError) as err:
            s3.get_object(Bucket="rot", Key="big-1")["Body"].read()
        assert err.value.response["Error"]["Code"] == "InternalError"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert s3.head_object(Bucket="rot", Key="big-1")["ContentLength"] == 2_500_000  # its metadata is intact
        for key, body in bodies.items():
            if key != "big-1":
                assert s3.get_object(Bucket="rot", Key=key)["Body"].read() == body, key
        s3.put_object(Bucket="rot", Key="after", Body=b"still writable")
        assert s3.get_object(Bucket="rot", Key="after")["Body"].read() == b"still writable"
    finally:
        srv.stop()


def test_a_full_disk_answers_507_keeps_serving_reads_and_takes_writes_again_when_space_returns(tmp_path):
    data_dir = tmp_path / "data"
    wal_dir = data_dir / "shard-0" / "wal"
    # Only the log lives on the small file system, so nothing else of the server (metrics files) runs out.
    with small_filesystem(wal_dir, "8m"):
        srv = CairnServer(data_dir, shards=1, preset="durable", extra=["--segment-size", str(1 << 20)]).start()
        try:
            s3 = srv.client()
            s3.create_bucket(Bucket="full")
            stored = {}
            fill(wal_dir / "filler")
            body = os.urandom(200_000)
            with pytest.raises(ClientError) as err:
                for i in range(200):
                    s3.put_object(Bucket="full", Key=f"k{i}", Body=body)
                    stored[f"k{i}"] = body
            assert err.value.response["Error"]["Code"] == "InsufficientStorage"
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507
            assert stored, "some writes fit in the segments the log had already made"
            for key, data in stored.items():
                assert s3.get_object(Bucket="full", Key=key)["Body"].read() == data
            os.unlink(wal_dir / "filler")
            s3.put_object(Bucket="full", Key="later", Body=body)
            assert s3.get_object(Bucket="full", Key="later")["Body"].read() == body
        finally:
            srv.stop()
        srv = CairnServer(data_dir, shards=1, preset="durable", extra=["--segment-size", str(1 << 20)]).start()
        try:
            s3 = srv.client()
            for key in [*stored, "later"]:
                assert s3.get_object(Bucket="full", Key=key)["Body"].read() == body
        finally:
            srv.stop()
