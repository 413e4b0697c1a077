"""ListObjectVersions as a fan-out: every shard returns a sorted page of versions after (key-marker,
version-id-marker), the router k-way merges them like ListObjects (router/ops_list.py).

A key lives on one shard, so its versions arrive contiguous and newest first from that shard; only common
prefixes can come from several shards and are deduplicated.
"""

from __future__ import annotations

import asyncio
import heapq

from .response import HTTPResponse

from shards.errors import S3Error
from shards.versions import check_version_id

from . import xml_objects
from .call import Call
from .ops_list import _common_args


async def merged_versions(call: Call, prefix: str, delimiter: str, key_marker: str, vid_marker: str,
                          max_keys: int) -> tuple[list, bool]:
    if max_keys == 0:
        return [], False
    req = {"op": "list_versions", "bucket": call.bucket, "prefix": prefix, "delimiter": delimiter,
           "key_marker": key_marker, "vid_marker": vid_marker, "max_keys": max_keys}
    pages = await asyncio.gather(*(c.call(req) for c in call.router.clients))
    more = any(p["truncated"] for p in pages)
    out: list = []
    last_prefix = None
    for item in heapq.merge(*(p["items"] for p in pages), key=lambda it: it[0]):
        if item[1] is None:
            if item[0] == last_prefix:  # the same common prefix from another shard
                continue
            last_prefix = item[0]
        if len(out) == max_keys:
            return out, True
        out.append(item)
    return out, more


async def list_object_versions(call: Call) -> HTTPResponse:
    call.router.cache.require(call.bucket)
    prefix, delimiter, max_keys, url = _common_args(call)
    key_marker = call.arg("key-marker") or ""
    vid_marker = call.arg("version-id-marker") or ""
    if vid_marker:
        if not key_marker:
            raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                          ArgumentName="version-id-marker", ArgumentValue=vid_marker)
        check_version_id(vid_marker)
    items, truncated = await merged_versions(call, prefix, delimiter, key_marker, vid_marker, max_keys)
    body = xml_objects.list_versions(bucket=call.bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                                     key_marker=key_marker, vid_marker=vid_marker, items=items,
                                     truncated=truncated, url=url, owner=call.access_key)
    return HTTPResponse(body, content_type="application/xml")
