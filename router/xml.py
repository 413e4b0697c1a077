"""S3 XML documents: rendering is string templates over escaped values (pure functions); request bodies are parsed
with defusedxml so entity-expansion and external-entity tricks are refused, not evaluated."""

from __future__ import annotations

import time
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from shards.errors import S3Error
from shards.listing_xml import encode_name as _enc, iso8601, owner as _owner  # noqa: F401 - shared with shards


NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
OWNER_ID = "cairn"


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def error(err: S3Error, resource: str, request_id: str) -> bytes:
    extra = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in err.extra.items())
    return (f"{DECL}<Error><Code>{err.code}</Code><Message>{escape(err.message)}</Message>{extra}"
            f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>").encode()


def location(region: str | None) -> bytes:
    body = escape(region) if region and region != "us-east-1" else ""
    return f'{DECL}<LocationConstraint xmlns="{NS}">{body}</LocationConstraint>'.encode()


def common_prefix(name: str, url: bool) -> str:
    return f"<CommonPrefixes><Prefix>{_enc(name, url)}</Prefix></CommonPrefixes>"


def _entries(items: list, url: bool) -> tuple[list[str], list[str]]:
    """The merged page's ``<Contents>`` (rendered by the shards, shards/listing_xml.page_items) and
    ``<CommonPrefixes>``."""
    contents = [item[1] for item in items if item[1] is not None]
    if len(contents) == len(items):
        return contents, []
    return contents, [common_prefix(item[0], url) for item in items if item[1] is None]


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
                    token: str | None, next_token: str | None, start_after: str | None, url: bool) -> bytes:
    parts = _list_head(bucket, prefix, delimiter, max_keys, truncated, url)
    parts.append(f"<KeyCount>{len(items)}</KeyCount>")
    if token is not None:
        parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
    if next_token is not None:
        parts.append(f"<NextContinuationToken>{escape(next_token)}</NextContinuationToken>")
    if start_after:
        parts.append(f"<StartAfter>{_enc(start_after, url)}</StartAfter>")
    contents, prefixes = _entries(items, url)
    return "".join((*parts, *contents, *prefixes, "</ListBucketResult>")).encode()


def list_objects_v1(*, bucket: str, prefix: str, delimiter: str, max_keys: int, items: list, truncated: bool,
                    marker: str, next_marker: str | None, url: bool) -> bytes:
    parts = _list_head(bucket, prefix, delimiter, max_keys, truncated, url)
    parts.append(f"<Marker>{_enc(marker, url)}</Marker>")
    if next_marker is not None:
        parts.append(f"<NextMarker>{_enc(next_marker, url)}</NextMarker>")
    contents, prefixes = _entries(items, url)
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
