"""Helpers shared by the multipart test files: upload parts, complete them, read error codes."""

from __future__ import annotations

import hashlib
import os

MIN_PART = 5 << 20
BIG = os.urandom(MIN_PART)  # one 5 MiB body reused by every test that needs a full-size part


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def start(s3, bucket: str, key: str, parts: list[bytes], **create) -> tuple[str, list[dict]]:
    """Create an upload and upload ``parts`` as numbers 1..n; returns (upload id, CompletedPart dicts)."""
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for n, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=body,
                           **({"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create
                              else {}))
        part = {"PartNumber": n, "ETag": r["ETag"]}
        part.update({k: v for k, v in r.items() if k.startswith("Checksum") and k != "ChecksumType"})
        done.append(part)
    return uid, done


def finish(s3, bucket: str, key: str, uid: str, parts: list[dict], **kwargs) -> dict:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts},
                                        **kwargs)


def put_multipart(s3, bucket: str, key: str, parts: list[bytes], **create) -> dict:
    uid, done = start(s3, bucket, key, parts, **create)
    return finish(s3, bucket, key, uid, done)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(*parts: bytes) -> str:
    return f'"{hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()}-{len(parts)}"'
