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

from . import checksums, listing_xml
from .errors import S3Error
from .preconditions import check_copy_source, check_write, raise_refusal, record_condition
from .ranges import check_conditions, parse_range
from .store import Store, encode_put
from .versions import check_version_id, plan_delete, resolve, resolve_copy_source, version_for_write

CHUNK = 1 << 20
# A body piece at least this big is logged as a chunk record of its own, as it arrived (the router sends DATA
# frames of about CHUNK bytes, received into a buffer of their own): no copy into the upload's buffer.
OWN_RECORD = 256 << 10

# Entry fields a client may see; "loc" and "lsn" are the shard's own business.
PUBLIC = ("etag", "size", "mtime", "ct", "hdr", "um", "cks", "ckt", "sc", "vid", "tags")
# Request-meta fields an Upload stores in the new version's entry as they are.
STORED = ("hdr", "um", "sc", "tags")


def public(entry: dict) -> dict:
    return {k: entry[k] for k in PUBLIC if k in entry}


class Upload:
    """One PutObject in flight. ``meta`` comes from the router: bucket, key, content headers, expected digests,
    bucket versioning, write conditions (``cond``) and, for a copy streamed from another shard, ``keep``: the
    source's ETag and checksums when they cannot be recomputed from the bytes (multipart sources)."""

    __slots__ = ("store", "meta", "md5", "ck", "algo", "buf", "chunks", "size", "__weakref__")

    def __init__(self, store: Store, meta: dict) -> None:
        # refuse before the body is stored; write_object decides for good when the record applies
        check_write(record_condition(meta.get("cond")), store.index.get(meta["bucket"], meta["key"]), meta["key"])
        self.store = store
        self.meta = meta
        self.md5 = hashlib.md5()
        self.algo = meta.get("algo")
        self.ck = checksums.hasher(self.algo) if self.algo else None
        self.buf = bytearray()
        self.chunks: list = []
        self.size = 0
        store.writers.add(self)  # compaction leaves the segments holding our chunks alone until we are done

    def feed(self, data: bytes) -> None:
        self.md5.update(data)
        if self.ck is not None:
            self.ck.update(data)
        self.size += len(data)
        if len(data) >= OWN_RECORD:
            if self.buf:
                self._flush()
            self._append(data)  # the log writes from ``data`` until it commits: nobody else holds it
            return
        self.buf += data
        if len(self.buf) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        self._append(self.buf)
        self.buf = bytearray()

    def _append(self, data) -> None:
        _, loc = self.store.wal.append(RecordType.CHUNK, data)
        self.chunks.append(loc)

    def verify(self, end: dict) -> dict:
        """Check the body against its declared length, Content-MD5 and checksum (header, or trailer in ``end``);
        returns what describes it: {"size", "etag", "cks"?}. Shared by PutObject and UploadPart."""
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
        out = {"size": self.size, "etag": md5.hex()}
        if self.ck is not None:
            got = checksums.b64(self.ck.digest())
            want = (end.get("checksums") or {}).get(self.algo) or meta.get("checksum")
            if want is not None and want != got:
                raise S3Error("BadDigest", f"The {self.algo} you specified did not match the calculated checksum.")
            out["cks"] = {self.algo: got}
        return out

    def finish(self, end: dict):
        """Verify what arrived against what the client promised, then write the PUT record. Returns a coroutine."""
        meta = self.meta
        described = self.verify(end)
        entry = {"etag": described["etag"], "size": self.size, "mtime": time.time(), "ct": meta.get("ct")}
        for name in STORED:
            if meta.get(name):
                entry[name] = meta[name]
        if "cks" in described:
            entry["cks"] = described["cks"]
        entry.update(meta.get("keep") or ())
        if self.chunks and self.buf:
            self._flush()
        return write_object(self.store, meta, entry, self.chunks, b"" if self.chunks else self.buf)


def write_object(store: Store, meta: dict, entry: dict, chunks: list, inline=b""):
    """The one way an object version becomes visible: a PUT record naming its data (chunk locations already in
    the log, or ``inline`` bytes carried in the record). ``meta`` is the request's: bucket, key, ``versioning``
    (the bucket's state: a new version id when "Enabled", else the null version) and ``cond`` (If-None-Match /
    If-Match of a conditional write, decided when the record applies). Returns a coroutine that resolves, once
    the record is committed, to the reply for the client (etag, cks, vid, mtime)."""
    entry.setdefault("vid", version_for_write(meta))
    record = {"b": meta["bucket"], "k": meta["key"], "e": entry}
    cond = record_condition(meta.get("cond"))
    if cond:
        record["c"] = cond
    if chunks:
        record["chunks"] = [tuple(c) for c in chunks]
    return _commit(store, encode_put(record, inline), entry, cond, meta["key"])


async def _commit(store: Store, payload: bytes, entry: dict, cond: dict | None, key: str) -> dict:
    if cond:
        raise_refusal(await store.write_checked(RecordType.PUT, payload), cond, key)
    else:
        await store.write(RecordType.PUT, payload)
    return {"etag": entry["etag"], "cks": entry.get("cks"), "vid": entry["vid"], "mtime": entry["mtime"]}


