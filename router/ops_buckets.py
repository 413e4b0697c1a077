"""Bucket-level operations: create, head, delete (a fan-out emptiness check), list, location."""

from __future__ import annotations

import asyncio

from sanic.response import HTTPResponse

from shards.errors import S3Error

from . import xml
from .addressing import check_bucket_name
from .call import Call

XML = "application/xml"


async def create_bucket(call: Call) -> HTTPResponse:
    check_bucket_name(call.bucket)
    region = None
    body = await call.body.read_all()
    if body.strip():
        doc = xml.parse(body, "CreateBucketConfiguration")
        region = xml.child_text(doc, "LocationConstraint") or None
    await call.router.home_of(call.bucket).call(
        {"op": "bucket_create", "bucket": call.bucket, "owner": call.access_key,
         "region": region or call.router.settings.region})
    return HTTPResponse(status=200, headers={"Location": f"/{call.bucket}"})


async def head_bucket(call: Call) -> HTTPResponse:
    cfg = call.router.cache.require(call.bucket)
    return HTTPResponse(status=200, headers={"x-amz-bucket-region": cfg.get("region") or "us-east-1"})


async def delete_bucket(call: Call) -> HTTPResponse:
    router = call.router
    router.cache.require(call.bucket)
    counts = await asyncio.gather(*(c.call({"op": "bucket_count", "bucket": call.bucket}) for c in router.clients))
    if any(r["count"] for r in counts):
        raise S3Error("BucketNotEmpty", BucketName=call.bucket)
    await router.home_of(call.bucket).call({"op": "bucket_delete", "bucket": call.bucket})
    return HTTPResponse(status=204)


async def list_buckets(call: Call) -> HTTPResponse:
    cache = call.router.cache
    if not cache.complete:
        raise S3Error("ServiceUnavailable", "Bucket configuration is still loading; retry.")
    prefix = call.arg("prefix") or ""
    buckets = sorted((b for b in cache.configs.values() if b["name"].startswith(prefix)), key=lambda b: b["name"])
    return HTTPResponse(xml.list_buckets(buckets, call.access_key), content_type=XML)


async def get_location(call: Call) -> HTTPResponse:
    cfg = call.router.cache.require(call.bucket)
    return HTTPResponse(xml.location(cfg.get("region")), content_type=XML)
