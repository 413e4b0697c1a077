"""Version ids and how a request names a version (S3 versioning semantics on a shard).

A version id is 32 URL-safe base64 characters: 8 bytes of the write's wall-clock nanoseconds and 16 random
bytes, so ids are unique without coordination between shards. "null" names the version written while the
bucket was unversioned or suspended.
"""

from __future__ import annotations

import base64
import os
import re
import struct
import time

from .errors import S3Error
from .index import Index

VERSION_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
_NS = struct.Struct(">Q")


def new_version_id() -> str:
    return base64.urlsafe_b64encode(_NS.pack(time.time_ns()) + os.urandom(16)).decode()


def valid_version_id(vid: str) -> bool:
    return vid == "null" or VERSION_ID.match(vid) is not None


def check_version_id(vid: str | None) -> str | None:
    if vid is not None and not valid_version_id(vid):
        raise S3Error("InvalidArgument", "Invalid version id specified", ArgumentName="versionId",
                      ArgumentValue=vid)
    return vid


def version_for_write(meta: dict) -> str:
    """The id a new version gets: fresh when versioning is Enabled, else the null version (overwritten)."""
    return new_version_id() if meta.get("versioning") == "Enabled" else "null"


def marker_headers(entry: dict) -> dict:
    return {"x-amz-delete-marker": "true", "x-amz-version-id": entry["vid"]}


def resolve(index: Index, bucket: str, key: str, vid: str | None, method: str = "GET") -> dict:
    """The version a GET/HEAD-like request names: the current one, or ``vid``.

    The current version being a delete marker is 404 NoSuchKey; naming a delete marker by id is 405.
    """
    if vid is None:
        entry = index.latest(bucket, key)
        if entry is None:
            raise S3Error("NoSuchKey", Key=key)
        if entry.get("dm"):
            raise S3Error("NoSuchKey", headers=marker_headers(entry), Key=key)
        return entry
    entry = index.version(bucket, key, vid)
    if entry is None:
        raise S3Error("NoSuchVersion", Key=key, VersionId=vid)
    if entry.get("dm"):
        raise S3Error("MethodNotAllowed", headers=marker_headers(entry), Method=method, ResourceType="DeleteMarker")
    return entry


def resolve_copy_source(index: Index, bucket: str, key: str, vid: str | None) -> dict:
    try:
        return resolve(index, bucket, key, vid)
    except S3Error as err:
        if err.code == "MethodNotAllowed":
            raise S3Error("InvalidRequest", "The source of a copy request may not specifically refer to a delete "
                                            "marker by version id.") from None
        raise


def plan_delete(index: Index, bucket: str, key: str, vid: str | None, versioning: str | None):
    """What a DELETE does: (record type name, record, reply).

    With a version id: remove that version for good (removing a delete marker "undeletes"). Without one: a
    versioned bucket gets a new delete marker, a suspended one a null delete marker replacing the null
    version, an unversioned one loses the object. Record type "put" means a delete-marker entry.
    """
    if vid is not None:
        entry = index.version(bucket, key, vid)
        if entry is None:
            return None, None, {"vid": vid}
        reply = {"vid": vid, "dm": True} if entry.get("dm") else {"vid": vid}
        return "delete", {"b": bucket, "k": key, "v": vid}, reply
    if versioning in ("Enabled", "Suspended"):
        marker = {"dm": True, "vid": new_version_id() if versioning == "Enabled" else "null",
                  "mtime": time.time(), "size": 0}
        return "put", {"b": bucket, "k": key, "e": marker}, {"vid": marker["vid"], "dm": True}
    if index.version(bucket, key, "null") is None:
        return None, None, {}
    return "delete", {"b": bucket, "k": key, "v": "null"}, {}
