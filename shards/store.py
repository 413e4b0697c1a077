"""A shard's state: its WAL, the object index and the bucket configs homed here, rebuilt from the log on start.

Every change is a log record first; ``apply`` turns a record into index/bucket state and is used both live
(after the record's commit) and during recovery, so the two paths cannot disagree.
"""

from __future__ import annotations

import logging
import struct
import time

import orjson

from wal.log import Log
from wal.segments import Location
from wal.records import RecordType

from .index import Index

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


class Store:
    def __init__(self, wal: Log) -> None:
        self.wal = wal
        self.index = Index()
        self.buckets: dict[str, dict] = {}  # configs of the buckets whose home is this shard
        self.recovery_seconds = 0.0

    def recover(self, full: bool = False) -> None:
        t0 = time.perf_counter()
        n = 0
        for rec in self.wal.recover(full=full):
            if rec.type != RecordType.CHUNK:
                self.apply(rec.type, rec.lsn, rec.payload, rec.location)
            n += 1
        self.recovery_seconds = time.perf_counter() - t0
        log.info("recovered %d records in %.3fs (%s)", n, self.recovery_seconds, self.wal.report)

    def apply(self, rtype: int, lsn: int, payload: bytes, loc) -> None:
        if rtype == RecordType.PUT:
            meta, data_off = decode_put(payload)
            entry = meta["e"]
            entry["lsn"] = lsn
            chunks = meta.get("chunks")
            if chunks is None:
                entry["loc"] = [Location(loc[0], loc[1] + data_off, entry["size"])] if entry["size"] else []
            else:
                entry["loc"] = [Location(*c) for c in chunks]
            self.index.put(meta["b"], meta["k"], entry)
        elif rtype == RecordType.DELETE:
            meta = orjson.loads(payload)
            self.index.delete(meta["b"], meta["k"], lsn)
        elif rtype == RecordType.BUCKET_PUT:
            cfg = orjson.loads(payload)
            self.buckets[cfg["name"]] = cfg
        elif rtype == RecordType.BUCKET_DELETE:
            name = orjson.loads(payload)["name"]
            self.buckets.pop(name, None)
            self.index.drop_bucket(name)

    async def write(self, rtype: int, payload: bytes) -> int:
        """Append a record, wait until the sync policy calls it durable, then make it visible."""
        lsn, loc = self.wal.append(rtype, payload)
        await self.wal.commit(lsn)
        self.apply(rtype, lsn, payload, loc)
        return lsn
