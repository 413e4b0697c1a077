"""A shard's state: its WAL, the object index and the bucket configs homed here, rebuilt from the log on start.

Every change is a log record first; ``apply`` turns a record into index/bucket state and is used both live
(after the record's commit) and during recovery, so the two paths cannot disagree.
"""

from __future__ import annotations

import logging
import struct
import time
from collections import deque

import orjson

from wal.log import Log
from wal.segments import Location
from wal.records import RecordType

from .index import Index
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


# Record types owned by other modules (multipart state...): rtype -> appliers(store, lsn, payload), run by
# ``Store.apply`` after its own handling, so live writes and recovery stay one path.
APPLIERS: dict[int, list] = {}


def register_applier(rtype: int, fn) -> None:
    if fn not in APPLIERS.setdefault(rtype, []):
        APPLIERS[rtype].append(fn)


class Store:
    def __init__(self, wal: Log) -> None:
        self.wal = wal
        self.index = Index()
        self.buckets: dict[str, dict] = {}  # configs of the buckets whose home is this shard
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
        t0 = time.perf_counter()
        n = 0
        for rec in self.wal.recover(full=full):
            if rec.type != RecordType.CHUNK:
                self.apply(rec.type, rec.lsn, rec.payload, rec.location)
            n += 1
        self.rejected.clear()  # nobody waits for the outcome of a replayed record
        self.recovery_seconds = time.perf_counter() - t0
        log.info("recovered %d records in %.3fs (%s)", n, self.recovery_seconds, self.wal.report)

    def apply(self, rtype: int, lsn: int, payload: bytes, loc) -> None:
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
            self.index.put(b, k, entry)
        elif rtype == RecordType.DELETE:
            meta = orjson.loads(payload)
            self.index.remove(meta["b"], meta["k"], meta.get("v", "null"), lsn)
        elif rtype == RecordType.TAGGING:
            meta = orjson.loads(payload)
            version = self.index.version(meta["b"], meta["k"], meta["v"])
            # "at" names the version the request saw: a newer null version written meanwhile keeps its own tags
            if version is not None and version["lsn"] == meta["at"]:
                if meta["tags"]:
                    version["tags"] = meta["tags"]
                else:
                    version.pop("tags", None)
        elif rtype == RecordType.BUCKET_PUT:
            cfg = orjson.loads(payload)
            self.buckets[cfg["name"]] = cfg
        elif rtype == RecordType.BUCKET_DELETE:
            name = orjson.loads(payload)["name"]
            self.buckets.pop(name, None)
            self.index.drop_bucket(name)
        for extra in APPLIERS.get(rtype, ()):
            extra(self, lsn, payload)

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
        return lsn

    async def write_checked(self, rtype: int, payload: bytes) -> str | None:
        """``write`` for a conditional record: the error code if its condition failed when it was applied."""
        lsn = await self.write(rtype, payload)
        return self.rejected.pop(lsn, None)
