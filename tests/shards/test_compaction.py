"""Log compaction on a shard's real log and index (no server, real disk, small segments): dead data's segment
files go, live bytes move and read back byte-exact — through restarts, light and full — including data shared by
same-shard copies, parts of uploads in progress and copies made while a compaction runs; what is still being
written or streamed keeps its segments."""

import asyncio
import os

import orjson

from shards import copying, multipart, objects
from shards.compaction import Compactor, state_of
from shards.multipart_state import uploads_of
from shards.store import Store
from wal import Log, RecordType, SyncPolicy

SEG = 64 << 10


def open_store(path, full=False) -> Store:
    store = Store(Log(path / "wal", sync=SyncPolicy("always"), segment_size=SEG), path / "index")
    store.recover(full=full)
    store.compactor = Compactor(store, live_ratio=0.5, mib_s=1024)
    return store


async def put(store, key, data: bytes, chunk=8192):
    up = objects.Upload(store, {"bucket": "b", "key": key, "length": len(data)})
    for i in range(0, len(data), chunk):
        up.feed(data[i:i + chunk])
    await up.finish({"length": len(data)})


async def delete(store, key):
    await objects.delete(store, {"bucket": "b", "key": key})


def body(store, key) -> bytes:
    entry = store.index.get("b", key)
    return b"".join(objects.read_pieces(store, entry, None, 1 << 20))


def segment_files(path) -> list[str]:
    return sorted(n for n in os.listdir(path / "wal") if n.endswith(".seg"))


async def churn(store, keep: dict, n=60, size=3000):
    """Write n objects over several segments, then delete all but every fifth: most of the old bytes die."""
    for i in range(n):
        data = os.urandom(size)
        await put(store, f"k{i:03d}", data)
        keep[f"k{i:03d}"] = data
    for i in range(n):
        if i % 5:
            await delete(store, f"k{i:03d}")
            del keep[f"k{i:03d}"]
    await fill_segment(store)


