"""Incremental checksums S3 clients send (x-amz-checksum-*), and the MD5 ETag: pure, no I/O.

Values travel base64-encoded of the big-endian digest, as in the S3 API. The CRCs come from awscrt (the AWS
SDKs' own native checksum library, 2-3x the `crc32c` package and the only fast CRC64NVME for Python).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from awscrt import checksums as _crt

from .errors import S3Error

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
DIGEST_SIZE = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
HEADER_PREFIX = "x-amz-checksum-"


class _Crc:
    __slots__ = ("_fn", "_value", "_size")

    def __init__(self, fn, size: int) -> None:
        self._fn = fn
        self._value = 0
        self._size = size

    def update(self, data) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


_CRCS = {"CRC32": _crt.crc32, "CRC32C": _crt.crc32c, "CRC64NVME": _crt.crc64nvme}


def hasher(algorithm: str):
    """A fresh incremental hasher for an S3 checksum algorithm name (upper case)."""
    fn = _CRCS.get(algorithm)
    if fn is not None:
        return _Crc(fn, DIGEST_SIZE[algorithm])
    if algorithm == "SHA1":
        return hashlib.sha1()
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(algorithm)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def header_name(algorithm: str) -> str:
    return HEADER_PREFIX + algorithm.lower()


def check_value(algorithm: str, value: str) -> str:
    """A checksum header value must be the base64 of exactly one digest of its algorithm (S3: InvalidRequest)."""
    try:
        ok = len(base64.b64decode(value, validate=True)) == DIGEST_SIZE[algorithm]
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise S3Error("InvalidRequest", f"Value for {header_name(algorithm)} header is invalid.")
    return value


def from_headers(headers: dict) -> tuple[str | None, str | None]:
    """The checksum a write request declares: (algorithm, value), value None when it comes as an aws-chunked
    trailer or is left for us to compute (x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm alone).

    S3's rules: at most one x-amz-checksum-<algo> header; an SDK algorithm header naming another algorithm than
    the value header is invalid; a value must decode to one digest; unknown algorithms are refused.
    """
    algo = (headers.get("x-amz-checksum-algorithm") or headers.get("x-amz-sdk-checksum-algorithm") or "").upper()
    given = [name for name in ALGORITHMS if header_name(name) in headers]
    if len(given) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                                        "not allowed.")
    if given:
        name = given[0]
        if algo and algo != name:
            raise S3Error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
        return name, check_value(name, headers[header_name(name)])
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    for name in ALGORITHMS:
        if trailer == header_name(name):
            if algo and algo != name:
                raise S3Error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
            return name, None
    if trailer.startswith(HEADER_PREFIX) or (algo and algo not in ALGORITHMS):
        raise S3Error("InvalidRequest", f"Checksum algorithm {algo or trailer} is not supported.")
    return (algo or None), None
