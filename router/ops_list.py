"""ListObjects (v1 and v2) as a fan-out: every shard returns a sorted page, the router k-way merges them.

Each shard answers with up to max-keys entries after the marker (delimiter roll-up done on the shard);
the merge drops common prefixes that several shards reported and stops at max-keys. The continuation
token is the last entry returned, opaque to clients (urlsafe base64).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import binascii
import zlib

from .response import HTTPResponse

from shards.errors import S3Error

from . import xml
from .call import Call


_TOKEN_VERSION = b"\x01"


def encode_token(marker: str) -> str:
    """Opaque: a version byte, the CRC32 of the marker (so a mangled or foreign token is refused, not
    silently read as some other marker), then the marker itself."""
    raw = marker.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(_TOKEN_VERSION + zlib.crc32(raw).to_bytes(4, "big") + raw).decode()


def decode_token(token: str) -> str:
    try:
        data = base64.urlsafe_b64decode(token.encode())
        raw = data[5:]
        if data[:1] != _TOKEN_VERSION or data[1:5] != zlib.crc32(raw).to_bytes(4, "big"):
            raise ValueError(token)
        return raw.decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None


class _ShardCursor:
    """One shard's side of the merge: a buffered page, refilled from where it ended while the merge needs more."""

    __slots__ = ("client", "req", "resume", "items", "pos", "more")

    def __init__(self, client, req: dict, resume, page: dict) -> None:
        self.client, self.req, self.resume = client, req, resume
        self.items, self.pos, self.more = page["items"], 0, page["truncated"]

    async def refill(self, size_field: str, size: int) -> None:
        # the last entry this shard returned (a key, or a common prefix) is exactly where its next page starts
        page = await self.client.call({**self.resume(self.req, self.items[-1]), size_field: size})
        self.items, self.pos, self.more = page["items"], 0, page["truncated"]


def _name(item) -> str:
    return item[0]


async def lazy_merge(clients, req: dict, size_field: str, limit: int, resume) -> tuple[list, bool]:
    """Up to ``limit`` entries across all shards' sorted pages, and whether more exist. Entries are
    ``[name, fields]``, or ``[common_prefix, None]``; a common prefix several shards report is kept once.

    Lazy: each shard first returns about its share of the page (keys spread evenly over shards), and only a
    shard whose share runs out before the page is full is asked for more (``resume(req, last_entry)`` is the
    request for what follows its last entry) — no more than the page still lacks, which is all that shard could
    contribute. Returning ``limit`` from every shard would make each list cost N pages of shard work and wire
    bytes for one page of output.

    The merge takes whole runs at a time: every buffered entry up to the smallest last entry of a shard that
    has more is final, so those runs are concatenated and sorted (stable: one key's versions keep their order)
    instead of comparing entry by entry in Python.
    """
    if limit == 0:
        return [], False
    req = {**req, size_field: min(limit, limit // len(clients) + 32)}
    pages = await asyncio.gather(*(c.call(req) for c in clients))
    cursors = [_ShardCursor(c, req, resume, p) for c, p in zip(clients, pages)]
    out: list = []
    last_prefix = None
    while True:
        dry = [cur for cur in cursors if cur.pos == len(cur.items) and cur.more]
        if dry:
            await asyncio.gather(*(cur.refill(size_field, max(1, limit - len(out))) for cur in dry))
            continue
        live = [cur for cur in cursors if cur.pos < len(cur.items)]
        if not live:
            return out, False
        bounds = [cur.items[-1][0] for cur in live if cur.more]
        bound = min(bounds) if bounds else None
        batch: list = []
        for cur in live:
            items = cur.items
            end = len(items) if bound is None else bisect.bisect_right(items, bound, cur.pos, key=_name)
            batch += items[cur.pos:end]
            cur.pos = end
        if len(live) > 1:
            batch.sort(key=_name)
        for item in batch:
            if item[1] is None:
                if item[0] == last_prefix:  # the same common prefix from another shard
                    continue
                last_prefix = item[0]
            if len(out) == limit:
                return out, True
            out.append(item)


def _after_name(req: dict, last) -> dict:
    return {**req, "marker": last[0]}


async def merged_page(call: Call, prefix: str, delimiter: str, marker: str, max_keys: int, url: bool,
                      owner: str | None) -> tuple[list, bool]:
    """Up to max_keys entries after marker across all shards, and whether more exist: ``[key, "<Contents>…"]``
    (the shard renders the element: ``url`` is encoding-type=url, ``owner`` the access key to list as owner)
    or ``[common prefix, None]``."""
    req = {"op": "list", "bucket": call.bucket, "prefix": prefix, "delimiter": delimiter, "marker": marker,
           "url": url, "owner": owner}
    return await lazy_merge(call.router.clients, req, "max_keys", max_keys, _after_name)


def _common_args(call: Call) -> tuple[str, str, int, bool]:
    encoding = call.arg("encoding-type")
    if encoding is not None and encoding != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding)
    return (call.arg("prefix") or "", call.arg("delimiter") or "", call.int_arg("max-keys", 1000, 0, 1000),
            encoding == "url")


async def list_objects_v2(call: Call) -> HTTPResponse:
    call.router.cache.require(call.bucket)
    prefix, delimiter, max_keys, url = _common_args(call)
    token = call.arg("continuation-token")
    start_after = call.arg("start-after")
    if token is not None:
        if token == "":
            raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                          ArgumentName="continuation-token")
        marker = decode_token(token)
    else:
        marker = start_after or ""
    owner = call.access_key if call.arg("fetch-owner") == "true" else None
    items, truncated = await merged_page(call, prefix, delimiter, marker, max_keys, url, owner)
    next_token = encode_token(items[-1][0]) if truncated and items else None
    body = xml.list_objects_v2(bucket=call.bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                               items=items, truncated=truncated, token=token, next_token=next_token,
                               start_after=start_after, url=url)
    return HTTPResponse(body, content_type="application/xml")


async def list_objects_v1(call: Call) -> HTTPResponse:
    call.router.cache.require(call.bucket)
    prefix, delimiter, max_keys, url = _common_args(call)
    marker = call.arg("marker") or ""
    items, truncated = await merged_page(call, prefix, delimiter, marker, max_keys, url, call.access_key)
    next_marker = items[-1][0] if truncated and items and delimiter else None
    body = xml.list_objects_v1(bucket=call.bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                               items=items, truncated=truncated, marker=marker, next_marker=next_marker, url=url)
    return HTTPResponse(body, content_type="application/xml")
