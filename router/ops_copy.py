"""CopyObject. When one shard owns both keys it copies by reference (shards/copying.py: no data moves); otherwise
the router streams the source's GET body into the destination's PUT exchange within the shards' credit
windows, so memory stays bounded whatever the object's size.
"""

from __future__ import annotations

from .response import HTTPResponse

from shards.copying import SELF_COPY, check_source_size, copied_fields, kept_digests
from shards.errors import S3Error
from shards.preconditions import COPY_CONDITIONS
from shards.versions import check_version_id

from . import xml_objects
from .addressing import check_key
from .call import Call
from .ops_multipart import parse_copy_source
from .ops_objects import put_meta, version_headers

DIRECTIVES = ("COPY", "REPLACE")
XML = "application/xml"


def _directive(headers: dict, name: str) -> str:
    value = headers.get(name, "COPY")
    if value not in DIRECTIVES:
        raise S3Error("InvalidArgument", f"Unknown {'tagging' if 'tagging' in name else 'metadata'} directive.",
                      ArgumentName=name, ArgumentValue=value)
    return value


def copy_meta(call: Call, versioning: str | None) -> dict:
    """The destination side: a PUT's meta (validated as PutObject validates it) plus the copy's directives."""
    h = call.headers
    src_bucket, src_key, src_vid = parse_copy_source(h["x-amz-copy-source"])
    meta = put_meta(call)
    del meta["length"]
    meta.update(op="copy", versioning=versioning, src_bucket=src_bucket, src_key=src_key,
                directive=_directive(h, "x-amz-metadata-directive"),
                tagging_directive=_directive(h, "x-amz-tagging-directive"))
    if "x-amz-tagging" in h and meta["tagging_directive"] == "COPY":
        meta.pop("tags", None)  # the header only counts with REPLACE, as in S3
    if src_vid is not None:
        meta["src_vid"] = check_version_id(src_vid)
    cond = {c: h["x-amz-copy-source-" + c] for c in COPY_CONDITIONS if "x-amz-copy-source-" + c in h}
    if cond:
        meta["copy_cond"] = cond
    return meta


async def copy_object(call: Call) -> HTTPResponse:
    check_key(call.key)
    cfg = call.router.cache.require(call.bucket)
    meta = copy_meta(call, cfg.get("versioning"))
    src_cfg = call.router.cache.require(meta["src_bucket"])
    router = call.router
    dst = router.owner_of(call.bucket, call.key)
    src = router.owner_of(meta["src_bucket"], meta["src_key"])
    if dst is src and "algo" not in meta:
        reply = await dst.call(meta)
    else:
        reply = await _streamed_copy(src, dst, meta)
    headers = version_headers(cfg, reply.get("vid"))
    if "src_vid" in meta or src_cfg.get("versioning") or reply["src_vid"] != "null":
        headers["x-amz-copy-source-version-id"] = reply["src_vid"]
    body = xml_objects.copy_result(reply["etag"], reply["mtime"], reply.get("cks"))
    return HTTPResponse(body, headers=headers, content_type=XML)


async def _streamed_copy(src, dst, meta: dict) -> dict:
    """Source on another shard (or a checksum to compute): GET it and feed the bytes to a PUT exchange."""
    get = {"op": "get", "bucket": meta["src_bucket"], "key": meta["src_key"], "copy_cond": meta.get("copy_cond")}
    if "src_vid" in meta:
        get["vid"] = meta["src_vid"]
    source = src.open(get)
    try:
        reply = await source.reply()
        entry = reply["entry"]
        check_source_size(entry["size"])
        if (meta["src_bucket"], meta["src_key"]) == (meta["bucket"], meta["key"]) and "src_vid" not in meta \
                and meta["directive"] != "REPLACE" and not meta.get("sc"):
            raise S3Error("InvalidRequest", SELF_COPY)
        put = {k: v for k, v in meta.items() if k not in ("ct", "hdr", "um", "sc", "tags")}
        put.update(copied_fields(entry, meta), op="put", length=entry["size"], keep=kept_digests(entry))
        if "algo" not in put and entry.get("cks") and not put["keep"]:
            (algo, value), = entry["cks"].items()  # recompute the source's checksum and verify the bytes with it
            put.update(algo=algo, checksum=value)
        ex = dst.open(put)
        try:
            if reply.get("body"):
                async for piece in source.body():
                    if ex.closed:
                        break
                    await ex.send(piece)
            ex.end({"length": entry["size"]})
        except BaseException:
            ex.cancel()
            raise
        result = await ex.reply()
    except BaseException:
        source.cancel()
        raise
    result["src_vid"] = entry.get("vid", "null")
    return result
