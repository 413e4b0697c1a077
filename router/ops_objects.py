"""Object operations at the router: turn HTTP into shard exchanges and shard replies into S3 responses."""

from __future__ import annotations

import asyncio

from .response import HTTPResponse

from shards import checksums
from shards.errors import S3Error
from shards.tags import parse_tagging_header
from shards.versions import check_version_id

from .addressing import check_key
from . import ops_multipart
from .call import Call
from .metrics import BYTES_IN, BYTES_OUT
from .xml import http_date

STANDARD_HEADERS = ("cache-control", "content-disposition", "content-language", "expires")
STORAGE_CLASSES = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
                   "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE"}
MAX_USER_METADATA = 2048
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type", "response-content-language": "Content-Language",
                      "response-expires": "Expires", "response-cache-control": "Cache-Control",
                      "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding"}
CONDITIONS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
WRITE_CONDITIONS = ("if-match", "if-none-match")
INLINE_BODY = 256 << 10  # GET bodies up to this size are answered in one response write


def _checksum_algorithm(headers: dict) -> tuple[str | None, str | None]:
    """(algorithm, value from a header or None when it comes as a trailer); S3's rules in checksums.from_headers."""
    return checksums.from_headers(headers)


# Headers asking for protection Cairn does not provide yet: acting as if they were honoured would tell a client
# its object is encrypted or shared when it is not, so they are refused.
_UNSUPPORTED = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
                "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-object-lock-mode",
                "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold", "x-amz-grant-read",
                "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control")


def refuse_unsupported(h: dict) -> None:
    for name in _UNSUPPORTED:
        if name in h:
            raise S3Error("NotImplemented", f"The {name} header is not implemented yet.", Header=name)
    acl = h.get("x-amz-acl")
    if acl is not None and acl != "private":
        raise S3Error("NotImplemented", f"Canned ACL {acl!r} is not implemented yet; only 'private' is.",
                      Header="x-amz-acl")


def put_meta(call: Call) -> dict:
    """What the shard needs to store with the object, validated the way S3 validates it."""
    h = call.headers
    refuse_unsupported(h)
    um = {}
    size = 0
    for name, value in h.items():
        if name.startswith("x-amz-meta-"):
            short = name[11:]
            um[short] = value
            size += len(short.encode()) + len(value.encode())
    if size > MAX_USER_METADATA:
        raise S3Error("MetadataTooLarge", Size=str(size), MaxSizeAllowed=str(MAX_USER_METADATA))
    hdr = {n: h[n] for n in STANDARD_HEADERS if n in h}
    encoding = ",".join(e for e in (x.strip() for x in h.get("content-encoding", "").split(","))
                        if e and e != "aws-chunked")
    if encoding:
        hdr["content-encoding"] = encoding
    sc = h.get("x-amz-storage-class")
    if sc is not None and sc not in STORAGE_CLASSES:
        raise S3Error("InvalidStorageClass", StorageClassRequested=sc)
    algo, value = _checksum_algorithm(h)
    meta = {"op": "put", "bucket": call.bucket, "key": call.key, "ct": h.get("content-type") or "binary/octet-stream",
            "hdr": hdr, "um": um, "length": call.body.declared}
    if sc and sc != "STANDARD":
        meta["sc"] = sc
    if "x-amz-tagging" in h:
        tags = parse_tagging_header(h["x-amz-tagging"])
        if tags:
            meta["tags"] = tags
    if "content-md5" in h:
        meta["md5"] = h["content-md5"]
    if algo:
        meta["algo"] = algo
        if value is not None:
            meta["checksum"] = value
    return meta


def version_headers(cfg: dict, vid: str | None, asked: bool = False) -> dict:
    """x-amz-version-id for a bucket that has (had) versioning, or when the request named a version."""
    if vid is not None and (asked or cfg.get("versioning") or vid != "null"):
        return {"x-amz-version-id": vid}
    return {}


async def put_object(call: Call) -> HTTPResponse:
    check_key(call.key)
    cfg = call.router.cache.require(call.bucket)
    meta = put_meta(call)
    meta["versioning"] = cfg.get("versioning")
    cond = {c: call.headers[c] for c in WRITE_CONDITIONS if c in call.headers}
    if cond:
        meta["cond"] = cond
    ex = call.router.owner_of(call.bucket, call.key).open(meta)
    body = call.body
    try:
        async for piece in body:
            if ex.closed:  # the shard already refused (its reply says why)
                break
            await ex.send(piece)
        trailers = {k[15:].upper(): v for k, v in body.trailers.items() if k.startswith("x-amz-checksum-")}
        ex.end({"length": body.length, "checksums": trailers})
    except BaseException:
        ex.cancel()
        raise
    BYTES_IN.inc(body.length)
    reply = await ex.reply()
    headers = {"ETag": f'"{reply["etag"]}"', **version_headers(cfg, reply.get("vid"))}
    for algo, value in (reply.get("cks") or {}).items():
        headers[checksums.header_name(algo)] = value
        headers["x-amz-checksum-type"] = "FULL_OBJECT"  # a single PUT's checksum covers the whole object
    return HTTPResponse(status=200, headers=headers)


