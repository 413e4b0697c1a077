"""ListObjectVersions as a fan-out: every shard returns a sorted page of versions after (key-marker,
version-id-marker), the router merges them lazily like ListObjects (router/ops_list.py lazy_merge).

A key lives on one shard, so its versions arrive contiguous and newest first from that shard; only common
prefixes can come from several shards and are deduplicated.
"""

from __future__ import annotations

from .response import HTTPResponse

from shards.errors import S3Error
from shards.versions import check_version_id

from . import xml_objects
from .call import Call
from .ops_list import _common_args, lazy_merge


def _after_version(req: dict, last) -> dict:
    return {**req, "key_marker": last[0], "vid_marker": last[1]["vid"] if last[1] else ""}


async def merged_versions(call: Call, prefix: str, delimiter: str, key_marker: str, vid_marker: str,
                          max_keys: int) -> tuple[list, bool]:
    req = {"op": "list_versions", "bucket": call.bucket, "prefix": prefix, "delimiter": delimiter,
           "key_marker": key_marker, "vid_marker": vid_marker}
    return await lazy_merge(call.router.clients, req, "max_keys", max_keys, _after_version)


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
