"""HTTP Range and conditional-request evaluation for GET/HEAD: pure functions, RFC 9110 + S3 rules."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from .errors import S3Error


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """Resolve a single ``bytes=`` range to inclusive (start, end), or None to send the whole object.

    S3 ignores syntactically invalid or multi-range headers (serves the whole object) and answers 416
    InvalidRange only for a well-formed range that starts past the end.
    """
    if not value:
        return None
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    try:
        if not first:
            if not last.isdigit():
                return None
            n = int(last)
            if n == 0:
                raise S3Error("InvalidRange", ActualObjectSize=str(size), RangeRequested=value)
            if size == 0:
                return None
            return max(0, size - n), size - 1
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if last and end < start:
        return None
    if start >= size:
        raise S3Error("InvalidRange", ActualObjectSize=str(size), RangeRequested=value)
    return start, min(end, size - 1)


def _etag_matches(header: str, etag: str) -> bool:
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.strip('"') == etag:
            return True
    return False


def _date(value: str):
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def check_conditions(cond: dict, etag: str, mtime: float) -> None:
    """Evaluate If-Match / If-None-Match / If-(Un)Modified-Since in S3's order of precedence.

    Raises PreconditionFailed (412) or NotModified (304). ``mtime`` is whole seconds, as Last-Modified is.
    """
    if not cond:
        return
    mtime = int(mtime)
    im, inm = cond.get("if-match"), cond.get("if-none-match")
    ims, ius = cond.get("if-modified-since"), cond.get("if-unmodified-since")
    if im is not None:
        if not _etag_matches(im, etag):
            raise S3Error("PreconditionFailed", Condition="If-Match")
    elif ius is not None:
        t = _date(ius)
        if t is not None and mtime > t:
            raise S3Error("PreconditionFailed", Condition="If-Unmodified-Since")
    if inm is not None:
        if _etag_matches(inm, etag):
            raise S3Error("NotModified", headers={"ETag": f'"{etag}"'})
    elif ims is not None:
        t = _date(ims)
        if t is not None and mtime <= t:
            raise S3Error("NotModified", headers={"ETag": f'"{etag}"'})
