"""The S3 XML of one listed object (``<Contents>``), rendered where the listing is read: on the shard.

A ListObjects page is 1,000 of these; rendering them on the shard from the index's list columns (the timestamp
already ISO-8601 text there, see shards/index.py) lets the router merge shards' pages by key and splice the
elements, instead of formatting every entry after the merge. Pure functions; the router's XML (router/xml.py)
uses the same helpers for everything else it renders.
"""

from __future__ import annotations

import functools
import re
import time
from urllib.parse import quote
from xml.sax.saxutils import escape

_PLAIN = re.compile(r"[A-Za-z0-9\-_.~/]*")  # needs neither URL-encoding nor XML escaping


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def iso8601(ts: float) -> str:
    # Keys written together share their second: format each second once.
    ms = int(ts * 1000)
    return f"{_iso_second(ms // 1000)}.{ms % 1000:03d}Z"


def encode_name(value: str, url: bool) -> str:
    """A key or prefix as element text: URL-encoded for encoding-type=url, else XML-escaped."""
    if _PLAIN.fullmatch(value):
        return value
    if url:
        return quote(value, safe="/")
    # a bare CR would reach the client as LF (XML end-of-line normalisation): send it as a reference
    return escape(value).replace("\r", "&#13;")


def owner(access_key: str) -> str:
    return f"<Owner><ID>{escape(access_key)}</ID><DisplayName>{escape(access_key)}</DisplayName></Owner>"


def page_items(entries: list, url: bool, owner_id: str | None) -> list:
    """A ListObjects page on the wire: each ``[key, head]`` of ``Index.list_page`` as ``[key, "<Contents>…"]``
    (head: the index's list columns ``(key, dm, etag, size, modified, sc)``); ``[common prefix, None]`` as is."""
    owner_xml = owner(owner_id) if owner_id else ""
    plain = _PLAIN.fullmatch
    return [[name, None] if head is None else
            [name, f"<Contents><Key>{name if plain(name) else encode_name(name, url)}</Key><LastModified>"
                   f"{head[4]}</LastModified><ETag>&quot;{head[2]}&quot;</ETag><Size>{head[3]}</Size>{owner_xml}"
                   f"<StorageClass>{head[5] or 'STANDARD'}</StorageClass></Contents>"]
            for name, head in entries]
