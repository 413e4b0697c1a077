"""Multipart upload operations at the router. Every call goes to the shard that owns the final key, so an
upload's parts and its completion never cross shards; ListMultipartUploads fans out and merges like
ListObjects does."""

from __future__ import annotations

from urllib.parse import quote, unquote

from .response import HTTPResponse

from shards import checksums
from shards import multipart_checksums as mc
from shards.errors import S3Error

from . import xml_multipart as xmp
from .addressing import check_key
from .call import Call
from .ops_list import lazy_merge
from .metrics import BYTES_IN
from . import ops_objects  # module reference, not names: ops_objects imports us back for ?partNumber

MAX_PART_NUMBER = 10000


def _target(call: Call):
    check_key(call.key)
    call.router.cache.require(call.bucket)
    return call.router.owner_of(call.bucket, call.key)


def _upload_meta(call: Call, op: str) -> dict:
    return {"op": op, "bucket": call.bucket, "key": call.key, "upload_id": call.query["uploadId"]}


def part_number(raw: str | None) -> int:
    try:
        n = int(raw or "")
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                      ArgumentName="partNumber", ArgumentValue=raw or "")
    return n


def _checksum_headers(cks: dict | None) -> dict:
    return {checksums.header_name(a): v for a, v in (cks or {}).items()}


async def create_upload(call: Call) -> HTTPResponse:
    shard = _target(call)
    await call.body.read_all()  # CreateMultipartUpload has no body; an unread one would stall keep-alive
    obj = ops_objects.put_meta(call)  # the final object's metadata, validated exactly as PutObject validates it
    obj["ckt"] = mc.checksum_type_for(obj.get("algo"), call.headers.get("x-amz-checksum-type"))
    reply = await shard.call({"op": "mpu_create", "bucket": call.bucket, "key": call.key, "object": obj,
                              "owner": call.access_key})
    headers = {}
    if reply.get("algo"):
        headers["x-amz-checksum-algorithm"] = reply["algo"]
        headers["x-amz-checksum-type"] = reply["ckt"]
    return HTTPResponse(xmp.initiate(call.bucket, call.key, reply["upload_id"]), headers=headers,
                        content_type="application/xml")


async def _stream(ex, pieces, end: dict) -> dict:
    """Feed an exchange from an async iterator of body pieces, close it and return the shard's reply."""
    try:
        async for piece in pieces:
            if ex.closed:  # the shard already refused (its reply says why)
                break
            await ex.send(piece)
        ex.end(end() if callable(end) else end)
    except BaseException:
        ex.cancel()
        raise
    return await ex.reply()


