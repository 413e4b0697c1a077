"""XML of the bucket configuration operations: parsing request documents into plain data (structure only;
value rules live in shards/bucket_config.py) and rendering responses. Pure functions.

Parsing is strict about structure the way S3's schema validation is: an unknown element, a missing required
one, or a repeated single one is MalformedXML.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from shards.errors import S3Error

from .xml import DECL, NS, iso8601, parse

# --- parsing helpers --------------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fields(elem, allowed: dict[str, bool]) -> dict[str, list]:
    """Children of ``elem`` grouped by name; ``allowed`` maps each name to whether it may repeat."""
    out: dict[str, list] = {}
    for child in elem:
        name = _local(child.tag)
        if name not in allowed:
            raise S3Error("MalformedXML")
        seen = out.setdefault(name, [])
        if seen and not allowed[name]:
            raise S3Error("MalformedXML")
        seen.append(child)
    return out


def _text(elem) -> str:
    if len(elem):  # a value element holding elements is not a value
        raise S3Error("MalformedXML")
    return elem.text or ""


def _one(fields: dict, name: str, required: bool = False) -> str | None:
    elems = fields.get(name)
    if not elems:
        if required:
            raise S3Error("MalformedXML")
        return None
    return _text(elems[0])


def _many(fields: dict, name: str) -> list[str]:
    return [_text(e) for e in fields.get(name, ())]


# --- CreateBucket -----------------------------------------------------------------------------------------------


def parse_create_bucket(body: bytes) -> tuple[str | None, list[list[str]] | None]:
    """(LocationConstraint, Tags) of a CreateBucketConfiguration; Location/Bucket (directory buckets) are refused."""
    doc = parse(body, "CreateBucketConfiguration")
    fields = _fields(doc, {"LocationConstraint": False, "Tags": False, "Location": False, "Bucket": False})
    if "Location" in fields or "Bucket" in fields:
        raise S3Error("NotImplemented", "Directory buckets are not implemented.")
    tags = _parse_tag_list(fields["Tags"][0]) if "Tags" in fields else None
    return _one(fields, "LocationConstraint"), tags


# --- versioning -------------------------------------------------------------------------------------------------


def parse_versioning(body: bytes) -> dict:
    doc = parse(body, "VersioningConfiguration")
    fields = _fields(doc, {"Status": False, "MfaDelete": False, "MFADelete": False})
    mfa = _one(fields, "MfaDelete")
    return {"status": _one(fields, "Status"), "mfa_delete": mfa if mfa is not None else _one(fields, "MFADelete")}


def versioning(status: str | None) -> bytes:
    inner = f"<Status>{status}</Status>" if status else ""
    return f'{DECL}<VersioningConfiguration xmlns="{NS}">{inner}</VersioningConfiguration>'.encode()


# --- tagging ----------------------------------------------------------------------------------------------------


def _parse_tag_list(elem) -> list[list[str]]:
    tags = []
    for tag in _fields(elem, {"Tag": True}).get("Tag", ()):
        fields = _fields(tag, {"Key": False, "Value": False})
        tags.append([_one(fields, "Key", required=True), _one(fields, "Value", required=True)])
    return tags


def parse_tagging(body: bytes) -> list[list[str]]:
    doc = parse(body, "Tagging")
    fields = _fields(doc, {"TagSet": False})
    if "TagSet" not in fields:
        raise S3Error("MalformedXML")
    return _parse_tag_list(fields["TagSet"][0])


def tagging(tags: list[list[str]]) -> bytes:
    items = "".join(f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>" for k, v in tags)
    return f'{DECL}<Tagging xmlns="{NS}"><TagSet>{items}</TagSet></Tagging>'.encode()


# --- CORS -------------------------------------------------------------------------------------------------------

_RULE_FIELDS = {"ID": False, "AllowedOrigin": True, "AllowedMethod": True, "AllowedHeader": True,
                "ExposeHeader": True, "MaxAgeSeconds": False}


def parse_cors(body: bytes) -> list[dict]:
    doc = parse(body, "CORSConfiguration")
    rules = []
    for rule in _fields(doc, {"CORSRule": True}).get("CORSRule", ()):
        f = _fields(rule, _RULE_FIELDS)
        max_age = _one(f, "MaxAgeSeconds")
        rules.append({"id": _one(f, "ID"), "origins": _many(f, "AllowedOrigin"), "methods": _many(f, "AllowedMethod"),
                      "headers": _many(f, "AllowedHeader"), "expose": _many(f, "ExposeHeader"),
                      "max_age": max_age.strip() if max_age is not None else None})
    return rules


def _cors_rule(rule: dict) -> str:
    parts = ["<CORSRule>"]
    if rule.get("id") is not None:
        parts.append(f"<ID>{escape(rule['id'])}</ID>")
    for name, key in (("AllowedHeader", "headers"), ("AllowedMethod", "methods"), ("AllowedOrigin", "origins"),
                      ("ExposeHeader", "expose")):
        parts.extend(f"<{name}>{escape(v)}</{name}>" for v in rule.get(key) or ())
    if rule.get("max_age") is not None:
        parts.append(f"<MaxAgeSeconds>{rule['max_age']}</MaxAgeSeconds>")
    parts.append("</CORSRule>")
    return "".join(parts)


def cors(rules: list[dict]) -> bytes:
    return f'{DECL}<CORSConfiguration xmlns="{NS}">{"".join(map(_cors_rule, rules))}</CORSConfiguration>'.encode()


# --- ListBuckets ------------------------------------------------------------------------------------------------


def list_buckets(buckets: list[dict], owner: str, *, continuation_token: str | None, prefix: str | None,
                 region_of) -> bytes:
    items = "".join(
        f"<Bucket><Name>{escape(b['name'])}</Name><CreationDate>{iso8601(b['created'])}</CreationDate>"
        f"<BucketRegion>{escape(region_of(b.get('region')))}</BucketRegion></Bucket>" for b in buckets)
    parts = [f'{DECL}<ListAllMyBucketsResult xmlns="{NS}"><Buckets>{items}</Buckets>',
             f"<Owner><ID>{escape(owner)}</ID><DisplayName>{escape(owner)}</DisplayName></Owner>"]
    if continuation_token is not None:
        parts.append(f"<ContinuationToken>{escape(continuation_token)}</ContinuationToken>")
    if prefix is not None:
        parts.append(f"<Prefix>{escape(prefix)}</Prefix>")
    parts.append("</ListAllMyBucketsResult>")
    return "".join(parts).encode()
