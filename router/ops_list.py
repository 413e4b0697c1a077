"""ListObjects (v1 and v2) as a fan-out: every shard returns a sorted page, the router k-way merges them.

Each shard answers with up to max-keys entries after the marker (delimiter roll-up done on the shard);
the merge drops common prefixes that several shards reported and stops at max-keys. The continuation
token is the last entry returned, opaque to clients (urlsafe base64).
"""

from __future__ import annotations

import asyncio
import base64
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

    __slots__ = ("client", "req", "items", "pos", "more")

    def __init__(self, client, req: dict, page: dict) -> None:
        self.client, self.req = client, req
        self.items, self.pos, self.more = page["items"], 0, page["truncated"]

    def head(self):
        return self.items[self.pos] if self.pos < len(self.items) else None

    async def refill(self) -> None:
        # the last entry this shard returned (a key, or a common prefix) is exactly where its next page starts
        page = await self.client.call({**self.req, "marker": self.items[-1][0]})
        self.items, self.pos, self.more = page["items"], 0, page["truncated"]


async def merged_page(call: Call, prefix: str, delimiter: str, marker: str, max_keys: int) -> tuple[list, bool]:
    """Up to max_keys entries after marker across all shards, and whether more exist.

    Lazy: each shard first returns about its share of the page (keys spread evenly over shards), and only a
    shard whose share runs out before the page is full is asked for more. Returning max_keys from every
    shard would make each list cost N pages of shard work and wire bytes for one page of output.
    """
    if max_keys == 0:
        return [], False
    clients = call.router.clients
    share = min(max_keys, max_keys // len(clients) + 32)
    req = {"op": "list", "bucket": call.bucket, "prefix": prefix, "delimiter": delimiter, "marker": marker,
           "max_keys": share}
    pages = await asyncio.gather(*(c.call(req) for c in clients))
    cursors = [_ShardCursor(c, req, p) for c, p in zip(clients, pages)]
    out: list = []
    last = None
    while True:
        for cur in cursors:
            if cur.head() is None and cur.more:
                await cur.refill()
        live = [cur for cur in cursors if cur.head() is not None]
        if not live:
            return out, False
        cur = min(live, key=lambda c: c.head()[0])
        item = cur.head()
        if item[0] == last:  # the same common prefix from another shard
            cur.pos += 1
            continue
        if len(out) == max_keys:
            return out, True
        out.append(item)
        last = item[0]
        cur.pos += 1


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
    items, truncated = await merged_page(call, prefix, delimiter, marker, max_keys)
    next_token = encode_token(items[-1][0]) if truncated and items else None
    body = xml.list_objects_v2(bucket=call.bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                               items=items, truncated=truncated, token=token, next_token=next_token,
                               start_after=start_after, url=url,
                               owner=call.access_key if call.arg("fetch-owner") == "true" else None)
    return HTTPResponse(body, content_type="application/xml")


async def list_objects_v1(call: Call) -> HTTPResponse:
    call.router.cache.require(call.bucket)
    prefix, delimiter, max_keys, url = _common_args(call)
    marker = call.arg("marker") or ""
    items, truncated = await merged_page(call, prefix, delimiter, marker, max_keys)
    next_marker = items[-1][0] if truncated and items and delimiter else None
    body = xml.list_objects_v1(bucket=call.bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                               items=items, truncated=truncated, marker=marker, next_marker=next_marker, url=url,
                               owner=call.access_key)
    return HTTPResponse(body, content_type="application/xml")