async def upload_part(call: Call) -> HTTPResponse:
    n = part_number(call.arg("partNumber"))
    shard = _target(call)
    body = call.body
    meta = {**_upload_meta(call, "mpu_part"), "part": n, "length": body.declared}
    if "content-md5" in call.headers:
        meta["md5"] = call.headers["content-md5"]
    algo, value = ops_objects._checksum_algorithm(call.headers)
    if algo:
        meta["algo"] = algo
        if value is not None:
            meta["checksum"] = value
    ex = shard.open(meta)

    def end():
        trailers = {k[15:].upper(): v for k, v in body.trailers.items() if k.startswith("x-amz-checksum-")}
        return {"length": body.length, "checksums": trailers}

    reply = await _stream(ex, body, end)
    BYTES_IN.inc(body.length)
    return HTTPResponse(status=200, headers={"ETag": f'"{reply["etag"]}"', **_checksum_headers(reply.get("cks"))})


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: ``[/]bucket/key[?versionId=v]``, URL-encoded."""
    path, _, query = value.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    version = None
    if query:
        name, _, version = query.partition("=")
        if name != "versionId" or not version:
            raise S3Error("InvalidArgument", "Invalid copy source object version id",
                          ArgumentName="x-amz-copy-source", ArgumentValue=value)
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                                         "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source",
                      ArgumentValue=value)
    return bucket, key, version


def parse_copy_range(value: str | None) -> tuple[int, int] | None:
    """x-amz-copy-source-range: exactly ``bytes=first-last`` (no suffix or open-ended forms, unlike Range)."""
    if value is None:
        return None
    unit, _, spec = value.strip().partition("=")
    first, _, last = spec.partition("-")
    if unit != "bytes" or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last "
                                         "where first and last are the zero-based offsets of the first and last "
                                         "bytes to copy", ArgumentName="x-amz-copy-source-range",
                      ArgumentValue=value)
    return int(first), int(last)


async def upload_part_copy(call: Call) -> HTTPResponse:
    """UploadPartCopy: the source's bytes (or a range of them) stream from its owning shard into the part
    exchange, within the shard's credit window — never the whole part in router memory."""
    n = part_number(call.arg("partNumber"))
    shard = _target(call)
    h = call.headers
    src_bucket, src_key, version = parse_copy_source(h["x-amz-copy-source"])
    call.router.cache.require(src_bucket)
    rng = parse_copy_range(h.get("x-amz-copy-source-range"))
    # copy_cond: the source's x-amz-copy-source-if-* conditions, every failure a 412 (objects.head)
    copy_cond = {c: h["x-amz-copy-source-" + c] for c in ops_objects.CONDITIONS if "x-amz-copy-source-" + c in h}
    src_meta = {"op": "get", "bucket": src_bucket, "key": src_key, "copy_cond": copy_cond}
    if version is not None:
        src_meta["vid"] = version
    if rng is not None:
        src_meta["range"] = f"bytes={rng[0]}-{rng[1]}"
    src = call.router.owner_of(src_bucket, src_key).open(src_meta)
    try:
        reply = await src.reply()
        size = reply["entry"]["size"]
        if rng is not None and rng[1] >= size:
            raise S3Error("InvalidArgument", f"Range specified is not valid for source object of size: {size}",
                          ArgumentName="x-amz-copy-source-range", ArgumentValue=h["x-amz-copy-source-range"])
        length = rng[1] - rng[0] + 1 if rng is not None else size
        ex = shard.open({**_upload_meta(call, "mpu_part"), "part": n, "length": length})
        pieces = src.body() if reply.get("body") else _nothing()
        result = await _stream(ex, pieces, {"length": length})
    except BaseException:
        src.cancel()
        raise
    headers = {}
    if version is not None:
        headers["x-amz-copy-source-version-id"] = version
    return HTTPResponse(xmp.copy_part(result["etag"], result["mtime"], result.get("cks")), headers=headers,
                        content_type="application/xml")


async def _nothing():
    return
    yield  # an empty async iterator


async def complete_upload(call: Call) -> HTTPResponse:
    check_key(call.key)
    cfg = call.router.cache.require(call.bucket)
    h = call.headers
    parts = xmp.parse_complete(await call.body.read_all())
    meta = {**_upload_meta(call, "mpu_complete"), "parts": parts, "versioning": cfg.get("versioning")}
    cond = {c: h[c] for c in ("if-match", "if-none-match") if c in h}
    if cond:
        meta["cond"] = cond
    expected = {a: h[checksums.header_name(a)] for a in xmp.CHECKSUM_ALGORITHMS if checksums.header_name(a) in h}
    if expected:
        meta["checksums"] = expected
    if "x-amz-checksum-type" in h:
        meta["checksum_type"] = h["x-amz-checksum-type"]
    if "x-amz-mp-object-size" in h:
        try:
            meta["object_size"] = int(h["x-amz-mp-object-size"])
        except ValueError:
            raise S3Error("InvalidArgument", "x-amz-mp-object-size must be an integer.") from None
    reply = await call.router.owner_of(call.bucket, call.key).call(meta)
    location = f"{call.request.scheme}://{h.get('host', '')}/{quote(call.bucket)}/{quote(call.key)}"
    headers = {}
    if reply.get("vid") and reply["vid"] != "null":
        headers["x-amz-version-id"] = reply["vid"]
    return HTTPResponse(xmp.complete(location, call.bucket, call.key, reply["etag"], reply.get("cks"),
                                     reply.get("ckt")), headers=headers, content_type="application/xml")


