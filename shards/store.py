"""A shard's state: its WAL, the object index and the bucket configs homed here, rebuilt from the log on start.

Every change is a log record first; ``apply`` turns a record into index/bucket state and is used both live
(after the record's commit) and during recovery, so the two paths cannot disagree.

Checkpoints bound restarts: every ``checkpoint_records`` changes (or ``checkpoint_seconds`` after a change) the
index's memtable, the other state registered with ``register_state`` (bucket configs, multipart uploads) and
the log position just past the last applied record are written in one SQLite transaction, after the log itself
is durable through that record (the index must never be ahead of the log). A light recovery loads that and
replays only the records after the position; a full one rebuilds from the whole log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import itertools
import struct
import time
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import orjson

from wal.log import Log
from wal.recovery import CannotResume, ResumeAt
from wal.segments import Location
from wal.records import RecordType

from .index import Index
from .index_table import encode
from .preconditions import write_refused

log = logging.getLogger("cairn.shard")

META_LEN = struct.Struct("<I")


def encode_put(meta: dict, inline: bytes | bytearray | memoryview = b"") -> bytes:
    """PUT record payload: u32 metadata length, orjson metadata, then the object bytes when they fit inline."""
    m = orjson.dumps(meta)
    return b"".join((META_LEN.pack(len(m)), m, inline))


def decode_put(payload: bytes) -> tuple[dict, int]:
    """Returns (metadata, offset of inline data within the payload)."""
    (n,) = META_LEN.unpack_from(payload)
    return orjson.loads(payload[4:4 + n]), 4 + n


# Checkpoints are written one at a time, always from this one thread.
_CHECKPOINT_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")

# Record types owned by other modules (multipart state...): rtype -> appliers(store, lsn, payload), run by
# ``Store.apply`` after its own handling, so live writes and recovery stay one path.
APPLIERS: dict[int, list] = {}


def register_applier(rtype: int, fn) -> None:
    if fn not in APPLIERS.setdefault(rtype, []):
        APPLIERS[rtype].append(fn)


# State other than the index that checkpoints carry: name -> (dump(store) -> JSON-able, load(store, obj|None)).
# ``load`` with None resets the state (a rebuild from the whole log follows).
STATE: dict[str, tuple] = {}


def register_state(name: str, dump, load) -> None:
    STATE[name] = (dump, load)


def _dump_buckets(store: Store):
    return store.buckets


def _load_buckets(store: Store, obj) -> None:
    store.buckets = obj or {}


register_state("buckets", _dump_buckets, _load_buckets)


class Store:
    def __init__(self, wal: Log, index_dir: str | None = None, *, checkpoint_records: int = 20_000,
                 checkpoint_seconds: float = 5.0) -> None:
        self.wal = wal
        self.index = Index(index_dir or os.path.join(wal.directory, "index"))
        self.buckets: dict[str, dict] = {}  # configs of the buckets whose home is this shard
        self.checkpoint_records = checkpoint_records
        self.checkpoint_seconds = checkpoint_seconds
        self._applied: tuple | None = None  # (segment, offset, lsn): the log just past the last applied record
        self.checkpointed_lsn = 0
        self.checkpoints = 0
        self._checkpointing: asyncio.Task | None = None
        self._checkpoint_lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._recovering = False
        # Compaction (shards/compaction.py): its state once a COMPACT record or a checkpoint made one, the
        # uploads writing CHUNK records right now (their chunks are not in the index yet), streamed reads in
        # progress (token -> compaction epoch when they started), and, on an HA primary, the lowest LSN a
        # standby may still need from the segment files.
        self._compaction = None
        self.compactor = None
        self.writers: weakref.WeakSet = weakref.WeakSet()
        self._pins: dict[int, int] = {}
        self._pin_ids = itertools.count()
        self.retain_lsn = None
        self.metrics = None  # shards/metrics.py EngineMetrics, when running in a shard process
        self.recovery_seconds = 0.0
        # Records appended but not yet applied, in LSN order: live writes apply strictly in LSN order (the
        # order recovery replays), whichever writer's commit wakes first.
        self._unapplied: deque = deque()
        # LSN -> error code of conditional PUT records whose condition failed when applied (they changed nothing).
        self.rejected: dict[int, str] = {}
        # HA (shards/replication.py): awaited after each local commit; in sync mode it returns once the standby
        # has the record too (or the sync timeout passed).
        self.replicate = None

    def recover(self, full: bool = False) -> None:
        """Light: the last checkpoint plus the log after it. Full (or no usable checkpoint): every record."""
        t0 = time.perf_counter()
        self._recovering = True
        try:
            # a full recovery rebuilds from the whole log, unless compaction removed its start
            resume = self._load_checkpoint() if not full or self.index.trimmed() else None
            try:
                n = self._replay(resume, full)
            except CannotResume as exc:
                if full:
                    raise
                log.warning("checkpoint at lsn %d unusable (%s): rebuilding the index from the whole log",
                            resume.lsn, exc)
                n = self._replay(None, full)
        finally:
            self._recovering = False
        self.rejected.clear()  # nobody waits for the outcome of a replayed record
        if self._behind():  # the log is durable after recovery: checkpoint it, so the next restart starts here
            try:
                asyncio.get_running_loop().call_soon(self._start_checkpoint)  # in the background, once serving
            except RuntimeError:
                self.checkpoint_now()
        self.recovery_seconds = time.perf_counter() - t0
        log.info("recovered %d records after lsn %d in %.3fs (%s)", n, resume.lsn if resume else 0,
                 self.recovery_seconds, self.wal.report)

    def _load_checkpoint(self) -> ResumeAt | None:
        raw = self.index.meta("applied")
        if raw is None:
            return None
        at = ResumeAt(**orjson.loads(raw))
        for name, (_, load) in STATE.items():
            blob = self.index.meta(name)
            load(self, None if blob is None else orjson.loads(blob))
        self._applied, self.checkpointed_lsn = (at.segment, at.offset, at.lsn), at.lsn
        return at

    def _replay(self, resume: ResumeAt | None, full: bool) -> int:
        if resume is None:
            self.index.reset()
            for _, load in STATE.values():
                load(self, None)
            self._applied, self.checkpointed_lsn = None, 0
        n = 0
        after = 0 if resume is None else resume.lsn  # a full scan reads (and verifies) older records too
        records = self.wal.recover(full=full, resume=resume)
        try:
            for rec in records:
                if rec.lsn <= after:
                    continue
                if n == 0 and resume is not None and rec.lsn != resume.lsn + 1:
                    raise CannotResume(f"the log goes on at lsn {rec.lsn}, not {resume.lsn + 1}")
                if rec.type != RecordType.CHUNK:
                    self.apply(rec.type, rec.lsn, rec.payload, rec.location)
                n += 1
                if self._behind() >= self.checkpoint_records:
                    # a long replay checkpoints as it goes, so memory stays bounded; what it covers must be on
                    # disk first (the previous process may have died before its last fsync)
                    self.wal.fsync_segments_before(rec.location.segment + 1)
                    self.checkpoint_now()
        finally:
            records.close()
        if resume is not None and n == 0 and self.wal.last_lsn != resume.lsn:
            raise CannotResume(f"the log ends at lsn {self.wal.last_lsn}, the checkpoint at {resume.lsn}")
        return n

    # -- checkpoints --------------------------------------------------------------------------------------
    def _checkpoint_meta(self) -> dict[str, bytes]:
        """What a checkpoint stores besides the index, captured now (consistent with the frozen memtable)."""
        meta = {name: encode(dump(self)) for name, (dump, _) in STATE.items()}
        segment, offset, lsn = self._applied
        meta["applied"] = orjson.dumps({"segment": segment, "offset": offset, "lsn": lsn})
        return meta

    def checkpoint_now(self) -> None:
        """A blocking checkpoint (recovery, shutdown): the log must already be durable through ``applied``."""
        if not self._behind():
            return
        lsn = self._applied[2]
        self.index.checkpoint(self._checkpoint_meta())
        self.checkpointed_lsn, self.checkpoints = lsn, self.checkpoints + 1

    async def checkpoint(self) -> None:
        """Write a checkpoint without stopping the loop: freeze the memtable, make the log durable through the
        last applied record, then write the frozen layer from a thread while writes go on into a new one."""
        async with self._checkpoint_lock:  # one at a time: a caller waits for the running one, then writes its own
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        if not self._behind():
            return
        lsn = self._applied[2]
        meta = self._checkpoint_meta()
        self.index.freeze()
        written = False
        try:
            if self.wal.durable_lsn < lsn:
                await self.wal.sync(include_active=True)
            await asyncio.get_running_loop().run_in_executor(_CHECKPOINT_THREAD, self.index.write_frozen, meta)
            written = True
        except Exception:
            log.exception("checkpoint at lsn %d failed; the log still holds everything, retrying later", lsn)
        finally:
            self.index.release_frozen(written)
        if written:
            self.checkpointed_lsn, self.checkpoints = lsn, self.checkpoints + 1
            if self.metrics is not None:
                self.metrics.checkpointed(lsn)
            if self.compactor is not None:
                self.compactor.kick()

    def _behind(self) -> int:
        """Records applied since the last checkpoint (CHUNKs between them included: what a restart replays)."""
        return 0 if self._applied is None else self._applied[2] - self.checkpointed_lsn

    def _schedule_checkpoint(self) -> None:
        if self._recovering or (self._checkpointing is not None and not self._checkpointing.done()):
            return
        if self._behind() >= self.checkpoint_records:
            self._start_checkpoint()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self.checkpoint_seconds, self._start_checkpoint)

    def _start_checkpoint(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._checkpointing is None or self._checkpointing.done():
            self._checkpointing = asyncio.get_running_loop().create_task(self.checkpoint())

    # -- pins: streamed reads hold data locations across awaits ------------------------------------------------
    def pin(self) -> int:
        token = next(self._pin_ids)
        self._pins[token] = 0 if self._compaction is None else self._compaction.epoch
        return token

    def unpin(self, token: int) -> None:
        self._pins.pop(token, None)

    def pinned_before(self, epoch: int) -> bool:
        """Whether a read that started before the ``epoch``-th relocation is still streaming."""
        return any(e < epoch for e in self._pins.values())

    async def close(self) -> None:
        """Finish any checkpoint, close the log (its final sync), then checkpoint what is left, so the next
        start replays nothing."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.compactor is not None:
            await self.compactor.stop()
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        await self.wal.close()
        try:
            self.checkpoint_now()
        finally:
            self.index.close()

    def apply(self, rtype: int, lsn: int, payload: bytes, loc) -> None:
        self._applied = (loc[0], loc[1] + loc[2], lsn)  # a checkpoint taken after this resumes here
        if rtype == RecordType.PUT:
            meta, data_off = decode_put(payload)
            b, k, entry = meta["b"], meta["k"], meta["e"]
            cond = meta.get("c")
            refused = None if cond is None else write_refused(cond, self.index.get(b, k))
            if refused is not None:
                self.rejected[lsn] = refused
                return
            entry.setdefault("vid", "null")
            entry["lsn"] = lsn
            chunks = meta.get("chunks")
            if chunks is None:
                entry["loc"] = [Location(loc[0], loc[1] + data_off, entry["size"])] if entry.get("size") else []
            else:
                entry["loc"] = [Location(*c) for c in chunks]
                if self._compaction is not None:  # a copy may name data that compaction moves
                    self._compaction.on_version(b, k, entry)
            self.index.put(b, k, entry)
        elif rtype == RecordType.DELETE:
            meta = orjson.loads(payload)
            self.index.remove(meta["b"], meta["k"], meta.get("v", "null"), lsn)
        elif rtype == RecordType.TAGGING:
            meta = orjson.loads(payload)
            version = self.index.version(meta["b"], meta["k"], meta["v"])
            # "at" names the version the request saw: a newer null version written meanwhile keeps its own tags
            if version is not None and version["lsn"] == meta["at"]:
                changed = dict(version)
                if meta["tags"]:
                    changed["tags"] = meta["tags"]
                else:
                    changed.pop("tags", None)
                self.index.replace(meta["b"], meta["k"], meta["v"], changed)
        elif rtype == RecordType.BUCKET_PUT:
            cfg = orjson.loads(payload)
            self.buckets[cfg["name"]] = cfg
        elif rtype == RecordType.BUCKET_DELETE:
            name = orjson.loads(payload)["name"]
            self.buckets.pop(name, None)
            self.index.drop_bucket(name)
        for extra in APPLIERS.get(rtype, ()):
            extra(self, lsn, payload)
        self._schedule_checkpoint()

    def _apply_through(self, lsn: int) -> None:
        queue = self._unapplied
        while queue and queue[0][0] <= lsn:
            rec_lsn, rtype, payload, loc = queue.popleft()
            self.apply(rtype, rec_lsn, payload, loc)

    async def write(self, rtype: int, payload: bytes) -> int:
        """Append a record, wait until the sync policy calls it durable, then make it visible."""
        return await self.write_many([(rtype, payload)])

    async def write_many(self, records: list[tuple[int, bytes]]) -> int:
        """Append several records and wait for one commit covering them all; returns the last LSN."""
        lsn = 0
        for rtype, payload in records:
            lsn, loc = self.wal.append(rtype, payload)
            self._unapplied.append((lsn, rtype, payload, loc))
        await self.wal.commit(lsn)
        if self.replicate is not None:
            await self.replicate(lsn)
        # Durability is monotone: once ``lsn`` is durable so is every earlier record, whoever wrote it.
        self._apply_through(lsn)
        running = self._checkpointing
        if running is not None and not running.done() and self._behind() >= 3 * self.checkpoint_records:
            await asyncio.shield(running)  # writers outrun the checkpoint: wait, so the memtable stays bounded
        return lsn

    async def write_checked(self, rtype: int, payload: bytes) -> str | None:
        """``write`` for a conditional record: the error code if its condition failed when it was applied."""
        lsn = await self.write(rtype, payload)
        return self.rejected.pop(lsn, None)


# Modules whose records Store.apply hands over must be loaded wherever a Store replays a log.
from . import compaction, multipart_state  # noqa: E402,F401
