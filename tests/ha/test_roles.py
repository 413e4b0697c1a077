"""Pure HA logic and the on-disk pieces under it: where two logs part, truncating a log's tail, reading records
back for shipping, admin tokens, the node summary and `cairn status` rendering."""

from __future__ import annotations

import asyncio

import pytest

from router.ha import admin_token, admin_token_valid, summarize
from router.status import render
from shards.replication import LogCursor
from shards.roles import PRIMARY, STANDBY, divergence, load, prepare, save, truncate_log
from wal.log import Log
from wal.records import HEADER_SIZE, RecordType, decode_header
from wal.sync import SyncPolicy


@pytest.mark.parametrize("primary_history, joiner_history, joiner_last, expected", [
    # an empty standby joining anyone: nothing to drop
    ([[1, 1]], [], 0, None),
    # a standby that followed this primary all along, behind or level
    ([[1, 1]], [[1, 1]], 500, None),
    # the old primary of epoch 1 returns; the standby was promoted at lsn 101 (it had 1..100)
    ([[1, 1], [2, 101]], [[1, 1]], 100, None),
    ([[1, 1], [2, 101]], [[1, 1]], 130, 100),
    # the old primary is behind the promotion point: its log is a prefix
    ([[1, 1], [2, 101]], [[1, 1]], 60, None),
    # both sides promoted after epoch 2 (the joiner was promoted at 300, the primary at 250)
    ([[1, 1], [2, 101], [3, 250]], [[1, 1], [2, 101], [4, 300]], 320, 249),
    # the joiner started an epoch the primary never saw, before the primary's own next epoch
    ([[1, 1], [2, 101], [4, 300]], [[1, 1], [2, 101], [3, 200]], 320, 199),
    # a joiner that went through epochs the primary then followed: identical histories
    ([[1, 1], [2, 101], [3, 250]], [[1, 1], [2, 101], [3, 250]], 400, None),
])
def test_divergence_is_the_end_of_the_last_shared_epoch(primary_history, joiner_history, joiner_last, expected):
    assert divergence(primary_history, joiner_history, joiner_last) == expected


@pytest.mark.parametrize("shards, role, writable", [
    ([{"role": "primary", "epoch": 3, "fenced": False, "fence_reason": "", "primary": ""}] * 2, "primary", True),
    ([{"role": "primary", "epoch": 3, "fenced": True, "fence_reason": "x", "primary": ""}], "primary", False),
    ([{"role": "standby", "epoch": 2, "fenced": False, "fence_reason": "", "primary": "h:1"}], "standby", False),
    ([], "unknown", False),
])
def test_node_summary_from_shard_states(shards, role, writable):
    node = summarize(shards)
    assert (node["role"], node["writable"]) == (role, writable)


def test_admin_token_binds_method_path_and_time():
    token = admin_token("s3cret", "POST", "/_cairn/promote", 1_000_000)
    assert admin_token_valid("s3cret", "POST", "/_cairn/promote", token, 1_000_100)
    assert not admin_token_valid("other", "POST", "/_cairn/promote", token, 1_000_100)
    assert not admin_token_valid("s3cret", "POST", "/_cairn/demote", token, 1_000_100)
    assert not admin_token_valid("s3cret", "POST", "/_cairn/promote", token, 1_000_000 + 301)
    assert not admin_token_valid("s3cret", "POST", "/_cairn/promote", "garbage", 1_000_000)


def test_status_renders_lag_and_degradation():
    state = {"role": "primary", "epoch": 2, "replication": "sync", "shards": [
        {"number": 0, "role": "primary", "last_lsn": 10, "acked_lsn": 7, "lag_records": 3, "lag_seconds": 0.25,
         "standby_connected": True, "sync_degraded": True, "degraded_reason": "standby did not acknowledge"},
        {"number": 1, "error": "down"}]}
    text = render("h:1", state)
    assert text.splitlines() == [
        "h:1: primary epoch 2 replication sync",
        "  shard 0: lsn 10  acked 7  lag 3 records 0.250s  standby connected  SYNC DEGRADED (standby did not "
        "acknowledge)",
        "  shard 1: unavailable (down)"]


def test_role_file_seeds_from_settings_then_wins(tmp_path):
    role = load(str(tmp_path), {"role": "standby", "primary": "10.0.0.1:9000"})
    assert (role.role, role.epoch, role.primary, role.history) == (STANDBY, 0, "10.0.0.1:9000", [])
    role.epoch, role.history = 4, [[4, 1]]
    save(str(tmp_path), role)
    again = load(str(tmp_path), {"role": "primary"})
    assert (again.role, again.epoch, again.history) == (STANDBY, 4, [[4, 1]])
    (tmp_path / "x").mkdir()
    fresh = load(str(tmp_path / "x"), {})
    assert (fresh.role, fresh.epoch, fresh.history) == (PRIMARY, 1, [[1, 1]])


