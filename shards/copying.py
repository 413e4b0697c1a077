"""CopyObject on a shard that owns both the source and the destination key: the new version names the source's
data locations, so no byte is read or written (DESIGN §1: no data copy when avoidable).

``copied_fields`` is shared with the router's cross-shard copy (which streams the source through a normal
Upload), so both paths give the destination the same metadata, tags and ETag.
"""

from __future__ import annotations

import time

from .errors import S3Error
from .objects import write_object
from .preconditions import check_copy_source
from .store import Store
from .versions import check_version_id, resolve_copy_source

MAX_COPY_SOURCE = 5 << 30
SELF_COPY = ("This copy request is illegal because it is trying to copy an object to itself without changing the "
             "object's metadata, storage class, website redirect location or encryption attributes.")


def check_source_size(size: int) -> None:
    if size > MAX_COPY_SOURCE:
        raise S3Error("InvalidRequest", "The specified copy source is larger than the maximum allowable size for a "
                                        f"copy source: {MAX_COPY_SOURCE}")


def copied_fields(src: dict, meta: dict) -> dict:
    """The destination's descriptive fields: the source's (directive COPY) or the request's (REPLACE), tags by
    the tagging directive, storage class always from the request (S3 does not carry it over)."""
    out = {}
    if meta.get("directive") == "REPLACE":
        out.update((k, meta[k]) for k in ("ct", "hdr", "um") if meta.get(k))
        out.setdefault("ct", "binary/octet-stream")
    else:
        out.update((k, src[k]) for k in ("ct", "hdr", "um") if src.get(k))
    tags = meta.get("tags") if meta.get("tagging_directive") == "REPLACE" else src.get("tags")
    if tags:
        out["tags"] = tags
    if meta.get("sc"):
        out["sc"] = meta["sc"]
    return out


def kept_digests(src: dict) -> dict:
    """A multipart source's ETag (md5 of part md5s) and composite checksum cannot be recomputed from the bytes:
    the copy keeps them. A plain object's are recomputed (or, same-shard, simply equal)."""
    if "-" not in src["etag"]:
        return {}
    keep = {"etag": src["etag"]}
    if src.get("cks"):
        keep["cks"] = src["cks"]
        if src.get("ckt"):
            keep["ckt"] = src["ckt"]
    return keep


def is_self_copy(meta: dict, src: dict, latest: dict | None) -> bool:
    """Copying the current version onto its own key changes nothing unless metadata or storage class does."""
    return (meta["src_bucket"] == meta["bucket"] and meta["src_key"] == meta["key"]
            and meta.get("directive") != "REPLACE" and not meta.get("sc")
            and (meta.get("src_vid") is None or src is latest))


def copy(store: Store, meta: dict):
    """The ``copy`` op: ``src_bucket``/``src_key``/``src_vid`` and ``copy_cond`` name the source; the rest of
    ``meta`` is a PUT's (bucket, key, versioning, directive, tagging_directive, ct/hdr/um/sc/tags)."""
    index = store.index
    src = resolve_copy_source(index, meta["src_bucket"], meta["src_key"], check_version_id(meta.get("src_vid")))
    check_copy_source(meta.get("copy_cond"), src["etag"], src["mtime"])
    check_source_size(src["size"])
    if is_self_copy(meta, src, index.latest(meta["bucket"], meta["key"])):
        raise S3Error("InvalidRequest", SELF_COPY)
    entry = {"etag": src["etag"], "size": src["size"], "mtime": time.time(), **copied_fields(src, meta)}
    if src.get("cks"):
        entry["cks"] = src["cks"]
        if src.get("ckt"):
            entry["ckt"] = src["ckt"]
    return _copied(write_object(store, meta, entry, src["loc"]), src["vid"])


async def _copied(written, src_vid: str) -> dict:
    reply = await written
    reply["src_vid"] = src_vid
    return reply
