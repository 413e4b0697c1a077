"""Log compaction: give the space of deleted, overwritten and aborted data back to the file system.

Object bytes live in the log (CHUNK records, or inline in PUT records). A sealed segment whose records are all
behind the index checkpoint is needed only for the bytes the index still points at; when those are under
``compact_live_ratio`` of the segment, the compactor copies them to the end of the log and the segment file goes.

Each step is a COMPACT record, applied live and during recovery by the same code, so a crash at any point leaves
a state some prefix of the steps explains:

* ``begin`` names the victim segments. From its apply on, every applied version that points into a victim is
  noted (``pending``), so references made while the copy runs (same-shard copies share data) are not missed.
* The compactor scans the index for keys pointing into the victims (the SQLite table from a thread, the
  memtables on the loop), copies each distinct byte range into new CHUNK records at a bounded rate, and commits.
* ``move`` carries the old -> new map and the keys it found; its apply rewrites those keys, the noted ones and
  every multipart part, and from then on translates any victim location a later record brings. A victim with
  a reference the map does not cover (data that arrived after the copy) is kept, to be tried again.
* A relocated victim's file is removed once a checkpoint covers every record appended before the ``move``
  applied, no streamed read that started before it is still running, and a standby has received it all.

Locations keep their length when moved; the map is keyed by (segment, offset).
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from wal.records import HEADER_SIZE, RecordType
from wal.segments import Location

from .index_table import encode
from .store import Store, register_applier, register_state

log = logging.getLogger("cairn.compaction")

PACK = 1 << 20  # small ranges are packed into CHUNK records of up to this size
_AFTER_RECOVERY = 1 << 62  # a move replayed by recovery: its mark becomes the log's end once recovery is done


class State:
    """What COMPACT records built: victims in progress, keys noted since ``begin``, the relocation map."""

    __slots__ = ("victims", "pending", "moved", "release", "kept", "epoch")

    def __init__(self) -> None:
        self.victims: set[int] = set()
        self.pending: set[tuple[str, str]] = set()
        self.moved: dict[int, dict[int, tuple[int, int]]] = {}
        self.release: dict[int, int] = {}  # relocated segment -> LSN a checkpoint must cover before it goes
        self.kept: set[int] = set()  # relocated segments still referenced outside the map: not removable
        self.epoch = 0  # moves applied: a streamed read pinned at an older epoch may hold old locations

    def dump(self) -> dict:
        return {"victims": sorted(self.victims), "pending": sorted(self.pending),
                "moved": {str(s): [[o, *n] for o, n in m.items()] for s, m in self.moved.items()},
                "release": {str(s): lsn for s, lsn in self.release.items()}, "kept": sorted(self.kept)}

    @classmethod
    def load(cls, saved: dict | None) -> State:
        st = cls()
        if saved:
            st.victims = set(saved["victims"])
            st.pending = {tuple(p) for p in saved["pending"]}
            st.moved = {int(s): {o: (ns, no) for o, ns, no in m} for s, m in saved["moved"].items()}
            st.release = {int(s): lsn for s, lsn in saved["release"].items()}
            st.kept = set(saved["kept"])
        return st

    def translate(self, locs: list) -> tuple[list, bool]:
        """``locs`` with moved ranges replaced (following chains); and whether a victim location is left."""
        out, left = [], False
        for loc in locs:
            seg, off = loc[0], loc[1]
            while seg in self.moved and off in self.moved[seg]:
                seg, off = self.moved[seg][off]
            out.append(Location(seg, off, loc[2]) if seg != loc[0] or off != loc[1] else loc)
            left = left or seg in self.victims or seg in self.moved
        return out, left

    def on_version(self, bucket: str, key: str, entry: dict) -> None:
        """Store.apply's hook for every new version: translate moved locations, note victim references."""
        locs = entry.get("loc")
        if not locs or not (self.victims or self.moved):
            return
        if any(loc[0] in self.moved or loc[0] in self.victims for loc in locs):
            entry["loc"], left = self.translate(locs)
            if left:
                self.pending.add((bucket, key))
                for loc in entry["loc"]:
                    if loc[0] in self.moved:
                        self.kept.add(loc[0])  # points at a moved segment outside the map: it must stay


