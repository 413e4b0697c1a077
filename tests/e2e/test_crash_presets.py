"""Seeded kill -9 of shard processes and of the whole server while clients write, under every durability preset.

A killed *process* loses nothing it acknowledged under any preset (acknowledged records are at least in the page
cache, see docs/DURABILITY.md), so every preset is held to: every acknowledged PUT reads back byte-exact after the
restarts, and every key that is visible at all holds exactly one body a client sent (nothing half-written).
Power-loss windows (Balanced: ~interval, Performance: OS writeback) need a machine-level cut and are argued in
docs/DURABILITY.md, not tested here.
"""

import hashlib
import os
import random
import signal
import threading
import time

import pytest

from tests.support.server import CairnServer

SIZES = [0, 1, 100, 4096, 70_000, 1_100_000, 2_300_000]  # inline, one chunk, several chunks
EXTRA = ["--segment-size", str(4 << 20)]  # small segments: kills land around rotations too


def writer(server, seed, acked, attempted, stop):
    rng = random.Random(seed)
    s3 = server.client()
    i = 0
    while not stop.is_set():
        key = f"w{seed}-{i}"
        i += 1
        data = rng.randbytes(rng.choice(SIZES))
        attempted[key] = hashlib.sha256(data).hexdigest()
        try:
            s3.put_object(Bucket="crash", Key=key, Body=data)
        except Exception:
            time.sleep(0.02)  # a shard is down: this write was never acknowledged; try the next one
            continue
        acked[key] = attempted[key]


def shard_pid(server, number, timeout=15.0):
    """The pid of shard `number`, waiting for the supervisor to restart it if it was just killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = server.pids().get(f"cairn: shard {number}")
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"shard {number} was not restarted")


def check(server, acked, attempted):
    s3 = server.client()
    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash")
              for o in page.get("Contents", [])}
    missing = set(acked) - listed
    assert not missing, f"acknowledged writes lost: {sorted(missing)[:5]}"
    for key in listed:
        body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == attempted[key], f"{key}: not the body a client sent"


@pytest.mark.parametrize("preset, seed", [("durable", 11), ("balanced", 12), ("performance", 13)])
def test_kill9_of_shards_then_of_the_server_loses_nothing_acknowledged(tmp_path, preset, seed):
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    srv = CairnServer(data_dir, shards=2, preset=preset, extra=EXTRA).start()
    acked, attempted, stop = {}, {}, threading.Event()
    threads = []
    try:
        srv.client().create_bucket(Bucket="crash")
        threads = [threading.Thread(target=writer, args=(srv, seed * 100 + t, acked, attempted, stop), daemon=True)
                   for t in range(6)]
        for t in threads:
            t.start()
        for _ in range(3):  # shard kills: the supervisor restarts the shard, which recovers from its log
            time.sleep(rng.uniform(0.3, 0.9))
            os.kill(shard_pid(srv, rng.randrange(2)), signal.SIGKILL)
        time.sleep(rng.uniform(0.5, 1.0))
        srv.kill9()  # and the whole server at once
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        srv.stop()
    assert len(acked) > 20, "the writers should have had time to write something"

    srv = CairnServer(data_dir, shards=2, preset=preset, extra=EXTRA).start()
    try:
        check(srv, dict(acked), attempted)
    finally:
        srv.stop()