async def fill_segment(store):
    """Seal the segment being written, so everything so far is behind the next checkpoint's position."""
    for i in range(SEG // 4000 + 2):
        await put(store, f"~fill{os.urandom(4).hex()}", os.urandom(4000))


async def compact(store) -> list[int]:
    await store.checkpoint()
    moved = await store.compactor.run_once()
    await fill_segment(store)
    await store.checkpoint()  # the move is covered: the relocated files may go
    store.compactor.remove_released()
    return moved


def test_dead_segments_are_removed_and_live_objects_survive_restarts(tmp_path):
    keep = {}

    async def run():
        store = open_store(tmp_path)
        await churn(store, keep)
        before = segment_files(tmp_path)
        moved = await compact(store)
        assert moved, "segments four-fifths dead should be relocated"
        after = segment_files(tmp_path)
        assert set(f"{s:016d}.seg" for s in moved).isdisjoint(after)
        assert store.compactor.reclaimed_bytes >= len(moved) * SEG
        assert len(after) < len(before) + 3
        for key, data in keep.items():
            assert body(store, key) == data
        await store.close()
    asyncio.run(run())

    for full in (False, True):
        store = open_store(tmp_path, full=full)
        for key, data in keep.items():
            assert body(store, key) == data, (full, key)
        assert [k for k, _ in store.index.list_page("b", "k", "", "", 1000)[0]] == sorted(keep)
        asyncio.run(store.close())


def test_a_same_shard_copy_keeps_shared_data_through_compaction(tmp_path):
    async def run():
        store = open_store(tmp_path)
        data = os.urandom(20_000)
        await put(store, "src", data)
        await copying.copy(store, {"bucket": "b", "key": "dst", "src_bucket": "b", "src_key": "src"})
        await delete(store, "src")
        await churn(store, {})
        assert (await compact(store))
        assert body(store, "dst") == data
        await store.close()
        store = open_store(tmp_path)
        assert body(store, "dst") == data
        await store.close()
    asyncio.run(run())


def test_a_copy_made_while_compaction_runs_is_not_lost(tmp_path):
    async def run():
        store = open_store(tmp_path)
        data = os.urandom(5000)
        await put(store, "src", data)
        await churn(store, {})
        await store.checkpoint()
        victims = store.compactor._eligible()
        seg = store.index.get("b", "src")["loc"][0].segment
        assert seg in victims
        await store.write(RecordType.COMPACT, orjson.dumps({"t": "begin", "v": victims}))  # a pass began...
        await copying.copy(store, {"bucket": "b", "key": "dst", "src_bucket": "b", "src_key": "src"})  # ...a copy
        await delete(store, "src")
        await store.compactor.run_once()  # ...and the pass goes on from its begin record
        await fill_segment(store)
        await store.checkpoint()
        store.compactor.remove_released()
        assert f"{seg:016d}.seg" not in segment_files(tmp_path)
        assert body(store, "dst") == data
        await store.close()
    asyncio.run(run())


def test_parts_of_an_upload_in_progress_move_with_their_segment(tmp_path):
    async def run():
        store = open_store(tmp_path)
        upload_id = (await multipart.create(store, {"bucket": "b", "key": "mp", "object": {}, "owner": "o"}))[
            "upload_id"]
        part_data = os.urandom(7000)
        part = multipart.PartUpload(store, {"bucket": "b", "key": "mp", "upload_id": upload_id, "part": 1,
                                            "length": len(part_data)})
        part.feed(part_data)
        await part.finish({"length": len(part_data)})
        del part
        seg = uploads_of(store).by_id[upload_id].parts[1]["loc"][0].segment
        await churn(store, {})
        assert seg in await compact(store)
        loc = uploads_of(store).by_id[upload_id].parts[1]["loc"][0]
        assert loc.segment != seg and store.wal.read_into(loc, 0, loc.length) == part_data
        await store.close()
    asyncio.run(run())


def test_segments_holding_an_unfinished_upload_are_not_touched(tmp_path):
    async def run():
        store = open_store(tmp_path)
        writing = objects.Upload(store, {"bucket": "b", "key": "slow", "length": 3 * objects.CHUNK})
        writing.feed(os.urandom(objects.CHUNK))  # one CHUNK record in the segment being written
        first = writing.chunks[0].segment
        await churn(store, {})
        await store.checkpoint()
        assert all(seg < first for seg in store.compactor._eligible())
        del writing
        assert first in store.compactor._eligible() or first >= store.wal.segments[-1]
        await store.close()
    asyncio.run(run())


def test_a_streaming_read_keeps_its_segment_until_it_ends(tmp_path):
    async def run():
        store = open_store(tmp_path)
        data = os.urandom(9000)
        await put(store, "read-me", data)
        entry = store.index.get("b", "read-me")
        seg = entry["loc"][0].segment
        token = store.pin()  # a GET has the entry and streams it
        await delete(store, "read-me")
        await churn(store, {})
        assert seg in await compact(store)
        assert f"{seg:016d}.seg" in segment_files(tmp_path), "removed under a running read"
        assert b"".join(objects.read_pieces(store, entry, None, 4096)) == data
        store.unpin(token)
        store.compactor.remove_released()
        assert f"{seg:016d}.seg" not in segment_files(tmp_path)
        assert not state_of(store).release
        await store.close()
    asyncio.run(run())


def test_a_move_replayed_after_a_kill_still_lets_its_segment_go(tmp_path):
    async def first():
        store = open_store(tmp_path)
        await churn(store, {})
        await store.checkpoint()
        moved = await store.compactor.run_once()
        assert moved
        await store.wal.close()  # killed before any later checkpoint: the move is replayed on restart
        store.index.close()
        return moved
    moved = asyncio.run(first())

    async def second():
        store = open_store(tmp_path)
        assert set(state_of(store).release) == set(moved)
        await fill_segment(store)
        await store.checkpoint()
        store.compactor.remove_released()
        assert not set(f"{s:016d}.seg" for s in moved) & set(segment_files(tmp_path))
        await store.close()
    asyncio.run(second())


def test_the_relocation_map_of_a_removed_segment_is_dropped(tmp_path):
    async def run():
        store = open_store(tmp_path)
        await churn(store, {})
        moved = await compact(store)
        assert moved and not set(moved) & set(state_of(store).moved)  # the map does not grow with every pass
        await store.close()
    asyncio.run(run())
