"""Index checkpoints on a shard's real log and SQLite file (no server, real disk): a restart loads the last
checkpoint and replays only the records after it, falls back to the whole log when the checkpoint can't be
continued from, and never lets the index get ahead of the log."""

import asyncio
import sqlite3

import orjson

from shards import multipart  # noqa: F401 - registers the multipart state that checkpoints carry
from shards.multipart_state import uploads_of
from shards.store import Store, encode_put
from wal import Log, RecordType, SyncPolicy


def open_store(path, policy="always", **kw) -> Store:
    store = Store(Log(path / "wal", sync=SyncPolicy(policy), segment_size=1 << 20), path / "index", **kw)
    store.recover()
    return store


def put_record(key: str, body: bytes = b"abc") -> bytes:
    return encode_put({"b": "b", "k": key, "e": {"etag": "e", "size": len(body), "mtime": 1.0}}, body)


async def put_many(store: Store, keys) -> None:
    for key in keys:
        await store.write(RecordType.PUT, put_record(key))


def keys_of(store: Store) -> list[str]:
    return [k for k, _ in store.index.list_page("b", "", "", "", 10_000)[0]]


def test_restart_after_a_clean_close_replays_nothing(tmp_path):
    async def first():
        store = open_store(tmp_path)
        await put_many(store, [f"k{i:03d}" for i in range(300)])  # 300 records over several segments' worth
        await store.close()
    asyncio.run(first())

    store = open_store(tmp_path)
    assert store.wal.report.records == 0  # nothing after the checkpoint to read
    assert keys_of(store) == [f"k{i:03d}" for i in range(300)]
    loc = store.index.get("b", "k150")["loc"][0]
    assert store.wal.read_into(loc, 0, loc.length) == b"abc"
    asyncio.run(store.close())


def test_restart_after_kill_replays_only_the_tail_after_the_last_checkpoint(tmp_path):
    async def first():
        store = open_store(tmp_path, checkpoint_records=50)
        await put_many(store, [f"k{i:03d}" for i in range(230)])
        if store._checkpointing is not None:
            await store._checkpointing
        lsn = store.checkpointed_lsn
        await store.wal.close()  # the process dies here: no final checkpoint
        store.index.close()
        return lsn
    checkpointed = asyncio.run(first())
    assert 0 < checkpointed < 230

    store = open_store(tmp_path)
    assert store.wal.report.records == 230 - checkpointed
    assert keys_of(store) == [f"k{i:03d}" for i in range(230)]
    asyncio.run(store.close())


def test_a_checkpoint_the_log_cannot_continue_from_falls_back_to_the_whole_log(tmp_path):
    async def first():
        store = open_store(tmp_path)
        await put_many(store, ["a", "b", "c"])
        await store.close()
    asyncio.run(first())
    db = sqlite3.connect(tmp_path / "index" / "index.db")
    with db:  # a checkpoint naming a segment the log doesn't have (its files restored from another backup...)
        db.execute("UPDATE meta SET value = ? WHERE name = 'applied'",
                   (orjson.dumps({"segment": 999, "offset": 0, "lsn": 3}),))
        db.execute("DELETE FROM objects WHERE key = 'b'")
    db.close()

    store = open_store(tmp_path)
    assert store.wal.report.records == 3  # rebuilt from every record
    assert keys_of(store) == ["a", "b", "c"]
    asyncio.run(store.close())


def test_a_checkpoint_never_gets_ahead_of_the_log(tmp_path):
    async def run():
        store = open_store(tmp_path, policy="none")  # nothing forces the log to disk on its own
        await put_many(store, ["a", "b"])
        assert store.wal.durable_lsn < 2
        await store.checkpoint()
        assert store.checkpointed_lsn == 2 and store.wal.durable_lsn >= 2
        await store.close()
    asyncio.run(run())


def test_bucket_configs_and_multipart_uploads_come_back_from_the_checkpoint_alone(tmp_path):
    async def first():
        store = open_store(tmp_path)
        await store.write(RecordType.BUCKET_PUT, orjson.dumps({"name": "b", "versioning": "Enabled"}))
        meta = {"bucket": "b", "key": "big", "object": {"ct": "text/plain"}, "owner": "me"}
        upload_id = (await multipart.create(store, meta))["upload_id"]
        part = multipart.PartUpload(store, {"bucket": "b", "key": "big", "upload_id": upload_id, "part": 1,
                                            "length": 5})
        part.feed(b"hello")
        await part.finish({"length": 5})
        await store.close()
        return upload_id
    upload_id = asyncio.run(first())

    store = open_store(tmp_path)
    assert store.wal.report.records == 0
    assert store.buckets["b"]["versioning"] == "Enabled"
    up = uploads_of(store).get(upload_id, "b", "big")
    assert up is not None and up.parts[1]["size"] == 5
    loc = up.parts[1]["loc"][0]
    assert store.wal.read_into(loc, 0, loc.length) == b"hello"
    asyncio.run(store.close())


def test_writes_go_on_while_a_checkpoint_is_written(tmp_path):
    async def run():
        store = open_store(tmp_path)
        await put_many(store, [f"a{i}" for i in range(100)])
        checkpoint = asyncio.create_task(store.checkpoint())
        await asyncio.sleep(0)  # the checkpoint has frozen the memtable and is syncing / writing
        await put_many(store, [f"b{i}" for i in range(100)])
        await checkpoint
        assert store.checkpointed_lsn >= 100
        assert len(keys_of(store)) == 200
        await store.close()
    asyncio.run(run())
    store = open_store(tmp_path)
    assert len(keys_of(store)) == 200
    asyncio.run(store.close())
