"""What a completed multipart object's ETag and checksums are, from its parts alone: pure, no I/O.

- ETag: MD5 over the parts' binary MD5s, hex, then ``-N``.
- COMPOSITE checksum: the algorithm over the parts' binary checksums, base64, then ``-N``.
- FULL_OBJECT checksum (CRC family only): the CRC of the whole object, obtained by combining the part CRCs
  with their lengths — the parts' bytes are never read again.

CRC combination works in GF(2): crc(A || B) = crc(A) * x^(8*len(B)) mod P  xor  crc(B), for the reflected
CRCs S3 uses (their init and final xor cancel out in that identity).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from . import checksums
from .errors import S3Error


def _reflect(value: int, width: int) -> int:
    return int(f"{value:0{width}b}"[::-1], 2)


# algorithm -> (width in bits, reflected polynomial)
CRCS = {
    "CRC32": (32, _reflect(0x04C11DB7, 32)),
    "CRC32C": (32, _reflect(0x1EDC6F41, 32)),
    "CRC64NVME": (64, _reflect(0xAD93D23594C93659, 64)),
}
COMPOSITE, FULL_OBJECT = "COMPOSITE", "FULL_OBJECT"


def _mulmod(a: int, b: int, poly: int, width: int) -> int:
    """a * b mod P, both polynomials in reflected bit order (x^0 is the top bit)."""
    product = 0
    bit = 1 << (width - 1)
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ poly if b & 1 else b >> 1
    return product


@lru_cache(maxsize=256)
def _x_pow_8n(n: int, poly: int, width: int) -> int:
    """x^(8n) mod P by square-and-multiply; cached because a multipart object's parts mostly share one size."""
    result = 1 << (width - 1)  # x^0: in reflected order x^k is bit (width - 1 - k)
    square = 1 << (width - 9)  # x^8, then x^16, x^32, ... as n's bits are consumed
    while n:
        if n & 1:
            result = _mulmod(result, square, poly, width)
        n >>= 1
        square = _mulmod(square, square, poly, width)
    return result


def crc_combine(algorithm: str, crc_a: int, crc_b: int, len_b: int) -> int:
    """The CRC of A || B from crc(A), crc(B) and len(B)."""
    width, poly = CRCS[algorithm]
    return _mulmod(_x_pow_8n(len_b, poly, width), crc_a, poly, width) ^ crc_b


def multipart_etag(part_md5s_hex: list[str]) -> str:
    joined = b"".join(bytes.fromhex(m) for m in part_md5s_hex)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_md5s_hex)}"


def _digest(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidRequest", f"Invalid checksum value {value!r}.") from None


def composite(algorithm: str, part_values: list[str]) -> str:
    """COMPOSITE checksum: the algorithm over the parts' binary checksums, ``-N``."""
    h = checksums.hasher(algorithm)
    for value in part_values:
        h.update(_digest(value))
    return f"{checksums.b64(h.digest())}-{len(part_values)}"


def full_object(algorithm: str, parts: list[tuple[str, int]]) -> str:
    """FULL_OBJECT checksum of a CRC family algorithm from (part checksum base64, part size) pairs."""
    width = CRCS[algorithm][0]
    crc = None
    for value, size in parts:
        part_crc = int.from_bytes(_digest(value), "big")
        crc = part_crc if crc is None else crc_combine(algorithm, crc, part_crc, size)
    return base64.b64encode((crc or 0).to_bytes(width // 8, "big")).decode()


def checksum_type_for(algorithm: str | None, requested: str | None) -> str | None:
    """Validate x-amz-checksum-type against the algorithm on CreateMultipartUpload; returns the type in force."""
    if requested is not None:
        requested = requested.upper()
        if requested not in (COMPOSITE, FULL_OBJECT):
            raise S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
        if algorithm is None:
            raise S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the "
                                            "x-amz-checksum-algorithm header.")
    if algorithm is None:
        return None
    kind = requested or (FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE)
    if kind == FULL_OBJECT and algorithm not in CRCS:
        raise S3Error("InvalidRequest", f"The FULL_OBJECT checksum type cannot be used with the "
                                        f"{algorithm.lower()} checksum algorithm.")
    if kind == COMPOSITE and algorithm == "CRC64NVME":
        raise S3Error("InvalidRequest", "The COMPOSITE checksum type cannot be used with the crc64nvme "
                                        "checksum algorithm.")
    return kind


def part_range(parts: list[dict] | None, size: int, number: int) -> tuple[int, int] | None:
    """Inclusive byte range of part ``number`` (1-based position in the completed object's part list).

    An object that was not uploaded in parts has one part, itself. Returns None when that part is empty
    (nothing to range over); raises InvalidPartNumber past the last part.
    """
    if not parts:
        if number != 1:
            raise S3Error("InvalidPartNumber", PartNumberRequested=str(number), ActualPartCount="1")
        return (0, size - 1) if size else None
    if number > len(parts):
        raise S3Error("InvalidPartNumber", PartNumberRequested=str(number), ActualPartCount=str(len(parts)))
    start = sum(p["size"] for p in parts[:number - 1])
    length = parts[number - 1]["size"]
    return (start, start + length - 1) if length else None