def object_headers(entry: dict, query: dict, checksum_mode: bool) -> dict:
    headers = {"ETag": f'"{entry["etag"]}"', "Last-Modified": http_date(entry["mtime"]),
               "Content-Type": entry.get("ct") or "binary/octet-stream", "Accept-Ranges": "bytes"}
    for name, value in (entry.get("hdr") or {}).items():
        headers[name] = value
    for name, value in (entry.get("um") or {}).items():
        headers["x-amz-meta-" + name] = value
    if entry.get("sc"):
        headers["x-amz-storage-class"] = entry["sc"]
    if entry.get("tags"):
        headers["x-amz-tagging-count"] = str(len(entry["tags"]))
    if checksum_mode:
        for algo, value in (entry.get("cks") or {}).items():
            headers[checksums.header_name(algo)] = value
            headers["x-amz-checksum-type"] = entry.get("ckt") or ("COMPOSITE" if "-" in value else "FULL_OBJECT")
    for param, header in RESPONSE_OVERRIDES.items():
        if param in query:
            headers.pop(header.lower(), None)  # stored headers are keyed in lower case: replace, never add
            headers[header] = query[param]
    return headers


def _object_headers(call: Call, cfg: dict, entry: dict, rng: list | None, parts_count: int | None) -> dict:
    """A GET/HEAD answer's headers; ``rng``: the [first, last] byte sent, None for the whole object;
    ``parts_count``: what ?partNumber= found, None without one."""
    # a whole-object checksum describes the whole object: never send it with a range
    headers = object_headers(entry, call.query,
                             rng is None and call.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED")
    headers.update(version_headers(cfg, entry.get("vid"), "versionId" in call.query))
    if parts_count:
        headers["x-amz-mp-parts-count"] = str(parts_count)
    if rng is not None:
        headers["Content-Range"] = f"bytes {rng[0]}-{rng[1]}/{entry['size']}"
        headers["Content-Length"] = str(rng[1] - rng[0] + 1)
    else:
        headers["Content-Length"] = str(entry["size"])
    return headers


def _object_response(call: Call, cfg: dict, entry: dict, rng: list | None, parts_count: int | None,
                     body: bytes | None) -> HTTPResponse:
    """A GET/HEAD answer whose body (None: none sent, as for HEAD) is at hand."""
    headers = _object_headers(call, cfg, entry, rng, parts_count)
    status = 200 if rng is None else 206
    if body is None:
        return HTTPResponse(status=status, headers=headers)
    BYTES_OUT.inc(len(body))
    return HTTPResponse(body, status=status, headers=headers)


async def get_object(call: Call, with_body: bool = True) -> HTTPResponse:
    check_key(call.key)
    cfg = call.router.cache.require(call.bucket)
    h = call.headers
    meta = {"op": "get" if with_body else "head", "bucket": call.bucket, "key": call.key}
    vid = check_version_id(call.arg("versionId"))
    if vid is not None:
        meta["vid"] = vid
    cond = {c: h[c] for c in CONDITIONS if c in h}
    if cond:
        meta["cond"] = cond
    if "range" in h:
        meta["range"] = h["range"]
    client = call.router.owner_of(call.bucket, call.key)
    reads = call.router.reads
    plain = reads is not None and len(meta) == 3 and "partNumber" not in call.query
    if plain and client.connected:
        kept = reads.get(call.bucket, call.key, with_body)
        if kept is not None:
            return _object_response(call, cfg, kept[0], None, None, kept[1] if with_body else None)
    parts_count = await ops_multipart.part_number_range(call, meta)  # ?partNumber=N becomes that part's range
    ex = client.open(meta)
    try:
        reply = await ex.reply()
        entry = reply["entry"]
        rng = reply.get("range")
        if not reply.get("body"):
            if plain and "gen" in reply:
                reads.keep(client.number, call.bucket, call.key, reply["gen"], entry, b"" if with_body else None)
            return _object_response(call, cfg, entry, rng, parts_count, None)
        length = entry["size"] if rng is None else rng[1] - rng[0] + 1
        if length <= INLINE_BODY:
            body = b"".join([p async for p in ex.body()])
            if plain and "gen" in reply:
                reads.keep(client.number, call.bucket, call.key, reply["gen"], entry, body)
            return _object_response(call, cfg, entry, rng, parts_count, body)
        headers = _object_headers(call, cfg, entry, rng, parts_count)
        headers["x-amz-request-id"] = call.request_id
        response = await call.request.respond(status=200 if rng is None else 206, headers=headers)
    except BaseException:
        ex.cancel()
        raise
    try:
        async for piece in ex.body():
            await response.send(piece)
        await response.eof()
        BYTES_OUT.inc(length)
    except BaseException as exc:
        # Headers are gone already: the only honest signal left is to cut the connection short.
        ex.cancel()
        call.request.transport.abort()
        if isinstance(exc, asyncio.CancelledError):
            raise
    return None  # already sent: the HTTP front must not send it again


async def head_object(call: Call) -> HTTPResponse:
    return await get_object(call, with_body=False)


async def delete_object(call: Call) -> HTTPResponse:
    check_key(call.key)
    cfg = call.router.cache.require(call.bucket)
    meta = {"op": "delete", "bucket": call.bucket, "key": call.key, "versioning": cfg.get("versioning")}
    vid = check_version_id(call.arg("versionId"))
    if vid is not None:
        meta["vid"] = vid
    reply = await call.router.owner_of(call.bucket, call.key).call(meta)
    headers = version_headers(cfg, reply.get("vid"), vid is not None)
    if reply.get("dm"):
        headers["x-amz-delete-marker"] = "true"
    return HTTPResponse(status=204, headers=headers)
