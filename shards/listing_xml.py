"""The S3 XML of one listed object (``<Contents>``), rendered once per change rather than once per listing.

The index keeps each key's element as ListObjects shows it by default (key XML-escaped, no owner) in a column
beside its versions (shards/index.py), written with the checkpoint: a page is then one SELECT of (key, element)
pairs, and the router merges the shards' pages by key and splices the elements. ``page_items`` adapts the
stored element to the request (encoding-type=url for a key that needs it, fetch-owner) with string edits.
``LIST_FORMAT`` names this rendering: the index rewrites its stored elements when it changes. Pure functions;
the router's XML (router/xml.py) uses the same helpers for everything else it renders.
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


LIST_FORMAT = b"1"  # bump when ``element`` renders differently: stored elements are then rewritten
_OPEN = "<Contents><Key>"
_STORAGE = "<StorageClass>"


def element(key: str, newest: dict) -> str:
    """The ``<Contents>`` of a key whose newest version (not a delete marker) is ``newest``, as stored."""
    return (f"{_OPEN}{encode_name(key, False)}</Key><LastModified>{iso8601(newest['mtime'])}</LastModified>"
            f"<ETag>&quot;{newest['etag']}&quot;</ETag><Size>{newest['size']}</Size>"
            f"{_STORAGE}{newest.get('sc') or 'STANDARD'}</StorageClass></Contents>")


def page_items(entries: list, url: bool, owner_id: str | None) -> list:
    """A ListObjects page on the wire: ``[key, element]`` (``Index.list_page``) with the element as this request
    lists it; ``[common prefix, None]`` as is."""
    if owner_id:
        owner_xml = owner(owner_id) + _STORAGE
        entries = [[k, e if e is None else e.replace(_STORAGE, owner_xml, 1)] for k, e in entries]
    if url:
        plain = _PLAIN.fullmatch
        entries = [[k, e] if e is None or plain(k) else [k, _url_key(k, e)] for k, e in entries]
    return entries


def _url_key(key: str, stored: str) -> str:
    # the stored element opens with the XML-escaped key: swap it for the URL-encoded one
    return f"{_OPEN}{quote(key, safe='/')}{stored[len(_OPEN) + len(encode_name(key, False)):]}"
