"""Bucket-level operations: create, head, delete (a fan-out emptiness check), list, location, and the bucket
configurations (versioning, tagging, CORS) kept on the bucket's home shard.

Configuration reads are answered from this router's cache (pushed by the home shard); writes go to the home
shard, which validates (shards/bucket_config.py), logs and pushes them to every router before it answers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib

from .response import HTTPResponse

from shards import bucket_config, checksums
from shards.errors import S3Error

from . import xml, xml_buckets
from .addressing import check_bucket_name
from .call import Call

XML = "application/xml"
MAX_BUCKETS = 10000  # ListBuckets page ceiling, also the page size when max-buckets is absent
CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read")
GRANT_HEADERS = ("x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write",
                 "x-amz-grant-write-acp")
OWNERSHIP = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


def _check_create_headers(h: dict) -> None:
    """Object Lock and ACLs are not implemented: refuse what would need them rather than silently ignore it."""
    acl = h.get("x-amz-acl")
    if acl is not None and acl != "private":
        if acl not in CANNED_ACLS:
            raise S3Error("InvalidArgument", ArgumentName="x-amz-acl", ArgumentValue=acl)
        raise S3Error("NotImplemented", f"Canned ACL {acl} is not implemented; only private is supported.")
    for name in GRANT_HEADERS:
        if name in h:
            raise S3Error("NotImplemented", f"{name} is not implemented: access control lists are not supported.")
    lock = h.get("x-amz-bucket-object-lock-enabled", "").lower()
    if lock == "true":
        raise S3Error("NotImplemented", "Object Lock is not implemented.")
    if lock not in ("", "false"):
        raise S3Error("InvalidArgument", ArgumentName="x-amz-bucket-object-lock-enabled", ArgumentValue=lock)
    ownership = h.get("x-amz-object-ownership")
    if ownership is not None and ownership != "BucketOwnerEnforced":
        if ownership not in OWNERSHIP:
            raise S3Error("InvalidArgument", "Invalid x-amz-object-ownership header",
                          ArgumentName="x-amz-object-ownership", ArgumentValue=ownership)
        raise S3Error("NotImplemented", f"Object ownership {ownership} needs ACLs, which are not implemented.")


async def create_bucket(call: Call) -> HTTPResponse:
    check_bucket_name(call.bucket)
    _check_create_headers(call.headers)
    location, tags = None, None
    body = await call.body.read_all()
    if body.strip():
        location, tags = xml_buckets.parse_create_bucket(body)
    region = bucket_config.check_location(location, call.router.settings.region)
    meta = {"op": "bucket_create", "bucket": call.bucket, "owner": call.access_key, "region": region}
    if tags:
        meta["tags"] = tags
    await call.router.home_of(call.bucket).call(meta)
    return HTTPResponse(status=200, headers={"Location": f"/{call.bucket}"})


async def head_bucket(call: Call) -> HTTPResponse:
    cfg = call.router.cache.require(call.bucket)
    return HTTPResponse(status=200, headers={"x-amz-bucket-region": bucket_config.region_of(cfg.get("region")),
                                             "x-amz-access-point-alias": "false"})


async def delete_bucket(call: Call) -> HTTPResponse:
    router = call.router
    router.cache.require(call.bucket)
    counts = await asyncio.gather(*(c.call({"op": "bucket_count", "bucket": call.bucket}) for c in router.clients))
    if any(r["count"] for r in counts):
        raise S3Error("BucketNotEmpty", BucketName=call.bucket)
    await router.home_of(call.bucket).call({"op": "bucket_delete", "bucket": call.bucket})
    return HTTPResponse(status=204)


# --- ListBuckets ------------------------------------------------------------------------------------------------


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str) -> str:
    """The last bucket name of the previous page; tokens are opaque to clients but just that to us."""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token", ArgumentValue=token) from None


def _max_buckets(raw: str | None) -> int:
    if raw is None:
        return MAX_BUCKETS
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_BUCKETS:
        raise S3Error("InvalidArgument", f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS}",
                      ArgumentName="max-buckets", ArgumentValue=raw)
    return int(raw)


async def list_buckets(call: Call) -> HTTPResponse:
    cache = call.router.cache
    if not cache.complete:
        raise S3Error("ServiceUnavailable", "Bucket configuration is still loading; retry.")
    limit = _max_buckets(call.arg("max-buckets"))
    prefix, region, token = call.arg("prefix"), call.arg("bucket-region"), call.arg("continuation-token")
    after = _after(token) if token else ""
    region_of = bucket_config.region_of
    found = sorted((b for b in cache.configs.values()
                    if b["name"] > after and b["name"].startswith(prefix or "")
                    and (not region or region_of(b.get("region")) == region)), key=lambda b: b["name"])
    page = found[:limit]
    next_token = _token(page[-1]["name"]) if len(found) > limit else None
    body = xml_buckets.list_buckets(page, call.access_key, continuation_token=next_token, prefix=prefix,
                                    region_of=region_of)
    return HTTPResponse(body, content_type=XML)


async def get_location(call: Call) -> HTTPResponse:
    cfg = call.router.cache.require(call.bucket)
    return HTTPResponse(xml.location(cfg.get("region")), content_type=XML)


# --- configuration: versioning, tagging, CORS -------------------------------------------------------------------


async def _config_body(call: Call) -> bytes:
    """A configuration document, checked against the Content-MD5 or x-amz-checksum-* S3 requires with it."""
    body = await call.body.read_all()
    h = call.headers
    md5 = h.get("content-md5")
    present = [a for a in checksums.ALGORITHMS if checksums.header_name(a) in h]
    if md5 is None and not present:
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    if md5 is not None:
        try:
            expected = base64.b64decode(md5, validate=True)
        except binascii.Error:
            raise S3Error("InvalidDigest", **{"Content-MD5": md5}) from None
        if len(expected) != 16:
            raise S3Error("InvalidDigest", **{"Content-MD5": md5})
        if hashlib.md5(body).digest() != expected:
            raise S3Error("BadDigest", ExpectedDigest=md5)
    for algo in present:
        hasher = checksums.hasher(algo)
        hasher.update(body)
        if checksums.b64(hasher.digest()) != h[checksums.header_name(algo)]:
            raise S3Error("BadDigest", f"The {algo} you specified did not match the calculated checksum.")
    return body


async def _configure(call: Call, field: str, value, status: int = 200) -> HTTPResponse:
    """Set one configuration field on the bucket's home shard (``value`` None deletes it)."""
    call.router.cache.require(call.bucket)
    await call.router.home_of(call.bucket).call(
        {"op": "bucket_configure", "bucket": call.bucket, "field": field, "value": value})
    return HTTPResponse(status=status)


