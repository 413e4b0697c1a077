"""Racing clients: the final state is one some serial order explains, and listings under heavy writes never
repeat a key or skip one that existed throughout."""

import hashlib
import random
import threading

from botocore.exceptions import ClientError


def test_racing_puts_and_deletes_on_one_key_leave_one_of_the_written_bodies_or_nothing(server, bucket):
    bodies = {f"writer-{i}".encode() * (i + 1) for i in range(8)}
    errors = []

    def worker(i):
        s3 = server.client()
        rng = random.Random(i)
        try:
            for _ in range(30):
                if rng.random() < 0.3:
                    s3.delete_object(Bucket=bucket, Key="contended")
                else:
                    s3.put_object(Bucket=bucket, Key="contended", Body=f"writer-{i}".encode() * (i + 1))
        except Exception as e:  # noqa: BLE001 - any failure is a test failure, reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s3 = server.client()
    try:
        obj = s3.get_object(Bucket=bucket, Key="contended")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey"
        return
    body = obj["Body"].read()
    assert body in bodies
    assert obj["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'


def test_racing_copies_onto_one_key_leave_one_complete_source(server, bucket):
    s3 = server.client()
    sources = {f"src-{i}": bytes([i]) * (100_000 + i) for i in range(6)}
    for k, v in sources.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)

    def worker(k):
        c = server.client()
        for _ in range(10):
            c.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": k})
    threads = [threading.Thread(target=worker, args=(k,)) for k in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() in set(sources.values())


def test_versions_of_a_contended_key_are_all_kept_newest_first(server, bucket):
    s3 = server.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    written = []
    lock = threading.Lock()

    def worker(i):
        c = server.client()
        for j in range(10):
            r = c.put_object(Bucket=bucket, Key="v", Body=f"{i}-{j}".encode())
            with lock:
                written.append(r["VersionId"])
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = s3.list_object_versions(Bucket=bucket, Prefix="v")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted(written)
    assert sum(v["IsLatest"] for v in versions) == 1
    latest = next(v for v in versions if v["IsLatest"])
    assert latest["VersionId"] == versions[0]["VersionId"]


def test_listing_during_heavy_writes_never_repeats_or_skips_stable_keys(server, bucket):
    s3 = server.client()
    stable = [f"stable/{i:04d}" for i in range(600)]
    for k in stable:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    stop = threading.Event()

    def churn(i):
        c = server.client()
        n = 0
        while not stop.is_set():
            key = f"stable/{random.randrange(600):04d}-churn-{i}-{n}"
            c.put_object(Bucket=bucket, Key=key, Body=b"x")
            c.delete_object(Bucket=bucket, Key=key)
            n += 1
    writers = [threading.Thread(target=churn, args=(i,), daemon=True) for i in range(4)]
    for w in writers:
        w.start()
    try:
        for _ in range(3):
            seen = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="stable/",
                                                                      PaginationConfig={"PageSize": 97}):
                seen += [o["Key"] for o in page.get("Contents", [])]
            assert len(seen) == len(set(seen)), "a key was listed twice"
            assert seen == sorted(seen)
            assert set(stable) <= set(seen), "a key that existed throughout was skipped"
    finally:
        stop.set()
        for w in writers:
            w.join(10)
