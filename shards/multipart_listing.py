"""ListParts and this shard's page of ListMultipartUploads, plus the byte range of one part of a completed object
(GET/HEAD ?partNumber=N). Read-only: answered inline, no log writes."""

from __future__ import annotations

from . import multipart_checksums as mc
from . import objects
from .multipart import find_upload
from .multipart_state import Upload, uploads_of
from .store import Store


def _upload_info(up: Upload) -> dict:
    return {"id": up.id, "initiated": up.initiated, "owner": up.owner, "sc": up.meta.get("sc"),
            "algo": up.algorithm, "ckt": up.checksum_type}


def list_parts(store: Store, meta: dict) -> dict:
    up = find_upload(store, meta)
    marker, max_parts = int(meta.get("marker") or 0), int(meta["max_parts"])
    numbers = sorted(n for n in up.parts if n > marker)
    page = numbers[:max_parts]
    parts = [{k: up.parts[n][k] for k in ("n", "size", "etag", "mtime", "cks") if k in up.parts[n]} for n in page]
    return {"upload": _upload_info(up), "parts": parts, "truncated": len(numbers) > len(page),
            "next": page[-1] if page else None}


def list_uploads(store: Store, meta: dict) -> dict:
    """Up to max_uploads entries after the markers, in (key, initiation) order: ``[key, info]`` for an upload,
    ``[common_prefix, None]`` for keys rolled up by the delimiter."""
    uploads = uploads_of(store).by_bucket.get(meta["bucket"])
    max_uploads = int(meta["max_uploads"])
    if not uploads or max_uploads <= 0:
        return {"items": [], "truncated": False}
    prefix, delimiter = meta.get("prefix") or "", meta.get("delimiter") or ""
    key_marker, id_marker = meta.get("key_marker") or "", meta.get("upload_id_marker") or ""
    keys = uploads.keys()
    i = uploads.bisect_left((prefix,))
    if key_marker:
        after = (key_marker, float("inf"))  # past every upload of the marker key...
        if id_marker:  # ...unless an upload id says where within that key to resume
            for pos in range(uploads.bisect_left((key_marker,)), uploads.bisect_left(after)):
                if keys[pos][2] == id_marker:
                    after = keys[pos]
                    break
        i = max(i, uploads.bisect_right(after))
    out: list = []
    n = len(keys)
    while i < n:
        key = keys[i][0]
        if not key.startswith(prefix):
            break
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                cp = key[:cut + len(delimiter)]
                i = uploads.bisect_left((cp + "\U0010ffff",))
                if cp <= key_marker:
                    continue
                if len(out) == max_uploads:
                    return {"items": out, "truncated": True}
                out.append([cp, None])
                continue
        if len(out) == max_uploads:
            return {"items": out, "truncated": True}
        up = uploads[keys[i]]
        out.append([key, _upload_info(up)])
        i += 1
    return {"items": out, "truncated": False}


def part_range(store: Store, meta: dict) -> dict:
    """Where part N of the current object lies: {"range": [first, last] or None, "count": parts or None}."""
    entry = objects.lookup(store, meta)  # the current version or meta["vid"], with delete-marker answers
    rng = mc.part_range(entry.get("parts"), entry["size"], int(meta["part"]))
    parts = entry.get("parts")
    return {"range": list(rng) if rng else None, "count": len(parts) if parts else None}
