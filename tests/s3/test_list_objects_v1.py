"""ListObjects (v1): Marker, NextMarker (returned only with a delimiter), IsTruncated, Owner, max-keys, encoding."""

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def put(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")


def keys_of(r) -> list[str]:
    return [o["Key"] for o in r.get("Contents", [])]


def prefixes_of(r) -> list[str]:
    return [p["Prefix"] for p in r.get("CommonPrefixes", [])]


def error_code(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


KEYS = ["a", "b/1", "b/2", "c", "d/1", "e", "f"]


def test_marker_is_echoed_and_listing_starts_after_it(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, Marker="b/1")
    assert r["Marker"] == "b/1" and keys_of(r) == ["b/2", "c", "d/1", "e", "f"]


def test_no_marker_is_echoed_empty(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket)
    assert r["Marker"] == "" and keys_of(r) == KEYS and r["IsTruncated"] is False


def test_marker_beyond_the_last_key_is_empty_and_not_truncated(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, Marker="zzz")
    assert keys_of(r) == [] and r["IsTruncated"] is False


def test_truncated_without_a_delimiter_has_no_next_marker(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, MaxKeys=3)
    assert r["IsTruncated"] is True and keys_of(r) == ["a", "b/1", "b/2"] and "NextMarker" not in r


def test_paging_with_the_last_key_as_marker_lists_every_key_once(s3, bucket):
    put(s3, bucket, KEYS)
    seen, marker = [], ""
    while True:
        r = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker=marker)
        seen += keys_of(r)
        if not r["IsTruncated"]:
            break
        marker = keys_of(r)[-1]
    assert seen == KEYS


def test_truncated_with_a_delimiter_returns_next_marker_naming_the_last_entry(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert r["IsTruncated"] and keys_of(r) == ["a"] and prefixes_of(r) == ["b/"] and r["NextMarker"] == "b/"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=r["NextMarker"])
    assert keys_of(r) == ["c"] and prefixes_of(r) == ["d/"] and r["NextMarker"] == "d/"


def test_paging_with_next_marker_and_delimiter_visits_every_entry_once(s3, bucket):
    put(s3, bucket, KEYS)
    seen, marker = [], ""
    while True:
        r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker=marker)
        seen += keys_of(r) + prefixes_of(r)
        if not r["IsTruncated"]:
            assert "NextMarker" not in r
            break
        marker = r["NextMarker"]
    assert seen == ["a", "b/", "c", "d/", "e", "f"]


def test_not_truncated_with_a_delimiter_has_no_next_marker(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert r["IsTruncated"] is False and "NextMarker" not in r


def test_exactly_page_sized_result_is_not_truncated(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, MaxKeys=len(KEYS))
    assert r["IsTruncated"] is False and keys_of(r) == KEYS


def test_marker_that_is_a_common_prefix_skips_everything_under_it(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, Delimiter="/", Marker="b/")
    assert keys_of(r) == ["c", "e", "f"] and prefixes_of(r) == ["d/"]


def test_marker_with_a_prefix(s3, bucket):
    put(s3, bucket, ["p/1", "p/2", "p/3", "q/1"])
    r = s3.list_objects(Bucket=bucket, Prefix="p/", Marker="p/1")
    assert keys_of(r) == ["p/2", "p/3"] and r["Prefix"] == "p/"


def test_v1_always_reports_the_owner(server, s3, bucket):
    put(s3, bucket, ["k"])
    r = s3.list_objects(Bucket=bucket)
    assert r["Contents"][0]["Owner"]["ID"] == server.access_key


def test_max_keys_zero_is_empty_and_not_truncated(s3, bucket):
    put(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, MaxKeys=0)
    assert keys_of(r) == [] and r["IsTruncated"] is False and r["MaxKeys"] == 0


@pytest.mark.parametrize("value", ["-1", "x"])
def test_bad_max_keys_is_invalid_argument(server, bucket, value):
    r = raw.signed(server, "GET", f"/{bucket}?max-keys={value}")
    assert r.status == 400 and error_code(r.body) == "InvalidArgument"


def test_encoding_type_url_encodes_marker_and_next_marker(server, s3, bucket):
    put(s3, bucket, ["a b/1", "a b/2", "c d/1"])
    r = raw.signed(server, "GET", f"/{bucket}?encoding-type=url&delimiter=%2F&max-keys=1&marker=%20")
    assert r.status == 200
    assert b"<Marker>%20</Marker>" in r.body and b"<NextMarker>a%20b/</NextMarker>" in r.body
    assert b"<IsTruncated>true</IsTruncated>" in r.body


def test_boto3_decodes_url_encoded_v1_listings(s3, bucket):
    put(s3, bucket, ["sp ace", "pl+us", "ü/x"])
    r = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert keys_of(r) == ["pl+us", "sp ace"] and prefixes_of(r) == ["ü/"]


def test_unicode_keys_in_utf8_byte_order(s3, bucket):
    keys = ["é", "z", "😀", "\uffee", "a"]
    put(s3, bucket, keys)
    assert keys_of(s3.list_objects(Bucket=bucket)) == sorted(keys, key=lambda k: k.encode("utf-8"))


def test_paginator_over_v1_lists_everything(s3, bucket):
    keys = [f"k{i:02d}" for i in range(25)]
    put(s3, bucket, keys)
    got = [k for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7})
           for k in keys_of(page)]
    assert got == keys


def test_v1_listing_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.list_objects(Bucket="no-such-bucket-v1")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
