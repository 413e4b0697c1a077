"""Multipart uploads in progress on one shard: state rebuilt from MULTIPART log records.

Every change (created, part stored, aborted, completed) is a MULTIPART record whose orjson payload carries
``"t"`` (the event) and ``"u"`` (the upload id). ``apply`` turns a record into state and is used both live,
after the record's commit, and during recovery, so a restart or kill -9 finds exactly the committed state.
A part's bytes are CHUNK records written before its record; an aborted or replaced part's chunks are garbage
for compaction, never read again.
"""

from __future__ import annotations

import orjson
from sortedcontainers import SortedDict

from wal.records import RecordType
from wal.segments import Location

from .store import Store, register_applier, register_state


class Upload:
    __slots__ = ("id", "bucket", "key", "meta", "initiated", "owner", "parts", "completing")
    _FIELDS = {"u": "id", "b": "bucket", "k": "key", "m": "meta", "i": "initiated", "o": "owner"}

    def __init__(self, rec: dict) -> None:
        self.id = rec["u"]
        self.bucket = rec["b"]
        self.key = rec["k"]
        self.meta = rec["m"]  # what the final object carries: content headers, user metadata, checksum algorithm
        self.initiated = rec["i"]
        self.owner = rec.get("o") or ""
        self.parts: dict[int, dict] = {}  # part number -> {"n", "size", "etag", "mtime", "cks"?, "loc", "lsn"}
        self.completing = False  # a Complete is committing: no more parts, no second Complete, no Abort

    def dump(self) -> dict:
        """The create record's fields plus the parts: what a checkpoint stores."""
        out = {short: getattr(self, name) for short, name in self._FIELDS.items()}
        out["parts"] = list(self.parts.values())
        return out

    @classmethod
    def load(cls, rec: dict) -> Upload:
        up = cls(rec)
        for part in rec["parts"]:
            part["loc"] = [Location(*c) for c in part["loc"]]
            up.parts[part["n"]] = part
        return up

    @property
    def algorithm(self) -> str | None:
        return self.meta.get("algo")

    @property
    def checksum_type(self) -> str | None:
        return self.meta.get("ckt")


class Uploads:
    """Uploads by id, and per bucket sorted by (key, initiated, id) — ListMultipartUploads' order."""

    __slots__ = ("by_id", "by_bucket")

    def __init__(self) -> None:
        self.by_id: dict[str, Upload] = {}
        self.by_bucket: dict[str, SortedDict] = {}

    def get(self, upload_id: str, bucket: str, key: str) -> Upload | None:
        up = self.by_id.get(upload_id)
        if up is None or up.bucket != bucket or up.key != key:
            return None
        return up

    def add(self, up: Upload) -> None:
        self.by_id[up.id] = up
        self.by_bucket.setdefault(up.bucket, SortedDict())[(up.key, up.initiated, up.id)] = up

    def apply(self, lsn: int, rec: dict) -> None:
        event = rec["t"]
        if event == "create":
            self.add(Upload(rec))
            return
        up = self.by_id.get(rec["u"])
        if up is None:
            return
        if event == "part":
            part = rec["p"]
            old = up.parts.get(part["n"])
            if old is not None and old["lsn"] > lsn:
                return
            part["lsn"] = lsn
            part["loc"] = [Location(*c) for c in rec["c"]]
            up.parts[part["n"]] = part
        elif event in ("abort", "complete"):
            self._drop(up)

    def _drop(self, up: Upload) -> None:
        del self.by_id[up.id]
        keys = self.by_bucket.get(up.bucket)
        if keys is not None:
            keys.pop((up.key, up.initiated, up.id), None)
            if not keys:
                del self.by_bucket[up.bucket]

    def drop_bucket(self, bucket: str) -> None:
        for up in list(self.by_bucket.get(bucket, {}).values()):
            self._drop(up)


def uploads_of(store: Store) -> Uploads:
    state = getattr(store, "_multipart", None)
    if state is None:
        state = store._multipart = Uploads()
    return state


async def write(store: Store, rec: dict) -> int:
    """Append a MULTIPART record, wait for its commit, then apply it (Store.write applies via the hook below)."""
    return await store.write(RecordType.MULTIPART, orjson.dumps(rec))


def _apply_multipart(store: Store, lsn: int, payload: bytes) -> None:
    uploads_of(store).apply(lsn, orjson.loads(payload))


def _drop_bucket_uploads(store: Store, lsn: int, payload: bytes) -> None:
    uploads_of(store).drop_bucket(orjson.loads(payload)["name"])


def _dump_uploads(store: Store) -> list:
    return [up.dump() for up in uploads_of(store).by_id.values()]


def _load_uploads(store: Store, saved: list | None) -> None:
    state = store._multipart = Uploads()
    for rec in saved or ():
        state.add(Upload.load(rec))


# MULTIPART records are this module's; Store.apply (live writes and recovery alike) hands them over.
register_state("uploads", _dump_uploads, _load_uploads)
register_applier(RecordType.MULTIPART, _apply_multipart)
register_applier(RecordType.BUCKET_DELETE, _drop_bucket_uploads)
