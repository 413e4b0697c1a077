"""Where a request points: bucket and key from the Host header (virtual-host style) or the path (path style),
and the naming rules S3 enforces on both. Pure functions."""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote, unquote_plus

from shards.errors import S3Error

MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def split_host(host: str) -> str:
    """Host header without the port (IPv6 literals keep their brackets)."""
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def locate(host: str, raw_path: str, domains: list[str]) -> tuple[str, str]:
    """(bucket, key) of a request; either may be ''. ``raw_path`` is still percent-encoded."""
    name = split_host(host).lower()
    bucket = ""
    for domain in sorted(domains, key=len, reverse=True):  # s3.localhost before localhost
        if name.endswith("." + domain):
            bucket = name[:-len(domain) - 1]
            break
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None
    if bucket:
        return bucket, path[1:]
    rest = path[1:]
    bucket, _, key = rest.partition("/")
    return bucket, key


def check_bucket_name(name: str) -> None:
    """S3's general-purpose bucket naming rules."""
    if (not _BUCKET.match(name) or ".." in name or _IPV4.match(name) or name.startswith(("xn--", "sthree-"))
            or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")) or ".-" in name or "-." in name):
        raise S3Error("InvalidBucketName", BucketName=name)


def check_key(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", Size=str(len(key.encode("utf-8", "surrogatepass"))),
                      MaxSizeAllowed=str(MAX_KEY_BYTES))


def parse_query(query_string: str) -> dict[str, str]:
    """Query parameters, first value wins; percent- and '+'-decoding only for components that need it."""
    if not query_string:
        return {}
    out: dict[str, str] = {}
    for piece in query_string.split("&"):
        if piece:
            # as parse_qsl(keep_blank_values=True) decodes, but only the components that need it (a presigned
            # URL has a few encoded values among many plain ones)
            k, _, v = piece.partition("=")
            if "%" in k or "+" in k:
                k = _decode(k)
            if "%" in v or "+" in v:
                v = _decode(v)
            out.setdefault(k, v)
    return out


def _decode(component: str) -> str:
    return _decode_short(component) if len(component) <= 256 else unquote_plus(component)


# Encoded components repeat from request to request (a presigned URL's credential is the same all day)
_decode_short = functools.lru_cache(maxsize=1024)(unquote_plus)
