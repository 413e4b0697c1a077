"""Pure multipart arithmetic: CRC combination, multipart ETags, composite and full-object checksums, checksum
types, part ranges — table-driven against reference implementations."""

import base64
import hashlib
import os
import zlib

import crc32c
import pytest

from shards import multipart_checksums as mc
from shards.errors import S3Error


def crc64nvme(data: bytes) -> int:
    """Bitwise reference CRC-64/NVME (check value of b"123456789" is 0xae8b14860a799888)."""
    poly, crc = mc.CRCS["CRC64NVME"][1], 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFFFFFFFFFF


CRC_FUNCTIONS = {"CRC32": zlib.crc32, "CRC32C": crc32c.crc32c, "CRC64NVME": crc64nvme}


def test_reference_crc64nvme_matches_the_catalogue_check_value():
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888


@pytest.mark.parametrize("algo", sorted(CRC_FUNCTIONS))
@pytest.mark.parametrize("len_a,len_b", [(0, 0), (0, 7), (7, 0), (1, 1), (100, 3), (3, 1000), (4096, 777)])
def test_crc_combine_equals_the_crc_of_the_concatenation(algo, len_a, len_b):
    fn = CRC_FUNCTIONS[algo]
    a, b = os.urandom(len_a), os.urandom(len_b)
    assert mc.crc_combine(algo, fn(a), fn(b), len_b) == fn(a + b)


def test_crc_combine_handles_part_sized_lengths():
    a, b = os.urandom(1000), os.urandom(5 << 20)
    assert mc.crc_combine("CRC32", zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def b64(n: int, width: int) -> str:
    return base64.b64encode(n.to_bytes(width, "big")).decode()


@pytest.mark.parametrize("algo,width", [("CRC32", 4), ("CRC32C", 4), ("CRC64NVME", 8)])
def test_full_object_checksum_of_three_parts_is_the_whole_crc(algo, width):
    fn = CRC_FUNCTIONS[algo]
    parts = [os.urandom(n) for n in (300, 1, 4000)]
    got = mc.full_object(algo, [(b64(fn(p), width), len(p)) for p in parts])
    assert got == b64(fn(b"".join(parts)), width)


def test_multipart_etag_is_md5_of_binary_md5s_with_part_count():
    parts = [b"a", b"bb", b"ccc"]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert mc.multipart_etag(md5s) == expected


def test_composite_sha256_is_sha256_of_the_part_digests_with_count():
    parts = [b"one", b"two"]
    values = [base64.b64encode(hashlib.sha256(p).digest()).decode() for p in parts]
    digest = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert mc.composite("SHA256", values) == base64.b64encode(digest).decode() + "-2"


def test_composite_of_an_invalid_base64_value_is_invalid_request():
    with pytest.raises(S3Error) as e:
        mc.composite("CRC32", ["***"])
    assert e.value.code == "InvalidRequest"


@pytest.mark.parametrize("algo,requested,expected", [
    (None, None, None),
    ("CRC32", None, "COMPOSITE"),
    ("CRC32C", "full_object", "FULL_OBJECT"),
    ("SHA1", "COMPOSITE", "COMPOSITE"),
    ("CRC64NVME", None, "FULL_OBJECT"),
])
def test_checksum_type_in_force(algo, requested, expected):
    assert mc.checksum_type_for(algo, requested) == expected


@pytest.mark.parametrize("algo,requested", [(None, "COMPOSITE"), ("SHA256", "FULL_OBJECT"),
                                            ("CRC64NVME", "COMPOSITE"), ("CRC32", "BOTH")])
def test_checksum_type_refusals_are_invalid_request(algo, requested):
    with pytest.raises(S3Error) as e:
        mc.checksum_type_for(algo, requested)
    assert e.value.code == "InvalidRequest"


PARTS = [{"size": 5}, {"size": 3}, {"size": 0}, {"size": 2}]


@pytest.mark.parametrize("parts,size,number,expected", [
    (PARTS, 10, 1, (0, 4)),
    (PARTS, 10, 2, (5, 7)),
    (PARTS, 10, 3, None),  # an empty part has no range
    (PARTS, 10, 4, (8, 9)),
    (None, 7, 1, (0, 6)),  # a plain object is its own single part
    (None, 0, 1, None),
])
def test_part_range(parts, size, number, expected):
    assert mc.part_range(parts, size, number) == expected


@pytest.mark.parametrize("parts,number", [(PARTS, 5), (None, 2)])
def test_part_range_past_the_last_part_is_invalid_part_number(parts, number):
    with pytest.raises(S3Error) as e:
        mc.part_range(parts, 10, number)
    assert e.value.code == "InvalidPartNumber" and e.value.status == 416