async def put_versioning(call: Call) -> HTTPResponse:
    return await _configure(call, "versioning", xml_buckets.parse_versioning(await _config_body(call)))


async def get_versioning(call: Call) -> HTTPResponse:
    cfg = call.router.cache.require(call.bucket)
    return HTTPResponse(xml_buckets.versioning(cfg.get("versioning")), content_type=XML)


async def put_tagging(call: Call) -> HTTPResponse:
    tags = xml_buckets.parse_tagging(await _config_body(call))
    return await _configure(call, "tags", tags or None, 204)  # an empty TagSet leaves the bucket without tags


def _stored(call: Call, field: str, missing: str):
    value = call.router.cache.require(call.bucket).get(field)
    if not value:
        raise S3Error(missing, BucketName=call.bucket)
    return value


async def get_tagging(call: Call) -> HTTPResponse:
    return HTTPResponse(xml_buckets.tagging(_stored(call, "tags", "NoSuchTagSet")), content_type=XML)


async def delete_tagging(call: Call) -> HTTPResponse:
    return await _configure(call, "tags", None, 204)


async def put_cors(call: Call) -> HTTPResponse:
    return await _configure(call, "cors", xml_buckets.parse_cors(await _config_body(call)))


async def get_cors(call: Call) -> HTTPResponse:
    return HTTPResponse(xml_buckets.cors(_stored(call, "cors", "NoSuchCORSConfiguration")), content_type=XML)


async def delete_cors(call: Call) -> HTTPResponse:
    return await _configure(call, "cors", None, 204)


# (method, subresource) -> (operation name, handler), for dispatch.route
SUBRESOURCE_OPS = {
    ("GET", "location"): ("GetBucketLocation", get_location),
    ("PUT", "versioning"): ("PutBucketVersioning", put_versioning),
    ("GET", "versioning"): ("GetBucketVersioning", get_versioning),
    ("PUT", "tagging"): ("PutBucketTagging", put_tagging),
    ("GET", "tagging"): ("GetBucketTagging", get_tagging),
    ("DELETE", "tagging"): ("DeleteBucketTagging", delete_tagging),
    ("PUT", "cors"): ("PutBucketCors", put_cors),
    ("GET", "cors"): ("GetBucketCors", get_cors),
    ("DELETE", "cors"): ("DeleteBucketCors", delete_cors),
}
