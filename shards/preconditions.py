"""Preconditions of writes and copies (pure functions).

Conditional writes (PUT / CompleteMultipartUpload with ``If-None-Match: *`` or ``If-Match``) are decided when
the PUT record is applied, not when the request arrives: the record carries its condition (``{"inm": True}``,
``{"im": "<If-Match value>"}``) and ``Store.apply`` evaluates it against the index in LSN order. Of two
racing ``If-None-Match: *`` writes exactly one lands, and recovery replays the same decision.
"""

from __future__ import annotations

from .errors import S3Error
from .ranges import check_conditions


def record_condition(cond: dict | None) -> dict | None:
    """The condition a PUT record carries, from the request's If-None-Match / If-Match headers."""
    if not cond:
        return None
    out = {}
    inm, im = cond.get("if-none-match"), cond.get("if-match")
    if inm is not None:
        if inm.strip() != "*":
            raise S3Error("NotImplemented", "A header you provided implies functionality that is not implemented",
                          Header="If-None-Match")
        out["inm"] = True
    if im is not None:
        out["im"] = im
    return out or None


def write_refused(cond: dict, current: dict | None) -> str | None:
    """The error code a conditional write fails with against the current object, or None if it may land."""
    if cond.get("inm") and current is not None:
        return "PreconditionFailed"
    im = cond.get("im")
    if im is not None:
        if current is None:
            return "NoSuchKey"
        if not any(t.strip().strip('"') in ("*", current["etag"]) for t in im.split(",")):
            return "PreconditionFailed"
    return None


def check_write(cond: dict | None, current: dict | None, key: str) -> None:
    """Early refusal (before the body is stored); the authoritative check is ``write_refused`` at apply."""
    if cond:
        raise_refusal(write_refused(cond, current), cond, key)


def raise_refusal(code: str | None, cond: dict, key: str) -> None:
    if code == "NoSuchKey":
        raise S3Error("NoSuchKey", Key=key)
    if code is not None:
        raise S3Error("PreconditionFailed", Condition="If-None-Match" if cond.get("inm") else "If-Match")


COPY_CONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


def check_copy_source(cond: dict | None, etag: str, mtime: float) -> None:
    """``x-amz-copy-source-if-*``: GET's precedence rules, but every failure is 412 PreconditionFailed."""
    if not cond:
        return
    try:
        check_conditions(cond, etag, mtime)
    except S3Error as err:
        if err.code == "NotModified":
            failed = "if-none-match" if "if-none-match" in cond else "if-modified-since"
        elif err.code == "PreconditionFailed":
            failed = "if-match" if "if-match" in cond else "if-unmodified-since"
        else:
            raise
        raise S3Error("PreconditionFailed", Condition=f"x-amz-copy-source-{failed}") from None
