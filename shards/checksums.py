"""Incremental checksums S3 clients send (x-amz-checksum-*), and the MD5 ETag: pure, no I/O.

Values travel base64-encoded of the big-endian digest, as in the S3 API.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import crc32c as _crc32c

ALGORITHMS = ("CRC32", "CRC32C", "SHA1", "SHA256")


class _Crc:
    __slots__ = ("_fn", "_value")

    def __init__(self, fn) -> None:
        self._fn = fn
        self._value = 0

    def update(self, data) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def _crc32c_fn(data, value):
    return _crc32c.crc32c(data, value=value)


def hasher(algorithm: str):
    """A fresh incremental hasher for an S3 checksum algorithm name (upper case)."""
    if algorithm == "CRC32":
        return _Crc(zlib.crc32)
    if algorithm == "CRC32C":
        return _Crc(_crc32c_fn)
    if algorithm == "SHA1":
        return hashlib.sha1()
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(algorithm)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def header_name(algorithm: str) -> str:
    return "x-amz-checksum-" + algorithm.lower()
