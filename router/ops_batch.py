"""DeleteObjects (POST /bucket?delete): an explicit fan-out, one ``delete_many`` call per owning shard, each
answering per key. A shard that fails takes only its own keys down: they come back as per-key errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib

from .response import HTTPResponse

from shards import checksums
from shards.errors import S3Error
from shards.versions import valid_version_id

from . import xml_objects
from .addressing import check_key
from .call import Call

MISSING_DIGEST = "Missing required header for this request: Content-MD5"


def verify_body_digest(body: bytes, headers: dict, trailers: dict) -> None:
    """S3 requires Content-MD5 or an x-amz-checksum-* (header or trailer) on DeleteObjects, and checks it."""
    found = False
    if "content-md5" in headers:
        found = True
        if base64.b64encode(hashlib.md5(body).digest()).decode() != headers["content-md5"].strip():
            raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
    for algo in checksums.ALGORITHMS:
        name = checksums.header_name(algo)
        value = headers.get(name) or trailers.get(name)
        if value is None:
            continue
        found = True
        h = checksums.hasher(algo)
        h.update(body)
        if checksums.b64(h.digest()) != value.strip():
            raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
    if not found:
        raise S3Error("InvalidRequest", MISSING_DIGEST)


def _precheck(key: str, vid: str | None) -> dict | None:
    """A per-key error the router can tell without asking a shard."""
    try:
        check_key(key)
    except S3Error as err:
        return {"error": err.code, "message": err.message}
    if vid is not None and not valid_version_id(vid):
        return {"error": "NoSuchVersion", "message": "The specified version does not exist."}
    return None


async def delete_objects(call: Call) -> HTTPResponse:
    cfg = call.router.cache.require(call.bucket)
    body = await call.body.read_all()
    verify_body_digest(body, call.headers, call.body.trailers)
    quiet, objects = xml_objects.parse_delete(body)
    router = call.router
    replies: list = [None] * len(objects)
    groups: dict = {}
    for i, (key, vid) in enumerate(objects):
        replies[i] = _precheck(key, vid)
        if replies[i] is None:
            groups.setdefault(router.ring.shard_for(call.bucket, key), []).append(i)
    shards = list(groups)
    answers = await asyncio.gather(
        *(router.clients[s].call({"op": "delete_many", "bucket": call.bucket, "versioning": cfg.get("versioning"),
                                  "items": [objects[i] for i in groups[s]]}) for s in shards),
        return_exceptions=True)
    for s, answer in zip(shards, answers):
        if isinstance(answer, BaseException):
            err = answer if isinstance(answer, S3Error) else S3Error("InternalError")
            items = [{"error": err.code, "message": err.message}] * len(groups[s])
        else:
            items = answer["items"]
        for i, item in zip(groups[s], items):
            replies[i] = item
    results = [(key, vid, replies[i]) for i, (key, vid) in enumerate(objects)]
    return HTTPResponse(xml_objects.delete_result(results, quiet), content_type="application/xml")
