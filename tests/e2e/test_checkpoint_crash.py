"""Seeded kill -9 of shards while clients overwrite and delete keys, the shards checkpoint their index every few
records and (second case) compact their log all the time: after the restarts (light recovery: checkpoint + log
tail) every key holds what its last acknowledged write left, or what a write that was cut short by the kill would
have left — never anything else."""

import hashlib
import os
import random
import signal
import sqlite3
import threading
import time

import orjson
import pytest

from tests.e2e.test_crash_presets import shard_pid
from tests.support.server import CairnServer

SIZES = [0, 10, 4096, 300_000]
CHECKPOINTS = ["--segment-size", str(1 << 20), "--checkpoint-records", "8", "--checkpoint-seconds", "0.05"]
# tiny segments, most of them dead after a few overwrites, and a compaction pass after every checkpoint
COMPACTION = ["--segment-size", str(64 << 10), "--checkpoint-records", "8", "--checkpoint-seconds", "0.05",
              "--compact-live-ratio", "0.9", "--compact-mib-s", "64"]
GONE = "gone"


def worker(server, seed, state, stop):
    """Owns keys w{seed}-0..7. state[key] = the outcomes a restart may show: the last acknowledged one, plus every
    write since that failed (a kill can cut a write after it was applied but before the client heard back)."""
    rng = random.Random(seed)
    s3 = server.client()
    while not stop.is_set():
        key = f"w{seed}-{rng.randrange(8)}"
        if rng.random() < 0.25:
            outcome, op = GONE, lambda: s3.delete_object(Bucket="ckpt", Key=key)
        else:
            data = rng.randbytes(rng.choice(SIZES))
            outcome, op = hashlib.sha256(data).hexdigest(), lambda: s3.put_object(Bucket="ckpt", Key=key, Body=data)
        possible = state.setdefault(key, {GONE})
        possible.add(outcome)  # in flight: a kill may leave either
        try:
            op()
        except Exception:
            time.sleep(0.02)
            continue
        state[key] = {outcome}


@pytest.mark.parametrize("seed, extra", [(21, CHECKPOINTS), (22, CHECKPOINTS), (23, COMPACTION), (24, COMPACTION)],
                         ids=["checkpoints-21", "checkpoints-22", "compaction-23", "compaction-24"])
def test_kill9_during_writes_checkpoints_and_compaction_keeps_every_acknowledged_outcome(tmp_path, seed, extra):
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    srv = CairnServer(data_dir, shards=2, preset="durable", extra=extra).start()
    state, stop = {}, threading.Event()
    threads = []
    try:
        srv.client().create_bucket(Bucket="ckpt")
        threads = [threading.Thread(target=worker, args=(srv, seed * 10 + t, state, stop), daemon=True)
                   for t in range(4)]
        for t in threads:
            t.start()
        for _ in range(5):
            time.sleep(rng.uniform(0.2, 0.7))
            os.kill(shard_pid(srv, rng.randrange(2)), signal.SIGKILL)
        time.sleep(rng.uniform(0.3, 0.6))
        srv.kill9()
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        srv.stop()
    assert len(state) >= 16, "the workers should have touched their keys"
    checkpoints = [_checkpoint_lsn(data_dir, n) for n in range(2)]
    assert all(lsn > 0 for lsn in checkpoints), f"each shard should have checkpointed: {checkpoints}"
    if extra is COMPACTION:
        assert any(_removed_segments(data_dir, n) for n in range(2)), "compaction should have removed segments"

    srv = CairnServer(data_dir, shards=2, preset="durable", extra=extra).start()
    try:
        s3 = srv.client()
        for key, possible in sorted(state.items()):
            try:
                found = hashlib.sha256(s3.get_object(Bucket="ckpt", Key=key)["Body"].read()).hexdigest()
            except s3.exceptions.NoSuchKey:
                found = GONE
            assert found in possible, f"{key}: holds {found}, which no acknowledged or cut-short write left"
        listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="ckpt")
                  for o in page.get("Contents", [])}
        present = {k for k in state if s3.list_objects_v2(Bucket="ckpt", Prefix=k).get("KeyCount")}
        assert listed == present
    finally:
        srv.stop()


def _checkpoint_lsn(data_dir, shard: int) -> int:
    db = sqlite3.connect(f"file:{data_dir}/shard-{shard}/index/index.db?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'applied'").fetchone()
    finally:
        db.close()
    return 0 if row is None else orjson.loads(row[0])["lsn"]


def _removed_segments(data_dir, shard: int) -> int:
    numbers = [int(n[:16]) for n in os.listdir(f"{data_dir}/shard-{shard}/wal") if n.endswith(".seg")]
    return max(numbers) - len(numbers) if numbers else 0