def state_of(store: Store) -> State:
    st = getattr(store, "_compaction", None)
    if st is None:
        st = store._compaction = State()
    return st


# -- records ------------------------------------------------------------------------------------------------

def _apply(store: Store, lsn: int, payload: bytes) -> None:
    rec = orjson.loads(payload)
    st = state_of(store)
    if rec["t"] == "begin":
        st.victims.update(rec["v"])
        for mt in (store.index.active, store.index.frozen):
            for bucket, key, _ in _referencing(mt, st.victims):
                st.pending.add((bucket, key))
    elif rec["t"] == "move":
        segs = set(rec["v"])
        for seg, off, nseg, noff in rec["m"]:
            st.moved.setdefault(seg, {})[off] = (nseg, noff)
        for seg in segs:
            st.moved.setdefault(seg, {})
        keys = {tuple(k) for k in rec["k"]} | st.pending
        for bucket, key in sorted(keys):
            _rewrite(store, st, bucket, key, segs)
        _rewrite_parts(store, st, segs)
        st.victims -= segs
        if not st.victims:
            st.pending.clear()
        st.epoch += 1
        # records appended before this apply may still bring old locations: they are translated when applied
        mark = store.wal.last_lsn if not store._recovering else _AFTER_RECOVERY
        for seg in segs:
            st.release[seg] = max(mark, lsn)


def _rewrite(store: Store, st: State, bucket: str, key: str, segs: set[int]) -> None:
    for version in store.index.versions(bucket, key) or ():
        locs = version.get("loc")
        if locs and any(loc[0] in st.moved for loc in locs):
            new, _ = st.translate(locs)
            for loc in new:
                if loc[0] in segs:
                    st.kept.add(loc[0])  # a range the copy did not cover
            if new != locs:
                store.index.replace(bucket, key, version["vid"], {**version, "loc": new})


def _rewrite_parts(store: Store, st: State, segs: set[int]) -> None:
    from .multipart_state import uploads_of
    for up in uploads_of(store).by_id.values():
        for part in up.parts.values():
            if any(loc[0] in st.moved for loc in part["loc"]):
                part["loc"], _ = st.translate(part["loc"])
                for loc in part["loc"]:
                    if loc[0] in segs:
                        st.kept.add(loc[0])


def _referencing(mt, segments: set[int]):
    """(bucket, key, version) of a memtable's versions pointing into ``segments``."""
    if mt is None:
        return
    for bucket, keys in mt.buckets.items():
        for key, versions in keys.items():
            for v in versions or ():
                if any(loc[0] in segments for loc in v.get("loc") or ()):
                    yield bucket, key, v
                    break


register_applier(RecordType.COMPACT, _apply)
register_state("compaction", lambda store: state_of(store).dump(),
               lambda store, saved: setattr(store, "_compaction", State.load(saved)))


# -- the compactor ------------------------------------------------------------------------------------------

