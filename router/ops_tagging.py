"""Object subresources answered from a version's entry: ?tagging (Get/Put/DeleteObjectTagging) and ?attributes
(GetObjectAttributes)."""

from __future__ import annotations

from .response import HTTPResponse

from shards.errors import S3Error
from shards.tags import validate_object_tags
from shards.versions import check_version_id

from . import xml_buckets, xml_objects
from .addressing import check_key
from .call import Call
from .ops_objects import version_headers
from .xml import http_date

XML = "application/xml"


def _meta(call: Call, op: str) -> tuple[dict, dict]:
    check_key(call.key)
    cfg = call.router.cache.require(call.bucket)
    meta = {"op": op, "bucket": call.bucket, "key": call.key}
    vid = check_version_id(call.arg("versionId"))
    if vid is not None:
        meta["vid"] = vid
    return cfg, meta


async def _call(call: Call, meta: dict) -> dict:
    return await call.router.owner_of(call.bucket, call.key).call(meta)


async def get_object_tagging(call: Call) -> HTTPResponse:
    cfg, meta = _meta(call, "tagging_get")
    reply = await _call(call, meta)
    return HTTPResponse(xml_buckets.tagging(reply["tags"]), content_type=XML,
                        headers=version_headers(cfg, reply["vid"], "vid" in meta))


async def put_object_tagging(call: Call) -> HTTPResponse:
    cfg, meta = _meta(call, "tagging_put")
    meta["tags"] = validate_object_tags(xml_buckets.parse_tagging(await call.body.read_all()))
    reply = await _call(call, meta)
    return HTTPResponse(status=200, headers=version_headers(cfg, reply["vid"], "vid" in meta))


async def delete_object_tagging(call: Call) -> HTTPResponse:
    cfg, meta = _meta(call, "tagging_put")
    reply = await _call(call, meta)
    return HTTPResponse(status=204, headers=version_headers(cfg, reply["vid"], "vid" in meta))


def _int_header(call: Call, name: str, default: int) -> int:
    raw = call.headers.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                      ArgumentName=name, ArgumentValue=raw)
    return int(raw)


def wanted_attributes(value: str | None) -> set[str]:
    names = {v.strip() for v in (value or "").split(",") if v.strip()}
    if not names:
        raise S3Error("InvalidArgument", "The x-amz-object-attributes header specifying the attributes to be "
                                         "retrieved is either missing or empty",
                      ArgumentName="x-amz-object-attributes")
    for n in names:
        if n not in xml_objects.ATTRIBUTES:
            raise S3Error("InvalidArgument", "Invalid attribute name specified.",
                          ArgumentName="x-amz-object-attributes", ArgumentValue=n)
    return names


async def get_object_attributes(call: Call) -> HTTPResponse:
    cfg, meta = _meta(call, "attributes")
    wanted = wanted_attributes(call.headers.get("x-amz-object-attributes"))
    max_parts = min(_int_header(call, "x-amz-max-parts", 1000), 1000)
    marker = _int_header(call, "x-amz-part-number-marker", 0)
    reply = await _call(call, meta)
    entry = reply["entry"]
    headers = {"Last-Modified": http_date(entry["mtime"]), **version_headers(cfg, entry["vid"], "vid" in meta)}
    body = xml_objects.object_attributes(entry, reply.get("parts"), wanted, max_parts, marker)
    return HTTPResponse(body, headers=headers, content_type=XML)
