"""Object semantics on a shard: PUT as a streamed upload, GET/HEAD with ranges and conditions, DELETE, list pages.

Bodies arrive as DATA frames and go straight into the log in chunks of up to CHUNK bytes; the object becomes
visible only when its PUT record (metadata + chunk locations) commits, so a crash or a cancelled upload leaves
nothing half-written behind. Small bodies ride inline in the PUT record: one record, one write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time

import orjson

from wal.records import RecordType

from . import checksums
from .errors import S3Error
from .ranges import check_conditions, parse_range
from .store import Store, encode_put

CHUNK = 1 << 20

# Entry fields a client may see; "loc" and "lsn" are the shard's own business.
PUBLIC = ("etag", "size", "mtime", "ct", "hdr", "um", "cks", "sc")


def public(entry: dict) -> dict:
    return {k: entry[k] for k in PUBLIC if k in entry}


class Upload:
    """One PutObject in flight. ``meta`` comes from the router: bucket, key, content headers, expected digests."""

    __slots__ = ("store", "meta", "md5", "ck", "algo", "buf", "chunks", "size")

    def __init__(self, store: Store, meta: dict) -> None:
        self.store = store
        self.meta = meta
        self.md5 = hashlib.md5()
        self.algo = meta.get("algo")
        self.ck = checksums.hasher(self.algo) if self.algo else None
        self.buf = bytearray()
        self.chunks: list = []
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.md5.update(data)
        if self.ck is not None:
            self.ck.update(data)
        self.size += len(data)
        self.buf += data
        if len(self.buf) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        _, loc = self.store.wal.append(RecordType.CHUNK, self.buf)
        self.chunks.append(loc)
        self.buf = bytearray()

    def finish(self, end: dict):
        """Verify what arrived against what the client promised, then write the PUT record. Returns a coroutine."""
        meta = self.meta
        expected_len = end.get("length", meta.get("length"))
        if expected_len is not None and expected_len != self.size:
            raise S3Error("IncompleteBody")
        md5 = self.md5.digest()
        if meta.get("md5") is not None:
            try:
                want = base64.b64decode(meta["md5"], validate=True)
            except (binascii.Error, ValueError):
                raise S3Error("InvalidDigest") from None
            if len(want) != 16:
                raise S3Error("InvalidDigest")
            if want != md5:
                raise S3Error("BadDigest")
        cks = {}
        if self.ck is not None:
            got = checksums.b64(self.ck.digest())
            want = (end.get("checksums") or {}).get(self.algo) or meta.get("checksum")
            if want is not None and want != got:
                raise S3Error("BadDigest", f"The {self.algo} you specified did not match the calculated checksum.")
            cks[self.algo] = got
        entry = {"etag": md5.hex(), "size": self.size, "mtime": time.time(), "ct": meta.get("ct")}
        for name in ("hdr", "um", "sc"):
            if meta.get(name):
                entry[name] = meta[name]
        if cks:
            entry["cks"] = cks
        if self.chunks and self.buf:
            self._flush()
        return write_object(self.store, meta, entry, self.chunks, b"" if self.chunks else self.buf)


def write_object(store: Store, meta: dict, entry: dict, chunks: list, inline=b""):
    """The one way an object version becomes visible: a PUT record naming its data (chunk locations already in
    the log, or ``inline`` bytes carried in the record). ``meta`` is the request's (bucket, key, bucket config).
    Returns a coroutine that resolves, once the record is committed, to the reply for the client."""
    record = {"b": meta["bucket"], "k": meta["key"], "e": entry}
    if chunks:
        record["chunks"] = [tuple(c) for c in chunks]
    return _commit(store, encode_put(record, inline), entry)


async def _commit(store: Store, payload: bytes, entry: dict) -> dict:
    await store.write(RecordType.PUT, payload)
    return {"etag": entry["etag"], "cks": entry.get("cks")}


def lookup(store: Store, meta: dict) -> dict:
    entry = store.index.get(meta["bucket"], meta["key"])
    if entry is None:
        raise S3Error("NoSuchKey", Key=meta["key"])
    return entry


def head(store: Store, meta: dict) -> tuple[dict, dict, tuple[int, int] | None]:
    """Resolve a GET/HEAD: returns (response metadata, entry, byte range to send or None for all)."""
    entry = lookup(store, meta)
    check_conditions(meta.get("cond"), entry["etag"], entry["mtime"])
    rng = parse_range(meta.get("range"), entry["size"])
    reply = {"entry": public(entry)}
    if rng is not None:
        reply["range"] = rng
    return reply, entry, rng


def read_pieces(store: Store, entry: dict, rng: tuple[int, int] | None, piece: int):
    """Yield the object's bytes (or a range of them) in pieces of at most ``piece`` bytes, read with pread."""
    start, end = rng if rng is not None else (0, entry["size"] - 1)
    pos = 0
    for loc in entry["loc"]:
        length = loc.length
        lo, hi = max(start, pos), min(end, pos + length - 1)
        if lo <= hi:
            at = lo - pos
            while at <= hi - pos:
                n = min(piece, hi - pos - at + 1)
                yield store.wal.read_into(loc, at, n)
                at += n
        pos += length
        if pos > end:
            break


def delete(store: Store, meta: dict):
    """DeleteObject: deleting a missing key succeeds (204), as S3 does."""
    if store.index.get(meta["bucket"], meta["key"]) is None:
        return {}
    return _deleted(store, orjson.dumps({"b": meta["bucket"], "k": meta["key"]}))


async def _deleted(store: Store, payload: bytes) -> dict:
    await store.write(RecordType.DELETE, payload)
    return {}


def list_page(store: Store, meta: dict) -> dict:
    entries, truncated = store.index.list_page(
        meta["bucket"], meta.get("prefix", ""), meta.get("delimiter", ""), meta.get("marker", ""),
        int(meta["max_keys"]))
    items = [[k, None] if e is None else [k, {"etag": e["etag"], "size": e["size"], "mtime": e["mtime"],
                                             "sc": e.get("sc")}] for k, e in entries]
    return {"items": items, "truncated": truncated}
