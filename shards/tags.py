"""Object tagging: validation (pure), the x-amz-tagging header form, and Get/Put/DeleteObjectTagging on a shard.

Tags belong to one version. A change is a TAGGING log record naming the version (``v``) and the LSN of the
version the request saw (``at``), so a null version overwritten between the request and the commit does not
inherit tags meant for its predecessor — live and during recovery alike (Store.apply).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson

from wal.records import RecordType

from .bucket_config import validate_tags
from .errors import S3Error
from .store import Store
from .versions import check_version_id, resolve

MAX_OBJECT_TAGS = 10


def validate_object_tags(tags: list) -> list[list[str]]:
    """[[key, value], ...] checked against S3's object-tag rules (10 tags, key 128, value 256, characters)."""
    if len(tags) > MAX_OBJECT_TAGS:
        raise S3Error("InvalidTag", f"Object tags cannot be greater than {MAX_OBJECT_TAGS}")
    return validate_tags(tags, MAX_OBJECT_TAGS)


def parse_tagging_header(value: str) -> list[list[str]]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL-encoded query form) as validated [[key, value], ...]."""
    pairs = parse_qsl(value, keep_blank_values=True)
    if value.strip() and not pairs:
        raise S3Error("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded "
                                         "URL query parameters without tag name duplicates.",
                      ArgumentName="x-amz-tagging", ArgumentValue=value)
    return validate_object_tags([list(p) for p in pairs])


def get(store: Store, meta: dict) -> dict:
    entry = resolve(store.index, meta["bucket"], meta["key"], check_version_id(meta.get("vid")))
    return {"tags": entry.get("tags") or [], "vid": entry["vid"]}


def put(store: Store, meta: dict):
    """PutObjectTagging (``tags`` already validated by the router) and DeleteObjectTagging (``tags`` empty)."""
    entry = resolve(store.index, meta["bucket"], meta["key"], check_version_id(meta.get("vid")),
                    "PUT" if meta.get("tags") else "DELETE")
    record = {"b": meta["bucket"], "k": meta["key"], "v": entry["vid"], "at": entry["lsn"],
              "tags": meta.get("tags") or []}
    return _write(store, orjson.dumps(record), entry["vid"])


async def _write(store: Store, payload: bytes, vid: str) -> dict:
    await store.write(RecordType.TAGGING, payload)
    return {"vid": vid}
