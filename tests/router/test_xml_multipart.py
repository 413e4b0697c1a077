"""CompleteMultipartUpload body parsing and the multipart XML documents (pure functions)."""

import pytest

from router import xml_multipart as xmp
from router.ops_multipart import parse_copy_range, parse_copy_source, part_number
from shards.errors import S3Error

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def doc(*parts: str, ns: str = NS) -> bytes:
    return f"<CompleteMultipartUpload {ns}>{''.join(parts)}</CompleteMultipartUpload>".encode()


def part(n, etag='"abc"', extra=""):
    return f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>{extra}</Part>"


@pytest.mark.parametrize("body,expected", [
    (doc(part(1)), [[1, '"abc"', {}]]),
    (doc(part(1), part(3), ns=""), [[1, '"abc"', {}], [3, '"abc"', {}]]),
    (doc(part(2, "abc", "<ChecksumCRC32>AAAAAA==</ChecksumCRC32>")), [[2, "abc", {"CRC32": "AAAAAA=="}]]),
    (doc(part(" 4 ")), [[4, '"abc"', {}]]),
])
def test_parse_complete_accepts(body, expected):
    assert xmp.parse_complete(body) == expected


@pytest.mark.parametrize("body,code", [
    (doc(), "MalformedXML"),
    (b"<CompleteMultipartUpload>", "MalformedXML"),
    (doc("<Other/>"), "MalformedXML"),
    (doc("<Part><ETag>x</ETag></Part>"), "MalformedXML"),
    (doc("<Part><PartNumber>1</PartNumber></Part>"), "MalformedXML"),
    (doc(part("one")), "MalformedXML"),
    (b"<Wrong></Wrong>", "MalformedXML"),
    (doc(part(2), part(1)), "InvalidPartOrder"),
    (doc(part(1), part(1)), "InvalidPartOrder"),
    (doc(*(part(n) for n in range(1, 10002))), "MalformedXML"),
])
def test_parse_complete_refuses(body, code):
    with pytest.raises(S3Error) as e:
        xmp.parse_complete(body)
    assert e.value.code == code


@pytest.mark.parametrize("raw,expected", [("1", 1), ("10000", 10000)])
def test_part_number_accepts_1_to_10000(raw, expected):
    assert part_number(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "0", "10001", "-1", "x", "1.5"])
def test_part_number_refuses_everything_else(raw):
    with pytest.raises(S3Error) as e:
        part_number(raw)
    assert e.value.code == "InvalidArgument"


@pytest.mark.parametrize("raw,expected", [
    ("bkt/key", ("bkt", "key", None)),
    ("/bkt/a/b%20c", ("bkt", "a/b c", None)),
    ("bkt/k?versionId=abc", ("bkt", "k", "abc")),
])
def test_parse_copy_source(raw, expected):
    assert parse_copy_source(raw) == expected


@pytest.mark.parametrize("raw", ["bkt", "/bkt/", "bkt/k?other=1", "bkt/k?versionId="])
def test_parse_copy_source_refusals(raw):
    with pytest.raises(S3Error) as e:
        parse_copy_source(raw)
    assert e.value.code == "InvalidArgument"


@pytest.mark.parametrize("raw,expected", [(None, None), ("bytes=0-0", (0, 0)), ("bytes=10-99", (10, 99))])
def test_parse_copy_range(raw, expected):
    assert parse_copy_range(raw) == expected


@pytest.mark.parametrize("raw", ["bytes=5-", "bytes=-5", "bytes=9-3", "items=0-1", "bytes=a-b", "bytes=0-1,3-4"])
def test_parse_copy_range_accepts_only_first_last(raw):
    with pytest.raises(S3Error) as e:
        parse_copy_range(raw)
    assert e.value.code == "InvalidArgument"


def test_list_uploads_document_names_next_markers_only_when_truncated():
    info = {"id": "U1", "initiated": 0.0, "owner": "me", "sc": None, "algo": "CRC32", "ckt": "COMPOSITE"}
    common = dict(bucket="b", prefix="", delimiter="", key_marker="", upload_id_marker="", max_uploads=1,
                  items=[["k&1", info]], url=False)
    body = xmp.list_uploads(truncated=True, **common).decode()
    assert "<NextKeyMarker>k&amp;1</NextKeyMarker><NextUploadIdMarker>U1</NextUploadIdMarker>" in body
    assert "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>" in body
    assert "NextKeyMarker" not in xmp.list_uploads(truncated=False, **common).decode()
