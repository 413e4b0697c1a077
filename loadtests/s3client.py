"""A lean SigV4 header signer for load tests: boto3 spends ~1 ms of client CPU per request, which would make
locust measure itself. Signs with Cairn's own SigV4 primitives (router/sigv4.py, checked against AWS's
published examples) and UNSIGNED-PAYLOAD, as many SDKs do over TLS."""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import quote, urlsplit

from router import sigv4

UNSIGNED = "UNSIGNED-PAYLOAD"


class Signer:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self.host = urlsplit(endpoint).netloc
        self.access_key, self.secret_key, self.region = access_key, secret_key, region

    def headers(self, method: str, path: str, query: str = "", extra: dict | None = None) -> dict:
        """Headers that sign ``method path?query`` (path already percent-encoded, as sent on the wire)."""
        now = time.time()
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        date = amz_date[:8]
        hdrs = {"host": self.host, "x-amz-date": amz_date, "x-amz-content-sha256": UNSIGNED}
        for k, v in (extra or {}).items():
            hdrs[k.lower()] = v
        signed = sorted(hdrs)
        canonical = sigv4.canonical_request(method, path, query, hdrs, signed, UNSIGNED)
        scope = f"{date}/{self.region}/s3/aws4_request"
        key = sigv4.signing_key(self.secret_key, date, self.region, "s3")
        signature = sigv4.sign(key, sigv4.string_to_sign(amz_date, scope, canonical))
        hdrs["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                 f"SignedHeaders={';'.join(signed)}, Signature={signature}")
        del hdrs["host"]
        return hdrs


def object_path(bucket: str, key: str) -> str:
    return f"/{bucket}/{quote(key, safe='/~')}"


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def multipart_upload(send, path: str, parts: list[bytes]):
    """CreateMultipartUpload, one UploadPart per item of ``parts``, CompleteMultipartUpload. ``send(method, path,
    query, body, name)`` makes one signed request and returns its response. Returns Complete's response, or
    None if the upload could not be created."""
    r = send("POST", path, "uploads", b"", "CreateMultipartUpload")
    m = re.search(rb"<UploadId>([^<]+)</UploadId>", r.content or b"")
    if not m:
        return None
    upload = m.group(1).decode()
    etags = [send("PUT", path, f"partNumber={n}&uploadId={upload}", data, "UploadPart").headers.get("etag", "")
             for n, data in enumerate(parts, 1)]
    xml = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)
    ) + "</CompleteMultipartUpload>"
    return send("POST", path, f"uploadId={upload}", xml.encode(), "CompleteMultipartUpload")
