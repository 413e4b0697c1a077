"""Bucket configuration on the bucket's home shard (DESIGN §2).

A change is a log record on the home shard; once committed the shard pushes the new config to every connected
router (``on_change``) before it answers the call that made the change.
"""

from __future__ import annotations

import time

import orjson

from wal.records import RecordType

from .errors import S3Error
from .store import Store


def create(store: Store, meta: dict, on_change):
    name = meta["bucket"]
    existing = store.buckets.get(name)
    if existing is not None:
        if existing.get("owner") == meta.get("owner"):
            raise S3Error("BucketAlreadyOwnedByYou", BucketName=name)
        raise S3Error("BucketAlreadyExists", BucketName=name)
    cfg = {"name": name, "created": time.time(), "owner": meta.get("owner"), "region": meta.get("region")}
    return _write(store, RecordType.BUCKET_PUT, cfg, on_change, name)


def delete(store: Store, meta: dict, on_change):
    name = meta["bucket"]
    if name not in store.buckets:
        raise S3Error("NoSuchBucket", BucketName=name)
    return _write(store, RecordType.BUCKET_DELETE, {"name": name}, on_change, name)


async def _write(store: Store, rtype: int, cfg: dict, on_change, name: str) -> dict:
    await store.write(rtype, orjson.dumps(cfg))
    on_change(name, store.buckets.get(name))
    return {}


def snapshot(store: Store) -> dict:
    return {"buckets": list(store.buckets.values())}


def count_objects(store: Store, meta: dict) -> dict:
    return {"count": store.index.count(meta["bucket"])}
