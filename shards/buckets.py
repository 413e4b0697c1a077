"""Bucket configuration on the bucket's home shard (DESIGN §2).

A change is a log record on the home shard holding the bucket's whole config; once committed the shard pushes
the new config to every connected router (``on_change``) before it answers the call that made the change.
Changes are serialised per shard: each computes the next config from the current one, and two interleaved
read-modify-writes (or a configure racing a delete) would otherwise lose one change or resurrect a bucket.
"""

from __future__ import annotations

import asyncio
import time
import weakref

import orjson

from wal.records import RecordType

from . import bucket_config
from .errors import S3Error
from .store import Store

_locks: "weakref.WeakKeyDictionary[Store, asyncio.Lock]" = weakref.WeakKeyDictionary()


def _lock(store: Store) -> asyncio.Lock:
    lock = _locks.get(store)
    if lock is None:
        lock = _locks[store] = asyncio.Lock()
    return lock


async def create(store: Store, meta: dict, on_change) -> dict:
    name = meta["bucket"]
    tags = bucket_config.validate_tags(meta["tags"]) if meta.get("tags") else None
    async with _lock(store):
        existing = store.buckets.get(name)
        if existing is not None:
            if existing.get("owner") == meta.get("owner"):
                raise S3Error("BucketAlreadyOwnedByYou", BucketName=name)
            raise S3Error("BucketAlreadyExists", BucketName=name)
        cfg = {"name": name, "created": time.time(), "owner": meta.get("owner"), "region": meta.get("region")}
        if tags:
            cfg["tags"] = tags
        return await _write(store, RecordType.BUCKET_PUT, cfg, on_change, name)


async def delete(store: Store, meta: dict, on_change) -> dict:
    name = meta["bucket"]
    async with _lock(store):
        if name not in store.buckets:
            raise S3Error("NoSuchBucket", BucketName=name)
        return await _write(store, RecordType.BUCKET_DELETE, {"name": name}, on_change, name)


async def configure(store: Store, meta: dict, on_change) -> dict:
    """Set (or with ``value`` None, delete) one configuration field: versioning, tags, cors."""
    name = meta["bucket"]
    async with _lock(store):
        cfg = store.buckets.get(name)
        if cfg is None:
            raise S3Error("NoSuchBucket", BucketName=name)
        new = bucket_config.configure(cfg, meta["field"], meta.get("value"))
        if new is cfg:
            return {}
        return await _write(store, RecordType.BUCKET_PUT, new, on_change, name)


async def _write(store: Store, rtype: int, cfg: dict, on_change, name: str) -> dict:
    await store.write(rtype, orjson.dumps(cfg))
    await on_change(name, store.buckets.get(name))
    return {}


def snapshot(store: Store) -> dict:
    return {"buckets": list(store.buckets.values())}


def count_objects(store: Store, meta: dict) -> dict:
    return {"count": int(store.index.has_keys(meta["bucket"]))}