class Compactor:
    """Runs after checkpoints: picks victims, copies their live bytes, removes relocated segment files."""

    def __init__(self, store: Store, *, live_ratio: float = 0.5, mib_s: float = 32.0, may_relocate=None) -> None:
        self.store = store
        # only a primary writes COMPACT records (a standby applies its primary's); removing files is local
        self.may_relocate = may_relocate or (lambda: True)
        self.live_ratio = live_ratio
        self.bytes_per_s = mib_s * (1 << 20)
        self.reclaimed_bytes = 0
        self.segments_removed = 0
        self.runs = 0
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # one pass at a time, whoever starts it
        self._checked_at = 0  # the checkpoint LSN the last pass looked at
        st = state_of(store)  # built by a recovery that has finished: resolve the marks of moves it replayed
        for seg, lsn in st.release.items():
            if lsn >= _AFTER_RECOVERY:
                st.release[seg] = store.wal.last_lsn

    def kick(self) -> None:
        """Called after each checkpoint: start a pass unless one runs or nothing changed."""
        if self._task is not None and not self._task.done():
            return
        if self.store.checkpointed_lsn == self._checked_at and not state_of(self.store).release:
            return
        self._checked_at = self.store.checkpointed_lsn
        self._task = asyncio.get_running_loop().create_task(self._guarded())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _guarded(self) -> None:
        try:
            await self.run_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("compaction pass failed; the log is unchanged up to its last committed step")

    async def run_once(self) -> list[int]:
        """One pass: remove what may go, then relocate the worst segments. Returns the segments relocated."""
        async with self._lock:
            return await self._pass()

    async def _pass(self) -> list[int]:
        self.runs += 1
        self.remove_released()
        store = self.store
        st = state_of(store)
        if not self.may_relocate():
            return []
        if st.victims:  # an earlier pass stopped between begin and move: finish those first
            victims = sorted(st.victims)
        else:
            eligible = self._eligible()
            if not eligible:
                return []
            live = await self._live_bytes(eligible)
            size = store.wal.segment_size
            victims = [s for s in eligible if live.get(s, 0) < self.live_ratio * size]
            if not victims:
                return []
            await store.write(RecordType.COMPACT, orjson.dumps({"t": "begin", "v": victims}))
        keys, ranges = await self._references(set(victims))
        moves = await self._copy(ranges)
        await store.write(RecordType.COMPACT, encode({"t": "move", "v": victims, "m": moves,
                                                       "k": sorted(keys)}))
        log.info("compaction: relocated %d ranges out of segments %s", len(moves), victims)
        if store.metrics is not None:
            store.metrics.moved(sum(ranges.values()))
        self.remove_released()
        return victims

    # -- choosing ---------------------------------------------------------------------------------------------
    def _eligible(self) -> list[int]:
        """Sealed segments wholly behind the checkpoint, no in-flight upload's chunks, none already moved."""
        store, wal = self.store, self.store.wal
        st = state_of(store)
        applied = store.index.meta("applied")
        if applied is None:
            return []
        limit = orjson.loads(applied)["segment"]  # segments before the checkpoint's position are behind it
        active = wal.segments[-1] if wal.segments else 0
        limit = min(limit, active)
        for upload in list(store.writers):
            for loc in upload.chunks:
                limit = min(limit, loc[0])
        retain = store.retain_lsn() if store.retain_lsn is not None else None
        out = []
        for seg in wal.segments:
            if seg >= limit:
                break
            if seg in st.moved or seg in st.victims:
                continue
            if retain is not None and wal.first_lsn(seg + 1) is not None and wal.first_lsn(seg + 1) > retain:
                break  # a standby still needs this segment's records
            out.append(seg)
        return out

    async def _live_bytes(self, segments: list[int]) -> dict[int, int]:
        wanted = set(segments)
        index = self.store.index
        live: dict[int, int] = {}

        def add(versions) -> None:
            for v in versions:
                for loc in v.get("loc") or ():
                    if loc[0] in wanted:
                        live[loc[0]] = live.get(loc[0], 0) + loc[2]

        table = await asyncio.get_running_loop().run_in_executor(None, _table_live, index.path, wanted)
        for seg, n in table.items():
            live[seg] = live.get(seg, 0) + n
        for mt in (index.active, index.frozen):
            for _, _, v in _referencing(mt, wanted):
                add([v])
        from .multipart_state import uploads_of
        for up in uploads_of(self.store).by_id.values():
            for part in up.parts.values():
                add([part])
        return live

    # -- copying -----------------------------------------------------------------------------------------------
    async def _references(self, victims: set[int]) -> tuple[set, dict]:
        """Keys pointing into the victims and the distinct ranges they use: {(seg, off): length}."""
        index = self.store.index
        keys, ranges = await asyncio.get_running_loop().run_in_executor(None, _table_refs, index.path, victims)
        for mt in (index.active, index.frozen):
            for bucket, key, _ in _referencing(mt, victims):
                keys.add((bucket, key))
        keys |= state_of(self.store).pending
        for bucket, key in keys:  # the current versions decide (the table may be older than the memtables)
            for v in index.versions(bucket, key) or ():
                for loc in v.get("loc") or ():
                    if loc[0] in victims:
                        ranges[(loc[0], loc[1])] = loc[2]
        from .multipart_state import uploads_of
        for up in uploads_of(self.store).by_id.values():
            for part in up.parts.values():
                for loc in part["loc"]:
                    if loc[0] in victims:
                        ranges[(loc[0], loc[1])] = loc[2]
        return keys, ranges

    async def _copy(self, ranges: dict) -> list:
        """Copy each range into new CHUNK records (small ones packed together), at the configured rate."""
        wal = self.store.wal
        moves, pack, packed = [], bytearray(), []
        started, copied = time.monotonic(), 0
        last = 0

        def flush() -> None:
            nonlocal pack, packed, last
            if not packed:
                return
            last, loc = wal.append(RecordType.CHUNK, pack)
            for seg, off, at in packed:
                moves.append([seg, off, loc.segment, loc.offset + at])
            pack, packed = bytearray(), []

        for (seg, off), length in sorted(ranges.items()):
            data = wal.read_into(Location(seg, off, length), 0, length)
            if length >= PACK:
                last, loc = wal.append(RecordType.CHUNK, data)
                moves.append([seg, off, loc.segment, loc.offset])
            else:
                packed.append((seg, off, len(pack)))
                pack += data
                if len(pack) >= PACK:
                    flush()
            copied += length + HEADER_SIZE
            ahead = copied / self.bytes_per_s - (time.monotonic() - started)
            await asyncio.sleep(max(ahead, 0))  # the I/O budget, and a turn for requests between ranges
        flush()
        if last:
            await wal.commit(last)
        return moves

    # -- removing ----------------------------------------------------------------------------------------------
    def remove_released(self) -> None:
        store = self.store
        st = state_of(store)
        for seg, lsn in sorted(st.release.items()):
            if seg in st.kept:
                # still referenced outside the map: forget the move (the segment stays and stays valid), so a
                # later pass can relocate it again
                del st.release[seg]
                st.kept.discard(seg)
                st.moved.pop(seg, None)
                continue
            if store.checkpointed_lsn < lsn or store.pinned_before(st.epoch):
                continue
            size = store.wal.segment_bytes(seg)
            store.index.mark_trimmed()  # before the file goes: a full recovery must then start at a checkpoint
            store.wal.remove_segment(seg)
            del st.release[seg]
            st.moved.pop(seg, None)  # every record that could name it was applied and checkpointed: the map can go
            self.segments_removed += 1
            self.reclaimed_bytes += size
            if store.metrics is not None:
                store.metrics.removed(size)
            log.info("compaction: removed segment %d (%d bytes)", seg, size)


def _open_ro(path: str):
    import sqlite3
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _table_live(path: str, wanted: set[int]) -> dict[int, int]:
    live: dict[int, int] = {}
    db = _open_ro(path)
    try:
        for (blob,) in db.execute("SELECT versions FROM objects"):
            for v in orjson.loads(blob):
                for seg, _, length in v.get("loc") or ():
                    if seg in wanted:
                        live[seg] = live.get(seg, 0) + length
    finally:
        db.close()
    return live


def _table_refs(path: str, victims: set[int]) -> tuple[set, dict]:
    keys, ranges = set(), {}
    db = _open_ro(path)
    try:
        for bucket, key, blob in db.execute("SELECT bucket, key, versions FROM objects"):
            for v in orjson.loads(blob):
                for seg, off, length in v.get("loc") or ():
                    if seg in victims:
                        keys.add((bucket, key))
                        ranges[(seg, off)] = length
    finally:
        db.close()
    return keys, ranges
