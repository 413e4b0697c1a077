"""S3 XML of the multipart operations: rendering (pure string templates over escaped values) and the
CompleteMultipartUpload request body's parsing and validation."""

from __future__ import annotations

from xml.sax.saxutils import escape

from shards.errors import S3Error

from .xml import DECL, NS, _enc, common_prefix, child_text, iso8601, parse

MAX_PARTS = 10000
CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


def _checksums(cks: dict | None) -> str:
    return "".join(f"<Checksum{a}>{escape(v)}</Checksum{a}>" for a, v in (cks or {}).items())


def _person(tag: str, who: str) -> str:
    return f"<{tag}><ID>{escape(who)}</ID><DisplayName>{escape(who)}</DisplayName></{tag}>"


def initiate(bucket: str, key: str, upload_id: str) -> bytes:
    return (f'{DECL}<InitiateMultipartUploadResult xmlns="{NS}"><Bucket>{escape(bucket)}</Bucket>'
            f"<Key>{escape(key)}</Key><UploadId>{escape(upload_id)}</UploadId>"
            f"</InitiateMultipartUploadResult>").encode()


def copy_part(etag: str, mtime: float, cks: dict | None) -> bytes:
    return (f'{DECL}<CopyPartResult xmlns="{NS}"><LastModified>{iso8601(mtime)}</LastModified>'
            f"<ETag>&quot;{etag}&quot;</ETag>{_checksums(cks)}</CopyPartResult>").encode()


def complete(location: str, bucket: str, key: str, etag: str, cks: dict | None, ckt: str | None) -> bytes:
    kind = f"<ChecksumType>{ckt}</ChecksumType>" if ckt else ""
    return (f'{DECL}<CompleteMultipartUploadResult xmlns="{NS}"><Location>{escape(location)}</Location>'
            f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>&quot;{etag}&quot;</ETag>"
            f"{_checksums(cks)}{kind}</CompleteMultipartUploadResult>").encode()


def _algorithm(info: dict) -> str:
    out = f"<ChecksumAlgorithm>{info['algo']}</ChecksumAlgorithm>" if info.get("algo") else ""
    return out + (f"<ChecksumType>{info['ckt']}</ChecksumType>" if info.get("ckt") else "")


def list_parts(*, bucket: str, key: str, upload_id: str, marker: int, max_parts: int, reply: dict) -> bytes:
    info = reply["upload"]
    parts = "".join(
        f"<Part><PartNumber>{p['n']}</PartNumber><LastModified>{iso8601(p['mtime'])}</LastModified>"
        f"<ETag>&quot;{p['etag']}&quot;</ETag><Size>{p['size']}</Size>{_checksums(p.get('cks'))}</Part>"
        for p in reply["parts"])
    nxt = f"<NextPartNumberMarker>{reply['next']}</NextPartNumberMarker>" if reply["next"] is not None else ""
    return (f'{DECL}<ListPartsResult xmlns="{NS}"><Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>'
            f"<UploadId>{escape(upload_id)}</UploadId><PartNumberMarker>{marker}</PartNumberMarker>{nxt}"
            f"<MaxParts>{max_parts}</MaxParts><IsTruncated>{'true' if reply['truncated'] else 'false'}"
            f"</IsTruncated>{parts}{_person('Initiator', info['owner'])}{_person('Owner', info['owner'])}"
            f"<StorageClass>{info.get('sc') or 'STANDARD'}</StorageClass>{_algorithm(info)}"
            f"</ListPartsResult>").encode()


def list_uploads(*, bucket: str, prefix: str, delimiter: str, key_marker: str, upload_id_marker: str,
                 max_uploads: int, items: list, truncated: bool, url: bool) -> bytes:
    parts = [f'{DECL}<ListMultipartUploadsResult xmlns="{NS}"><Bucket>{escape(bucket)}</Bucket>'
             f"<KeyMarker>{_enc(key_marker, url)}</KeyMarker>"
             f"<UploadIdMarker>{escape(upload_id_marker)}</UploadIdMarker>"]
    if truncated and items:
        last, info = items[-1]
        parts.append(f"<NextKeyMarker>{_enc(last, url)}</NextKeyMarker>"
                     f"<NextUploadIdMarker>{escape(info['id']) if info else ''}</NextUploadIdMarker>")
    parts.append(f"<Prefix>{_enc(prefix, url)}</Prefix>")
    if delimiter:
        parts.append(f"<Delimiter>{_enc(delimiter, url)}</Delimiter>")
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    parts.append(f"<MaxUploads>{max_uploads}</MaxUploads>"
                 f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
    prefixes = []
    for name, info in items:
        if info is None:
            prefixes.append(common_prefix(name, url))
        else:
            parts.append(f"<Upload><Key>{_enc(name, url)}</Key><UploadId>{escape(info['id'])}</UploadId>"
                         f"{_person('Initiator', info['owner'])}{_person('Owner', info['owner'])}"
                         f"<StorageClass>{info.get('sc') or 'STANDARD'}</StorageClass>"
                         f"<Initiated>{iso8601(info['initiated'])}</Initiated>{_algorithm(info)}</Upload>")
    return "".join((*parts, *prefixes, "</ListMultipartUploadsResult>")).encode()


def parse_complete(body: bytes) -> list[list]:
    """The CompleteMultipartUpload part list as [[number, etag, {algorithm: checksum}], ...], checked the way S3
    checks it before looking at any part: well-formed, non-empty, at most 10,000, strictly ascending."""
    doc = parse(body, "CompleteMultipartUpload")
    out: list[list] = []
    for elem in doc:
        tag = elem.tag.rpartition("}")[2]
        if tag != "Part":
            raise S3Error("MalformedXML")
        number, etag = child_text(elem, "PartNumber"), child_text(elem, "ETag")
        if number is None or etag is None:
            raise S3Error("MalformedXML")
        try:
            n = int(number.strip())
        except ValueError:
            raise S3Error("MalformedXML") from None
        cks = {a: v.strip() for a in CHECKSUM_ALGORITHMS if (v := child_text(elem, f"Checksum{a}")) is not None}
        if out and n <= out[-1][0]:
            raise S3Error("InvalidPartOrder")
        out.append([n, etag.strip(), cks])
    if not out or len(out) > MAX_PARTS:
        raise S3Error("MalformedXML")
    return out
