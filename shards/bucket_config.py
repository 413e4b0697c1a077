"""Validation of bucket configuration documents (versioning, tags, CORS, location) as AWS S3 validates them.

Pure functions over plain data: the router turns XML into lists and dicts (router/xml_buckets.py), the bucket's
home shard validates them here and stores the normalised result in the bucket's config. Error codes and
messages follow what S3 answers for the same input.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import S3Error

# --- versioning ------------------------------------------------------------------------------------------------

VERSIONING_STATES = ("Enabled", "Suspended")


def validate_versioning(doc: dict) -> str | None:
    """The new versioning state, or None when the document leaves it unchanged (no Status element)."""
    status, mfa = doc.get("status"), doc.get("mfa_delete")
    if status is not None and status not in VERSIONING_STATES:
        raise S3Error("MalformedXML")
    if mfa is not None and mfa not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    if mfa == "Enabled":
        # MFA delete needs an MFA device behind x-amz-mfa; without one S3 cannot enable it either.
        raise S3Error("NotImplemented", "MFA Delete is not implemented.")
    return status


# --- tags ------------------------------------------------------------------------------------------------------

MAX_BUCKET_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_chars_ok(text: str) -> bool:
    """Unicode letters, digits, separators (spaces) and _ . : / = + - @, as the tag character rules say."""
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LNZ" for ch in text)


def validate_tags(tags: list, limit: int = MAX_BUCKET_TAGS) -> list[list[str]]:
    """A TagSet as [[key, value], ...] in request order; the first offending tag decides the error, as in S3."""
    seen: set[str] = set()
    out = []
    for i, (key, value) in enumerate(tags):
        if i == limit:
            raise S3Error("InvalidTag", f"Bucket tag count cannot be greater than {limit}")
        if key in seen:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", TagKey=key)
        seen.add(key)
        if not key or len(key) > MAX_TAG_KEY or not _tag_chars_ok(key):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid", TagKey=key)
        if key.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:", TagKey=key)
        if len(value) > MAX_TAG_VALUE or not _tag_chars_ok(value):
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid", TagKey=key, TagValue=value)
        out.append([key, value])
    return out


# --- CORS ------------------------------------------------------------------------------------------------------

CORS_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_CORS_RULES = 100
MAX_RULE_ID = 255
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)


def _one_wildcard(kind: str, values: list[str]) -> None:
    for v in values:
        if v.count("*") > 1:
            raise S3Error("InvalidRequest", f'{kind} "{v}" can not have more than one wildcard.')


def validate_cors(rules: list[dict]) -> list[dict]:
    """CORSRules as dicts with id, origins, methods, headers, expose, max_age (str or None): normalised copies."""
    if not rules or len(rules) > MAX_CORS_RULES:
        raise S3Error("MalformedXML")
    out = []
    for rule in rules:
        origins, methods = rule.get("origins") or [], rule.get("methods") or []
        if not origins or not methods:
            raise S3Error("MalformedXML")
        for m in methods:
            if m not in CORS_METHODS:
                raise S3Error("InvalidRequest",
                              f"Found unsupported HTTP method in CORS config. Unsupported method is {m}")
        _one_wildcard("AllowedOrigin", origins)
        headers = rule.get("headers") or []
        _one_wildcard("AllowedHeader", headers)
        expose = rule.get("expose") or []
        for h in expose:
            if not _TOKEN.match(h):
                raise S3Error("InvalidRequest", f'ExposeHeader "{h}" contains invalid character.')
        rule_id = rule.get("id")
        if rule_id is not None and len(rule_id) > MAX_RULE_ID:
            raise S3Error("InvalidArgument", f"ID length should not exceed allowed limit of {MAX_RULE_ID}",
                          ArgumentName="ID", ArgumentValue=rule_id)
        max_age = rule.get("max_age")
        if max_age is not None:
            if not max_age.isascii() or not max_age.isdigit():
                raise S3Error("MalformedXML")
            max_age = int(max_age)
        out.append({"id": rule_id, "origins": list(origins), "methods": list(methods), "headers": list(headers),
                    "expose": list(expose), "max_age": max_age})
    return out


# --- location --------------------------------------------------------------------------------------------------

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central)(east|west)?-\d{1,2}$")
LEGACY_LOCATIONS = {"EU": "eu-west-1"}


def check_location(constraint: str | None, server_region: str) -> str:
    """The region a CreateBucket asks for. An explicit us-east-1 is refused, as S3 refuses it: that region is
    the default and is asked for by sending no LocationConstraint."""
    if not constraint:
        return server_region
    if constraint == "us-east-1" or not (constraint in LEGACY_LOCATIONS or constraint == server_region
                                         or _REGION.match(constraint)):
        raise S3Error("InvalidLocationConstraint", LocationConstraint=constraint)
    return constraint


def region_of(location: str | None) -> str:
    """The AWS region code a stored location stands for (x-amz-bucket-region)."""
    if not location:
        return "us-east-1"
    return LEGACY_LOCATIONS.get(location, location)


# --- the one entry point the home shard uses -------------------------------------------------------------------

VALIDATORS = {"versioning": validate_versioning, "tags": validate_tags, "cors": validate_cors}
DELETABLE = frozenset(("tags", "cors"))  # versioning can be suspended, never removed


def configure(cfg: dict, field: str, value) -> dict:
    """The bucket config after setting ``field`` to ``value`` (None deletes it); ``cfg`` itself when unchanged."""
    validator = VALIDATORS.get(field)
    if validator is None:
        raise S3Error("NotImplemented", f"Bucket configuration {field!r} is not implemented.")
    if value is None:
        if field not in DELETABLE:
            raise S3Error("InvalidRequest", f"Bucket configuration {field!r} cannot be deleted.")
        if field not in cfg:
            return cfg
        return {k: v for k, v in cfg.items() if k != field}
    normalised = validator(value)
    if normalised is None or cfg.get(field) == normalised:
        return cfg
    return {**cfg, field: normalised}