def _write_log(directory, records, segment_size=64 << 10):
    async def go():
        wal = Log(directory, sync=SyncPolicy("none"), segment_size=segment_size, preallocate=False)
        for _ in wal.recover():
            pass
        locs = [wal.append(rtype, payload) for rtype, payload in records]
        await wal.commit(wal.last_lsn)
        await wal.close()
        return locs
    return asyncio.run(go())


def _read_log(directory, segment_size=64 << 10):
    wal = Log(directory, sync=SyncPolicy("none"), segment_size=segment_size, preallocate=False)
    out = [(r.lsn, r.type) for r in wal.recover()]
    return wal, out


def test_truncate_log_drops_the_tail_across_segments_and_the_log_appends_after_it(tmp_path):
    records = [(RecordType.CHUNK if i % 3 else RecordType.PUT, bytes([i % 251]) * 9000) for i in range(40)]
    locs = _write_log(tmp_path / "wal", records)
    assert len({loc.segment for _, loc in locs}) > 3
    assert truncate_log(str(tmp_path / "wal"), 17) == 23
    wal, seen = _read_log(tmp_path / "wal")
    assert [lsn for lsn, _ in seen] == list(range(1, 18))

    async def append_more():
        lsn, loc = wal.append(RecordType.PUT, b"after")
        await wal.close()
        return lsn, loc
    lsn, loc = asyncio.run(append_more())
    assert lsn == 18 and loc.segment == locs[16][1].segment
    assert truncate_log(str(tmp_path / "wal"), 100) == 0


def test_prepare_truncates_what_a_demotion_asked_for_once(tmp_path):
    home = tmp_path / "shard-0"
    home.mkdir()
    _write_log(home / "wal", [(RecordType.PUT, b"x" * 100)] * 10)
    role = load(str(home), {})
    role.truncate_to = 6
    save(str(home), role)
    assert prepare(str(home), {}).truncated == 4
    assert load(str(home), {}).truncate_to is None
    _, seen = _read_log(home / "wal")
    assert len(seen) == 6


def test_log_cursor_reads_records_as_on_disk_from_any_lsn(tmp_path):
    records = [(RecordType.PUT, bytes([i]) * (100 + 700 * i)) for i in range(25)] + [
        (RecordType.CHUNK, bytes([i]) * 70_000) for i in range(25, 30)]  # bigger than a read window
    locs = _write_log(tmp_path / "wal", records, segment_size=256 << 10)
    wal, _ = _read_log(tmp_path / "wal", segment_size=256 << 10)
    assert len(wal.segments) > 1
    for start, max_bytes in ((1, 16 << 10), (2, 16 << 10), (13, 1 << 20), (30, 1 << 20), (1, 1 << 20)):
        cursor = LogCursor(wal, start)
        seen = []
        while (batch := cursor.read(30, max_bytes=max_bytes)) is not None:
            segment, offset, data, last = batch
            pos = 0
            while pos < len(data):
                h = decode_header(data[pos:pos + HEADER_SIZE])
                lsn, loc = locs[h.lsn - 1]
                assert (loc.segment, loc.offset) == (segment, offset + pos + HEADER_SIZE)
                assert data[pos + HEADER_SIZE:pos + HEADER_SIZE + h.length] == records[h.lsn - 1][1]
                seen.append(h.lsn)
                pos += HEADER_SIZE + h.length
            assert seen[-1] == last
        assert seen == list(range(start, 31))
        assert cursor.read(30) is None
    asyncio.run(wal.close())


def test_append_at_keeps_the_primary_layout(tmp_path):
    """A standby log fed every record of a primary's log with append_at ends up with the same locations."""
    records = [(RecordType.CHUNK, b"a" * 30_000), (RecordType.PUT, b"b" * 10), (RecordType.CHUNK, b"c" * 40_000),
               (RecordType.PUT, b"d" * 5)]
    locs = _write_log(tmp_path / "p", records)

    async def mirror():
        wal = Log(tmp_path / "s", sync=SyncPolicy("none"), segment_size=64 << 10, preallocate=False)
        for _ in wal.recover():
            pass
        out = [wal.append_at(i + 1, rtype, payload, 0, locs[i][1].segment) for i, (rtype, payload) in
               enumerate(records)]
        with pytest.raises(ValueError):
            wal.append_at(9, RecordType.PUT, b"gap")
        await wal.close()
        return out
    assert asyncio.run(mirror()) == locs