def lookup(store: Store, meta: dict, method: str = "GET") -> dict:
    """The version a request names (``vid``, else the current one), with S3's delete-marker answers."""
    return resolve(store.index, meta["bucket"], meta["key"], check_version_id(meta.get("vid")), method)


def head(store: Store, meta: dict) -> tuple[dict, dict, tuple[int, int] | None]:
    """Resolve a GET/HEAD (or the source side of a copy, ``copy_cond``): returns (response metadata, entry, byte
    range to send or None for all)."""
    if "copy_cond" in meta:
        entry = resolve_copy_source(store.index, meta["bucket"], meta["key"], check_version_id(meta.get("vid")))
        check_copy_source(meta["copy_cond"], entry["etag"], entry["mtime"])
    else:
        entry = lookup(store, meta, "HEAD" if meta.get("op") == "head" else "GET")
        check_conditions(meta.get("cond"), entry["etag"], entry["mtime"])
    rng = parse_range(meta.get("range"), entry["size"])
    reply = {"entry": public(entry)}
    if rng is not None:
        reply["range"] = rng
    return reply, entry, rng


def read_pieces(store: Store, entry: dict, rng: tuple[int, int] | None, piece: int):
    """Yield the object's bytes (or a range of them) in pieces of at most ``piece`` bytes, read with pread."""
    for loc, at, n in read_spans(entry, rng, piece):
        yield store.wal.read_into(loc, at, n)


def read_spans(entry: dict, rng: tuple[int, int] | None, piece: int):
    """Where the object's bytes (or a range of them) lie, in pieces of at most ``piece`` bytes:
    (location, offset in its payload, length)."""
    start, end = rng if rng is not None else (0, entry["size"] - 1)
    pos = 0
    for loc in entry["loc"]:
        length = loc.length
        lo, hi = max(start, pos), min(end, pos + length - 1)
        if lo <= hi:
            at = lo - pos
            while at <= hi - pos:
                n = min(piece, hi - pos - at + 1)
                yield loc, at, n
                at += n
        pos += length
        if pos > end:
            break


def _delete_record(kind: str, record: dict) -> tuple[int, bytes]:
    if kind == "put":
        return RecordType.PUT, encode_put(record)
    return RecordType.DELETE, orjson.dumps(record)


def delete(store: Store, meta: dict):
    """DeleteObject (see versions.plan_delete); deleting a missing key or version succeeds (204), as in S3."""
    kind, record, reply = plan_delete(store.index, meta["bucket"], meta["key"], check_version_id(meta.get("vid")),
                                      meta.get("versioning"))
    if kind is None:
        return reply
    return _deleted(store, [_delete_record(kind, record)], reply)


def delete_many(store: Store, meta: dict):
    """The keys of one DeleteObjects request that live on this shard: ``items`` is [[key, vid or None], ...].
    Every delete is planned first, then all records share one commit. Replies are per item, in order."""
    records, replies = [], []
    for key, vid in meta["items"]:
        try:
            kind, record, reply = plan_delete(store.index, meta["bucket"], key, check_version_id(vid),
                                              meta.get("versioning"))
        except S3Error as err:
            replies.append({"error": err.code, "message": err.message})
            continue
        if kind is not None:
            records.append(_delete_record(kind, record))
        replies.append(reply)
    if not records:
        return {"items": replies}
    return _deleted(store, records, {"items": replies})


async def _deleted(store: Store, records: list, reply: dict) -> dict:
    await store.write_many(records)
    return reply


def list_page(store: Store, meta: dict) -> dict:
    """One shard's page of ListObjects: ``[key, "<Contents>…</Contents>"]`` or ``[common prefix, None]``, the
    elements rendered here (encoding-type ``url``, ``owner``: the access key to list as the owner, if any) so
    the router only merges by key and splices them."""
    entries, truncated = store.index.list_page(
        meta["bucket"], meta.get("prefix", ""), meta.get("delimiter", ""), meta.get("marker", ""),
        int(meta["max_keys"]))
    return {"items": listing_xml.page_items(entries, bool(meta.get("url")), meta.get("owner")),
            "truncated": truncated}


def list_versions(store: Store, meta: dict) -> dict:
    """One shard's page of ListObjectVersions: [key, version fields or None for a common prefix]."""
    entries, truncated = store.index.list_versions_page(
        meta["bucket"], meta.get("prefix", ""), meta.get("delimiter", ""), meta.get("key_marker", ""),
        meta.get("vid_marker", ""), int(meta["max_keys"]))
    items = []
    for k, e, latest in entries:
        if e is None:
            items.append([k, None])
        elif e.get("dm"):
            items.append([k, {"vid": e["vid"], "dm": True, "latest": latest, "mtime": e["mtime"]}])
        else:
            items.append([k, {"vid": e["vid"], "latest": latest, "etag": e["etag"], "size": e["size"],
                              "mtime": e["mtime"], "sc": e.get("sc")}])
    return {"items": items, "truncated": truncated}


def attributes(store: Store, meta: dict) -> dict:
    """GetObjectAttributes: the named version's public fields plus its parts (multipart objects only)."""
    entry = lookup(store, meta)
    reply = {"entry": public(entry)}
    if entry.get("parts"):
        reply["parts"] = entry["parts"]
    return reply
