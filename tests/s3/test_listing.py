"""ListObjectsV2 (and v1) as a k-way merge over shards: prefixes, delimiters, pages, continuation."""

import pytest


@pytest.fixture(scope="module")
def big_bucket(server):
    """5,000 keys over both shards: 50 folders x 100 files, plus top-level files."""
    s3 = server.client()
    s3.create_bucket(Bucket="listing-5000")
    from concurrent.futures import ThreadPoolExecutor
    keys = [f"dir{d:02d}/file{f:03d}" for d in range(50) for f in range(99)] + [f"top{i:02d}" for i in range(50)]
    clients = [server.client() for _ in range(16)]

    def put(i):
        clients[i % 16].put_object(Bucket="listing-5000", Key=keys[i], Body=b"")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(len(keys))))
    return sorted(keys)


def all_pages(s3, **kw):
    contents, prefixes, pages, token = [], [], 0, None
    while True:
        args = dict(Bucket="listing-5000", **kw)
        if token:
            args["ContinuationToken"] = token
        r = s3.list_objects_v2(**args)
        pages += 1
        contents += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert r["KeyCount"] == len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            return contents, prefixes, pages
        token = r["NextContinuationToken"]


def test_paging_through_5000_keys_returns_each_once_in_order(s3, big_bucket):
    contents, prefixes, pages = all_pages(s3, MaxKeys=700)
    assert contents == big_bucket
    assert prefixes == []
    assert pages == 8


def test_default_page_is_1000_keys(s3, big_bucket):
    r = s3.list_objects_v2(Bucket="listing-5000")
    assert r["KeyCount"] == 1000 and r["IsTruncated"]
    assert [o["Key"] for o in r["Contents"]] == big_bucket[:1000]


def test_delimiter_rolls_up_folders_into_common_prefixes_across_pages(s3, big_bucket):
    contents, prefixes, pages = all_pages(s3, Delimiter="/", MaxKeys=7)
    assert prefixes == [f"dir{d:02d}/" for d in range(50)]
    assert contents == [f"top{i:02d}" for i in range(50)]
    assert pages == 15  # 100 entries in pages of 7


def test_prefix_and_delimiter_list_one_folder(s3, big_bucket):
    contents, prefixes, _ = all_pages(s3, Prefix="dir07/", Delimiter="/", MaxKeys=1000)
    assert contents == [f"dir07/file{f:03d}" for f in range(99)]
    assert prefixes == []


def test_prefix_without_matches_is_empty_and_not_truncated(s3, big_bucket):
    r = s3.list_objects_v2(Bucket="listing-5000", Prefix="nothing-here")
    assert r["KeyCount"] == 0 and not r["IsTruncated"] and "Contents" not in r


def test_start_after_skips_keys_up_to_and_including_it(s3, big_bucket):
    r = s3.list_objects_v2(Bucket="listing-5000", StartAfter="dir49/file097", MaxKeys=3)
    assert [o["Key"] for o in r["Contents"]] == ["dir49/file098", "top00", "top01"]


def test_max_keys_zero_returns_nothing(s3, big_bucket):
    r = s3.list_objects_v2(Bucket="listing-5000", MaxKeys=0)
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_exactly_page_sized_result_is_not_truncated(s3, bucket):
    for i in range(10):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"")
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=10)
    assert r["KeyCount"] == 10 and not r["IsTruncated"]


def test_key_that_is_also_a_prefix_is_listed_beside_its_folder(s3, bucket):
    for k in ("a", "a/", "a/b", "a/c/d", "a+b", "a.b", "b"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a", "a+b", "a.b", "b"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/", "a/b"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/c/"]


def test_list_objects_v1_pages_with_next_marker(s3, big_bucket):
    r = s3.list_objects(Bucket="listing-5000", Delimiter="/", MaxKeys=30)
    assert r["IsTruncated"] and r["NextMarker"] == "dir29/"
    r2 = s3.list_objects(Bucket="listing-5000", Delimiter="/", Marker=r["NextMarker"], MaxKeys=30)
    assert [p["Prefix"] for p in r2["CommonPrefixes"]][0] == "dir30/"


def test_listing_reports_size_etag_and_url_encoding(s3, bucket):
    s3.put_object(Bucket=bucket, Key="sp ace/ü", Body=b"12345")
    r = s3.list_objects_v2(Bucket=bucket)  # boto3 asks for EncodingType=url and decodes it
    obj = r["Contents"][0]
    assert obj["Key"] == "sp ace/ü" and obj["Size"] == 5 and obj["StorageClass"] == "STANDARD"
