"""kill -9 of the whole server while clients write, then restart: under the Durable preset every acknowledged
object is there byte-for-byte, and nothing half-written is visible."""

import hashlib
import random
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.support.server import CairnServer


def writer(server, seed, acked, attempted, stop):
    rng = random.Random(seed)
    s3 = server.client()
    i = 0
    while not stop.is_set():
        key = f"w{seed}-{i}"
        size = rng.choice([0, 1, 100, 4096, 70_000, 1_100_000])
        data = rng.randbytes(size)
        attempted[key] = hashlib.sha256(data).hexdigest()
        try:
            s3.put_object(Bucket="crash", Key=key, Body=data)
        except Exception:
            return  # the server died under us: this write was never acknowledged
        acked[key] = attempted[key]
        i += 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill9_mid_stream_keeps_every_acknowledged_write_under_durable(tmp_path, seed):
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    srv = CairnServer(data_dir, shards=2, preset="durable").start()
    srv.client().create_bucket(Bucket="crash")
    acked, attempted, stop = {}, {}, threading.Event()
    threads = [threading.Thread(target=writer, args=(srv, seed * 100 + t, acked, attempted, stop), daemon=True)
               for t in range(8)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.8, 2.5))
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    snapshot = dict(acked)
    assert len(snapshot) > 20, "the writers should have had time to write something"

    srv2 = CairnServer(data_dir, shards=2, preset="durable").start()
    try:
        s3 = srv2.client()
        for key, digest in snapshot.items():
            body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest, key
        # writes in flight at the kill are either wholly there or absent, never partial
        listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash")
                  for o in page.get("Contents", [])}
        assert set(snapshot) <= listed
        for key in listed - set(snapshot):
            body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == attempted[key], key
    finally:
        srv2.stop()


def test_restart_after_clean_stop_keeps_buckets_and_objects(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2, preset="performance").start()
    s3 = srv.client()
    s3.create_bucket(Bucket="survives")
    for i in range(50):
        s3.put_object(Bucket="survives", Key=f"k{i}", Body=f"v{i}".encode())
    s3.delete_object(Bucket="survives", Key="k7")
    srv.stop()
    srv2 = CairnServer(tmp_path / "data", shards=2).start()
    try:
        s3 = srv2.client()
        s3.head_bucket(Bucket="survives")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="survives")["Contents"]]
        assert len(keys) == 49 and "k7" not in keys
        assert s3.get_object(Bucket="survives", Key="k42")["Body"].read() == b"v42"
        with pytest.raises(ClientError):
            s3.get_object(Bucket="survives", Key="k7")
    finally:
        srv2.stop()
