"""Multipart state on a shard's real log: what a restart rebuilds from MULTIPART records (no server, real disk)."""

import asyncio
import hashlib
import os

import pytest

from shards import multipart
from shards.errors import S3Error
from shards.multipart_listing import list_parts, list_uploads
from shards.multipart_state import uploads_of
from shards.store import Store
from wal import Log, SyncPolicy

BIG = os.urandom(multipart.MIN_PART)


def open_store(path) -> Store:
    store = Store(Log(path, sync=SyncPolicy("always"), segment_size=8 << 20))
    store.recover()
    return store


def run(coro_fn):
    return asyncio.run(coro_fn())


async def create(store, key, **obj):
    meta = {"bucket": "b", "key": key, "object": {"ct": "text/plain", **obj}, "owner": "me"}
    return (await multipart.create(store, meta))["upload_id"]


async def put_part(store, key, uid, n, data, chunk=1 << 16):
    up = multipart.PartUpload(store, {"bucket": "b", "key": key, "upload_id": uid, "part": n, "length": len(data)})
    for i in range(0, len(data), chunk):
        up.feed(data[i:i + chunk])
    return await up.finish({"length": len(data)})


def in_fresh_upload(path, scenario):
    """Run ``scenario(store, upload_id)`` against a new store holding one upload of key "k"."""
    async def go():
        store = open_store(path)
        try:
            await scenario(store, await create(store, "k"))
        finally:
            await store.wal.close()
    asyncio.run(go())


def test_uploads_and_parts_are_rebuilt_from_the_log(tmp_path):
    async def write():
        store = open_store(tmp_path)
        uid = await create(store, "k", um={"a": "1"})
        await put_part(store, "k", uid, 1, b"first")
        await put_part(store, "k", uid, 1, b"replaced")  # the later record wins, after a restart too
        await put_part(store, "k", uid, 3, b"third")
        gone = await create(store, "gone")
        await multipart.abort(store, {"bucket": "b", "key": "gone", "upload_id": gone})
        await store.wal.close()
        return uid

    uid = run(write)

    async def read():
        store = open_store(tmp_path)
        page = list_parts(store, {"bucket": "b", "key": "k", "upload_id": uid, "max_parts": 10})
        assert [(p["n"], p["size"], p["etag"]) for p in page["parts"]] == [
            (1, 8, hashlib.md5(b"replaced").hexdigest()), (3, 5, hashlib.md5(b"third").hexdigest())]
        listed = list_uploads(store, {"bucket": "b", "max_uploads": 10})["items"]
        assert [(k, info["id"]) for k, info in listed] == [("k", uid)]
        assert uploads_of(store).by_id[uid].meta["um"] == {"a": "1"}
        await store.wal.close()

    run(read)


def test_a_completed_upload_is_an_object_over_the_part_chunks_after_restart(tmp_path):
    async def write():
        store = open_store(tmp_path)
        uid = await create(store, "obj")
        a = await put_part(store, "obj", uid, 1, BIG, chunk=300_000)
        b = await put_part(store, "obj", uid, 2, b"tail")
        reply = await multipart.complete(store, {"bucket": "b", "key": "obj", "upload_id": uid,
                                                 "parts": [[1, a["etag"], {}], [2, f'"{b["etag"]}"', {}]]})
        await store.wal.close()
        return uid, reply["etag"]

    uid, etag = run(write)

    async def read():
        store = open_store(tmp_path)
        entry = store.index.get("b", "obj")
        assert entry["etag"] == etag and entry["size"] == len(BIG) + 4 and entry["ct"] == "text/plain"
        assert [(p["n"], p["size"]) for p in entry["parts"]] == [(1, len(BIG)), (2, 4)]
        data = b"".join(store.wal.read_into(loc, 0, loc.length) for loc in entry["loc"])
        assert data == BIG + b"tail"
        assert uid not in uploads_of(store).by_id
        with pytest.raises(S3Error) as e:
            multipart.abort(store, {"bucket": "b", "key": "obj", "upload_id": uid})
        assert e.value.code == "NoSuchUpload"
        await store.wal.close()

    run(read)


def test_a_part_finishing_after_its_upload_was_aborted_is_no_such_upload(tmp_path):
    async def scenario(store, uid):
        up = multipart.PartUpload(store, {"bucket": "b", "key": "k", "upload_id": uid, "part": 1, "length": 3})
        up.feed(b"abc")
        await multipart.abort(store, {"bucket": "b", "key": "k", "upload_id": uid})
        with pytest.raises(S3Error) as e:
            up.finish({"length": 3})
        assert e.value.code == "NoSuchUpload"

    in_fresh_upload(tmp_path, scenario)


def test_a_complete_in_flight_blocks_a_second_complete_and_new_parts(tmp_path):
    async def scenario(store, uid):
        p = await put_part(store, "k", uid, 1, b"x")
        meta = {"bucket": "b", "key": "k", "upload_id": uid, "parts": [[1, p["etag"], {}]]}
        first = multipart.complete(store, meta)  # not awaited yet: the commit is in flight
        for attempt in (lambda: multipart.complete(store, meta),
                        lambda: multipart.PartUpload(store, {**meta, "part": 2})):
            with pytest.raises(S3Error) as e:
                attempt()
            assert e.value.code == "NoSuchUpload"
        await first

    in_fresh_upload(tmp_path, scenario)
