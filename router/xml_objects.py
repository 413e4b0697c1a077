"""XML of the object operations beyond GET/PUT: ListObjectVersions, CopyObject, DeleteObjects, object tagging,
GetObjectAttributes. Pure functions: parsing request documents into plain data and rendering responses."""

from __future__ import annotations

from xml.sax.saxutils import escape

from shards import checksums
from shards.errors import S3Error

from .xml import DECL, NS, _enc, common_prefix, _owner, child_text, iso8601, parse

MAX_DELETE_KEYS = 1000


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --- ListObjectVersions -----------------------------------------------------------------------------------------

def _version(key: str, v: dict, url: bool, owner: str) -> str:
    common = (f"<Key>{_enc(key, url)}</Key><VersionId>{escape(v['vid'])}</VersionId>"
              f"<IsLatest>{_bool(v['latest'])}</IsLatest><LastModified>{iso8601(v['mtime'])}</LastModified>")
    if v.get("dm"):
        return f"<DeleteMarker>{common}{_owner(owner)}</DeleteMarker>"
    return (f"<Version>{common}<ETag>&quot;{v['etag']}&quot;</ETag><Size>{v['size']}</Size>"
            f"<StorageClass>{v.get('sc') or 'STANDARD'}</StorageClass>{_owner(owner)}</Version>")


def list_versions(*, bucket: str, prefix: str, delimiter: str, max_keys: int, key_marker: str, vid_marker: str,
                  items: list, truncated: bool, url: bool, owner: str) -> bytes:
    parts = [f'{DECL}<ListVersionsResult xmlns="{NS}"><Name>{escape(bucket)}</Name>'
             f"<Prefix>{_enc(prefix, url)}</Prefix><KeyMarker>{_enc(key_marker, url)}</KeyMarker>"
             f"<VersionIdMarker>{escape(vid_marker)}</VersionIdMarker>"]
    if truncated and items:
        name, last = items[-1]
        parts.append(f"<NextKeyMarker>{_enc(name, url)}</NextKeyMarker>")
        if last is not None:
            parts.append(f"<NextVersionIdMarker>{escape(last['vid'])}</NextVersionIdMarker>")
    parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        parts.append(f"<Delimiter>{_enc(delimiter, url)}</Delimiter>")
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts.append(f"<IsTruncated>{_bool(truncated)}</IsTruncated>")
    prefixes = []
    for name, v in items:
        if v is None:
            prefixes.append(common_prefix(name, url))
        else:
            parts.append(_version(name, v, url, owner))
    return "".join((*parts, *prefixes, "</ListVersionsResult>")).encode()


# --- CopyObject -------------------------------------------------------------------------------------------------

def _checksum_elements(cks: dict | None) -> str:
    return "".join(f"<Checksum{algo}>{escape(value)}</Checksum{algo}>" for algo, value in (cks or {}).items()
                   if algo in checksums.ALGORITHMS)


def copy_result(etag: str, mtime: float, cks: dict | None) -> bytes:
    return (f'{DECL}<CopyObjectResult xmlns="{NS}"><LastModified>{iso8601(mtime)}</LastModified>'
            f"<ETag>&quot;{etag}&quot;</ETag>{_checksum_elements(cks)}</CopyObjectResult>").encode()


# --- DeleteObjects ----------------------------------------------------------------------------------------------

def parse_delete(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    """(quiet, [(key, version id or None), ...]) of a Delete document; 1 to 1,000 objects."""
    doc = parse(body, "Delete")
    quiet = (child_text(doc, "Quiet") or "").strip().lower() == "true"
    objects = []
    for elem in doc:
        if elem.tag.rsplit("}", 1)[-1] != "Object":
            continue
        key = child_text(elem, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        objects.append((key, child_text(elem, "VersionId")))
        if len(objects) > MAX_DELETE_KEYS:
            raise S3Error("MalformedXML")
    if not objects:
        raise S3Error("MalformedXML")
    return quiet, objects


def delete_result(results: list[tuple[str, str | None, dict]], quiet: bool) -> bytes:
    """``results``: (key, requested version id, shard reply or {"error", "message"}) in request order."""
    out = [f'{DECL}<DeleteResult xmlns="{NS}">']
    for key, vid, r in results:
        version = f"<VersionId>{escape(vid)}</VersionId>" if vid is not None else ""
        if "error" in r:
            out.append(f"<Error><Key>{escape(key)}</Key>{version}<Code>{r['error']}</Code>"
                       f"<Message>{escape(r.get('message') or '')}</Message></Error>")
        elif not quiet:
            marker = ""
            if r.get("dm"):
                marker = ("<DeleteMarker>true</DeleteMarker>"
                          f"<DeleteMarkerVersionId>{escape(r['vid'])}</DeleteMarkerVersionId>")
            out.append(f"<Deleted><Key>{escape(key)}</Key>{version}{marker}</Deleted>")
    out.append("</DeleteResult>")
    return "".join(out).encode()


# --- GetObjectAttributes ----------------------------------------------------------------------------------------

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def _checksum_type(entry: dict) -> str:
    if entry.get("ckt"):
        return entry["ckt"]
    return "COMPOSITE" if any("-" in v for v in entry["cks"].values()) else "FULL_OBJECT"


def _parts(parts: list, marker: int, max_parts: int) -> str:
    after = [p for p in parts if p["n"] > marker]
    page = after[:max_parts]
    truncated = len(after) > max_parts
    out = [f"<IsTruncated>{_bool(truncated)}</IsTruncated><MaxParts>{max_parts}</MaxParts>"
           f"<PartNumberMarker>{marker}</PartNumberMarker>"]
    if page:
        out.append(f"<NextPartNumberMarker>{page[-1]['n']}</NextPartNumberMarker>")
    for p in page:
        out.append(f"<Part>{_checksum_elements(p.get('cks'))}<PartNumber>{p['n']}</PartNumber>"
                   f"<Size>{p['size']}</Size></Part>")
    out.append(f"<PartsCount>{len(parts)}</PartsCount>")
    return "".join(out)


def object_attributes(entry: dict, parts: list | None, wanted: set, max_parts: int, marker: int) -> bytes:
    out = [f'{DECL}<GetObjectAttributesResponse xmlns="{NS}">']
    if "ETag" in wanted:
        out.append(f"<ETag>{entry['etag']}</ETag>")
    if "Checksum" in wanted and entry.get("cks"):
        out.append(f"<Checksum>{_checksum_elements(entry['cks'])}"
                   f"<ChecksumType>{_checksum_type(entry)}</ChecksumType></Checksum>")
    if "ObjectParts" in wanted and parts:
        out.append(f"<ObjectParts>{_parts(parts, marker, max_parts)}</ObjectParts>")
    if "StorageClass" in wanted:
        out.append(f"<StorageClass>{entry.get('sc') or 'STANDARD'}</StorageClass>")
    if "ObjectSize" in wanted:
        out.append(f"<ObjectSize>{entry['size']}</ObjectSize>")
    out.append("</GetObjectAttributesResponse>")
    return "".join(out).encode()
