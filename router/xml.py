"""S3 XML documents: rendering is string templates over escaped values (pure functions); request bodies are parsed
with defusedxml so entity-expansion and external-entity tricks are refused, not evaluated."""

from __future__ import annotations

import functools
import re
import time
from urllib.parse import quote
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from shards.errors import S3Error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
OWNER_ID = "cairn"


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def iso8601(ts: float) -> str:
    # A listing renders a timestamp per key and keys written together share their second: format it once.
    ms = int(ts * 1000)
    return f"{_iso_second(ms // 1000)}.{ms % 1000:03d}Z"


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def error(err: S3Error, resource: str, request_id: str) -> bytes:
    extra = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in err.extra.items())
    return (f"{DECL}<Error><Code>{err.code}</Code><Message>{escape(err.message)}</Message>{extra}"
            f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>").encode()


def _owner(access_key: str) -> str:
    return f"<Owner><ID>{escape(access_key)}</ID><DisplayName>{escape(access_key)}</DisplayName></Owner>"


def location(region: str | None) -> bytes:
    body = escape(region) if region and region != "us-east-1" else ""
    return f'{DECL}<LocationConstraint xmlns="{NS}">{body}</LocationConstraint>'.encode()


_PLAIN = re.compile(r"[A-Za-z0-9\-_.~/]*")  # needs neither URL-encoding nor XML escaping


def _enc(value: str, url: bool) -> str:
    if _PLAIN.fullmatch(value):
        return value
    if url:
        return quote(value, safe="/")
    # a bare CR would reach the client as LF (XML end-of-line normalisation): send it as a reference
    return escape(value).replace("\r", "&#13;")


def common_prefix(name: str, url: bool) -> str:
    return f"<CommonPrefixes><Prefix>{_enc(name, url)}</Prefix></CommonPrefixes>"


def _entries(items: list, url: bool, owner: str | None) -> tuple[list[str], list[str]]:
    owner_xml = _owner(owner) if owner else ""
    contents, prefixes = [], []
    seconds: dict = {}  # the page's timestamps share few seconds: iso8601() inlined, one cache lookup per entry
    plain = _PLAIN.fullmatch
    for item in items:  # shards/objects.list_page: [key, etag, size, mtime, sc] or [common prefix, None]
        if item[1] is None:
            prefixes.append(common_prefix(item[0], url))
            continue
        name, etag, size, mtime, sc = item
        second, ms = divmod(int(mtime * 1000), 1000)
        stamp = seconds.get(second)
        if stamp is None:
            stamp = seconds[second] = _iso_second(second)
        contents.append(f"<Contents><Key>{name if plain(name) else _enc(name, url)}</Key><LastModified>{stamp}"
                        f".{ms:03d}Z</LastModified><ETag>&quot;{etag}&quot;</ETag><Size>{size}</Size>"
                        f"{owner_xml}<StorageClass>{sc or 'STANDARD'}</StorageClass></Contents>")
    return contents, prefixes


def _list_head(bucket: str, prefix: str, delimiter: str, max_keys: int, truncated: bool, url: bool) -> list[str]:
    parts = [f'{DECL}<ListBucketResult xmlns="{NS}"><Name>{escape(bucket)}</Name>'
             f"<Prefix>{_enc(prefix, url)}</Prefix>"]
    if delimiter:
        parts.append(f"<Delimiter>{_enc(delimiter, url)}</Delimiter>")
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts.append(f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
    return parts


def list_objects_v2(*, bucket: str, prefix: str, delimiter: str, max_keys: int, items: list, truncated: bool,
                    token: str | None, next_token: str | None, start_after: str | None, url: bool,
                    owner: str | None) -> bytes:
    parts = _list_head(bucket, prefix, delimiter, max_keys, truncated, url)
    parts.append(f"<KeyCount>{len(items)}</KeyCount>")
    if token is not None:
        parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
    if next_token is not None:
        parts.append(f"<NextContinuationToken>{escape(next_token)}</NextContinuationToken>")
    if start_after:
        parts.append(f"<StartAfter>{_enc(start_after, url)}</StartAfter>")
    contents, prefixes = _entries(items, url, owner)
    return "".join((*parts, *contents, *prefixes, "</ListBucketResult>")).encode()


def list_objects_v1(*, bucket: str, prefix: str, delimiter: str, max_keys: int, items: list, truncated: bool,
                    marker: str, next_marker: str | None, url: bool, owner: str | None) -> bytes:
    parts = _list_head(bucket, prefix, delimiter, max_keys, truncated, url)
    parts.append(f"<Marker>{_enc(marker, url)}</Marker>")
    if next_marker is not None:
        parts.append(f"<NextMarker>{_enc(next_marker, url)}</NextMarker>")
    contents, prefixes = _entries(items, url, owner)
    return "".join((*parts, *contents, *prefixes, "</ListBucketResult>")).encode()


def parse(body: bytes, root: str):
    """Parse a request body whose document element must be ``root`` (namespace optional, as AWS accepts)."""
    try:
        doc = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise S3Error("MalformedXML") from None
    tag = doc.tag
    if tag.startswith("{"):
        ns, _, tag = tag[1:].partition("}")
        if ns != NS:
            raise S3Error("MalformedXML")
    if tag != root:
        raise S3Error("MalformedXML")
    return doc


def child_text(elem, name: str) -> str | None:
    for c in elem:
        if c.tag == name or c.tag == f"{{{NS}}}{name}":
            return c.text or ""
    return None