async def abort_upload(call: Call) -> HTTPResponse:
    await _target(call).call(_upload_meta(call, "mpu_abort"))
    return HTTPResponse(status=204)


async def list_parts(call: Call) -> HTTPResponse:
    shard = _target(call)
    max_parts = call.int_arg("max-parts", 1000, 0, 1000)
    marker = call.int_arg("part-number-marker", 0, 0)
    reply = await shard.call({**_upload_meta(call, "mpu_parts"), "marker": marker, "max_parts": max_parts})
    body = xmp.list_parts(bucket=call.bucket, key=call.key, upload_id=call.query["uploadId"], marker=marker,
                          max_parts=max_parts, reply=reply)
    return HTTPResponse(body, content_type="application/xml")


def _after_upload(req: dict, last) -> dict:
    return {**req, "key_marker": last[0], "upload_id_marker": last[1]["id"] if last[1] else ""}


async def list_uploads(call: Call) -> HTTPResponse:
    call.router.cache.require(call.bucket)
    encoding = call.arg("encoding-type")
    if encoding is not None and encoding != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding)
    prefix, delimiter = call.arg("prefix") or "", call.arg("delimiter") or ""
    key_marker = call.arg("key-marker") or ""
    id_marker = (call.arg("upload-id-marker") or "") if key_marker else ""  # ignored without a key-marker
    max_uploads = call.int_arg("max-uploads", 1000, 0, 1000)
    req = {"op": "mpu_list", "bucket": call.bucket, "prefix": prefix, "delimiter": delimiter,
           "key_marker": key_marker, "upload_id_marker": id_marker}
    items, truncated = await lazy_merge(call.router.clients, req, "max_uploads", max_uploads, _after_upload)
    body = xmp.list_uploads(bucket=call.bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
                            upload_id_marker=id_marker, max_uploads=max_uploads, items=items,
                            truncated=truncated, url=encoding == "url")
    return HTTPResponse(body, content_type="application/xml")


async def part_number_range(call: Call, meta: dict) -> int | None:
    """GET/HEAD ?partNumber=N: turn the part into a byte range of the object (meta["range"]); returns the
    object's part count for x-amz-mp-parts-count (None for an object not uploaded in parts)."""
    if "partNumber" not in call.query:
        return None
    n = part_number(call.query["partNumber"])
    if "range" in call.headers:
        raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
    req = {"op": "part_range", "bucket": call.bucket, "key": call.key, "part": n}
    if "vid" in meta:
        req["vid"] = meta["vid"]
    reply = await call.router.owner_of(call.bucket, call.key).call(req)
    if reply["range"] is not None:
        meta["range"] = "bytes={}-{}".format(*reply["range"])
    return reply["count"]


def route(method: str, subs: set, headers: dict):
    """(operation name, handler) for the object-level multipart subresources, or None."""
    if subs == {"uploads"} and method == "POST":
        return "CreateMultipartUpload", create_upload
    if subs == {"partNumber", "uploadId"} and method == "PUT":
        if "x-amz-copy-source" in headers:
            return "UploadPartCopy", upload_part_copy
        return "UploadPart", upload_part
    if subs == {"uploadId"}:
        return {"POST": ("CompleteMultipartUpload", complete_upload), "DELETE": ("AbortMultipartUpload", abort_upload),
                "GET": ("ListParts", list_parts)}.get(method)
    if "partNumber" in subs and subs <= {"partNumber", "versionId"}:
        return {"GET": ("GetObject", ops_objects.get_object), "HEAD": ("HeadObject", ops_objects.head_object)
                }.get(method)
    return None
