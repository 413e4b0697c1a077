"""Multipart uploads on the shard that owns the final key: create, parts, complete, abort, listings.

A part streams into the log as CHUNK records exactly like a PutObject body (objects.Upload does the hashing
and chunking); its MULTIPART record then names those chunks. Completing writes one PUT record through
``objects.write_object`` naming every part's chunks in order — no byte is copied — and only then a
MULTIPART "complete" record retires the upload. A crash between the two leaves the object visible and the
upload still listed; completing it again rewrites the same object, so nothing is lost either way.
"""

from __future__ import annotations

import secrets
import time

from wal.records import RecordType

from . import objects
from . import multipart_checksums as mc
from .errors import S3Error
from .multipart_state import Upload, uploads_of, write
from .store import Store

MIN_PART = 5 << 20
MAX_PART_NUMBER = 10000
# Request fields of CreateMultipartUpload that are not the final object's metadata.
_NOT_OBJECT_META = ("op", "bucket", "key", "length", "md5", "checksum")


def find_upload(store: Store, meta: dict) -> Upload:
    up = uploads_of(store).get(meta["upload_id"], meta["bucket"], meta["key"])
    if up is None or up.completing:
        raise S3Error("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                                      "upload may have been aborted or completed.", UploadId=meta["upload_id"])
    return up


def create(store: Store, meta: dict):
    obj = {k: v for k, v in meta["object"].items() if k not in _NOT_OBJECT_META}
    rec = {"t": "create", "u": secrets.token_urlsafe(36), "b": meta["bucket"], "k": meta["key"], "m": obj,
           "i": time.time(), "o": meta.get("owner") or ""}
    return _created(store, rec)


async def _created(store: Store, rec: dict) -> dict:
    await write(store, rec)
    return {"upload_id": rec["u"], "algo": rec["m"].get("algo"), "ckt": rec["m"].get("ckt")}


class PartUpload:
    """UploadPart (and UploadPartCopy's body): objects.Upload hashes and chunks the bytes; this verifies them
    like a PUT does and records the part."""

    __slots__ = ("store", "meta", "body", "upload_id")

    def __init__(self, store: Store, meta: dict) -> None:
        up = find_upload(store, meta)  # refuse before the body is streamed
        algo = up.algorithm
        sent = meta.get("algo")
        if algo and sent and sent != algo:
            raise S3Error("InvalidRequest", f"Checksum Type mismatch occurred, expected checksum Type: "
                                            f"{algo.lower()}, actual checksum Type: {sent.lower()}")
        self.store = store
        self.meta = meta
        self.upload_id = up.id
        self.body = objects.Upload(store, {**meta, "algo": algo or sent})

    def feed(self, data: bytes) -> None:
        self.body.feed(data)

    def finish(self, end: dict):
        body = self.body
        part = body.verify(end)
        if body.buf:  # every part byte lives in CHUNK records: completion names them, never copies
            _, loc = self.store.wal.append(RecordType.CHUNK, body.buf)
            body.chunks.append(loc)
            body.buf = bytearray()
        up = find_upload(self.store, self.meta)
        if up.id != self.upload_id:
            raise S3Error("NoSuchUpload", UploadId=self.meta["upload_id"])
        part["n"] = self.meta["part"]
        part["mtime"] = time.time()
        rec = {"t": "part", "u": up.id, "p": part, "c": [tuple(c) for c in body.chunks]}
        return _part_written(self.store, rec)


async def _part_written(store: Store, rec: dict) -> dict:
    await write(store, rec)
    part = rec["p"]
    return {"etag": part["etag"], "cks": part.get("cks"), "mtime": part["mtime"]}


def abort(store: Store, meta: dict):
    up = find_upload(store, meta)
    return _aborted(store, up.id)


async def _aborted(store: Store, upload_id: str) -> dict:
    await write(store, {"t": "abort", "u": upload_id})
    return {}


def complete(store: Store, meta: dict):
    """CompleteMultipartUpload. ``meta["parts"]`` is the client's list, already checked by the router to be
    non-empty and strictly ascending: [[number, etag, {algorithm: checksum}], ...]."""
    up = find_upload(store, meta)
    chosen = _chosen_parts(up, meta["parts"])
    m = up.meta
    total = sum(p["size"] for p in chosen)
    declared = meta.get("object_size")
    if declared is not None and declared != total:
        raise S3Error("InvalidRequest", f"The provided 'x-amz-mp-object-size' header value {declared} does not "
                                        f"match what was computed: {total}")
    entry = {"etag": mc.multipart_etag([p["etag"] for p in chosen]), "size": total, "mtime": time.time(),
             "ct": m.get("ct")}
    entry.update((k, m[k]) for k in objects.STORED if m.get(k))  # the fields PutObject stores
    entry["parts"] = [{k: p[k] for k in ("n", "size", "etag", "cks") if k in p} for p in chosen]
    if up.algorithm:
        value = _object_checksum(up, chosen)
        want = (meta.get("checksums") or {}).get(up.algorithm)
        if want is not None and want != value:
            raise S3Error("BadDigest", f"The {up.algorithm} you specified did not match the calculated checksum.")
        entry["cks"] = {up.algorithm: value}
        entry["ckt"] = up.checksum_type
    if meta.get("checksum_type") and meta["checksum_type"].upper() != (up.checksum_type or ""):
        raise S3Error("BadDigest", "The checksum type you specified did not match the upload's checksum type.")
    chunks = [loc for p in chosen for loc in p["loc"]]
    up.completing = True
    # meta carries the bucket's versioning and the If-Match / If-None-Match condition, which write_object
    # decides when the PUT record applies
    return _completed(store, up, meta, entry, chunks)


async def _completed(store: Store, up: Upload, meta: dict, entry: dict, chunks: list) -> dict:
    try:
        reply = await objects.write_object(store, meta, entry, chunks)
    except BaseException:
        up.completing = False
        raise
    await write(store, {"t": "complete", "u": up.id})
    return {**reply, "etag": entry["etag"], "cks": entry.get("cks"), "ckt": entry.get("ckt")}


def _chosen_parts(up: Upload, requested: list) -> list[dict]:
    algo = up.algorithm
    chosen = []
    for i, (number, etag, cks) in enumerate(requested):
        part = up.parts.get(number)
        if part is None or part["etag"] != etag.strip().strip('"').lower():
            raise S3Error("InvalidPart", "One or more of the specified parts could not be found.  The part may "
                                         "not have been uploaded, or the specified entity tag may not match the "
                                         "part's entity tag.", UploadId=up.id, PartNumber=str(number),
                          ETag=etag)
        if algo:
            if number != i + 1:
                raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be "
                                                  "ordered by part number and start at 1 without gaps when "
                                                  "checksums are used.", UploadId=up.id)
            given = (cks or {}).get(algo)
            if given is None and up.checksum_type == mc.COMPOSITE:
                raise S3Error("InvalidRequest", f"The upload was created using a {algo.lower()} checksum. The "
                                                f"complete request must include the checksum for each part. It "
                                                f"was missing for part {number} in the request.")
            if given is not None and given != part["cks"][algo]:
                raise S3Error("InvalidPart", f"The {algo.lower()} checksum of part {number} does not match.",
                              UploadId=up.id, PartNumber=str(number), ETag=etag)
        chosen.append(part)
    for part in chosen[:-1]:
        if part["size"] < MIN_PART:
            raise S3Error("EntityTooSmall", ProposedSize=str(part["size"]), MinSizeAllowed=str(MIN_PART),
                          PartNumber=str(part["n"]), ETag=part["etag"])
    return chosen


def _object_checksum(up: Upload, chosen: list[dict]) -> str:
    algo = up.algorithm
    if up.checksum_type == mc.FULL_OBJECT:
        return mc.full_object(algo, [(p["cks"][algo], p["size"]) for p in chosen])
    return mc.composite(algo, [p["cks"][algo] for p in chosen])
