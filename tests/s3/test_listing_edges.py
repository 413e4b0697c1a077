"""ListObjectsV2 edge cases as the S3 API reference describes them: max-keys bounds, ordering around the delimiter,
prefixes that are also keys, odd delimiters, unicode order (UTF-8 bytes), keys that need URL encoding, exact
pages, continuation tokens, StartAfter, FetchOwner, KeyCount, and pages taken while keys change."""

import base64
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from router.ring import Ring
from tests.support import raw

THOUSAND = "listing-edges-1005"


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def put_all(server, bucket: str, keys) -> None:
    clients = [server.client() for _ in range(8)]
    keys = list(keys)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: clients[i % 8].put_object(Bucket=bucket, Key=keys[i], Body=b""), range(len(keys))))


def listing(s3, bucket, **kw) -> tuple[list, list]:
    r = s3.list_objects_v2(Bucket=bucket, **kw)
    return [o["Key"] for o in r.get("Contents", [])], [p["Prefix"] for p in r.get("CommonPrefixes", [])]


def pages(s3, bucket, **kw) -> list[dict]:
    out, token = [], None
    while True:
        r = s3.list_objects_v2(Bucket=bucket, **kw, **({"ContinuationToken": token} if token else {}))
        out.append(r)
        if not r["IsTruncated"]:
            return out
        token = r["NextContinuationToken"]


def names(page: dict) -> list[str]:
    return sorted([o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])])


def error_code(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


@pytest.fixture(scope="module")
def thousand(server):
    s3 = server.client()
    s3.create_bucket(Bucket=THOUSAND)
    keys = [f"k{i:04d}" for i in range(1005)]
    put_all(server, THOUSAND, keys)
    return keys


# --- max-keys -----------------------------------------------------------------------------------------------------

def test_max_keys_zero_returns_no_keys_and_is_not_truncated(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=0)
    assert r["KeyCount"] == 0 and "Contents" not in r and r["MaxKeys"] == 0
    assert r["IsTruncated"] is False and "NextContinuationToken" not in r


def test_max_keys_one_returns_the_first_key_and_a_token(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=1)
    assert [o["Key"] for o in r["Contents"]] == ["k0000"] and r["KeyCount"] == 1
    assert r["IsTruncated"] and r["NextContinuationToken"]
    r2 = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=1, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == ["k0001"]
    assert r2["ContinuationToken"] == r["NextContinuationToken"]


def test_max_keys_1000_returns_1000_keys_and_is_truncated(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=1000)
    assert r["KeyCount"] == 1000 and r["IsTruncated"]
    assert [o["Key"] for o in r["Contents"]] == thousand[:1000]


def test_max_keys_above_1000_is_capped_at_1000(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=5000)
    assert r["KeyCount"] == 1000 and r["IsTruncated"]
    rest = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=5000, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == thousand[1000:] and not rest["IsTruncated"]


def test_default_page_is_1000_keys(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND)
    assert r["KeyCount"] == 1000 and r["MaxKeys"] == 1000 and r["IsTruncated"]


@pytest.mark.parametrize("value", ["-1", "-1000", "ten", "1.5"])
def test_max_keys_negative_or_not_an_integer_is_invalid_argument(server, thousand, value):
    r = raw.signed(server, "GET", f"/{THOUSAND}?list-type=2&max-keys={value}")
    assert r.status == 400 and error_code(r.body) == "InvalidArgument"


def test_invalid_encoding_type_is_invalid_argument(server, thousand):
    r = raw.signed(server, "GET", f"/{THOUSAND}?list-type=2&encoding-type=base64")
    assert r.status == 400 and error_code(r.body) == "InvalidArgument"


# --- ordering around the delimiter --------------------------------------------------------------------------------

SLASHY = ["a-", "a/", "a0", "a/b", "a//b", "a/b/c", "b"]


def test_keys_sorting_around_the_delimiter_roll_up_into_one_prefix(s3, bucket):
    put_all_small(s3, bucket, SLASHY)
    keys, prefixes = listing(s3, bucket, Delimiter="/")
    assert keys == ["a-", "a0", "b"] and prefixes == ["a/"]


def test_listing_under_a_prefix_rolls_up_doubled_delimiters(s3, bucket):
    put_all_small(s3, bucket, SLASHY)
    keys, prefixes = listing(s3, bucket, Prefix="a/", Delimiter="/")
    assert keys == ["a/", "a/b"] and prefixes == ["a//", "a/b/"]


def test_one_entry_pages_around_the_delimiter_follow_byte_order(s3, bucket):
    put_all_small(s3, bucket, SLASHY)
    seen = [names(p) for p in pages(s3, bucket, Delimiter="/", MaxKeys=1)]
    assert seen == [["a-"], ["a/"], ["a0"], ["b"]]


def test_without_a_delimiter_every_key_is_listed_in_byte_order(s3, bucket):
    put_all_small(s3, bucket, SLASHY)
    keys, prefixes = listing(s3, bucket)
    assert keys == sorted(SLASHY) == ["a-", "a/", "a//b", "a/b", "a/b/c", "a0", "b"] and prefixes == []


def test_prefix_that_is_also_a_key_lists_the_key_and_its_folder(s3, bucket):
    put_all_small(s3, bucket, ["photos", "photos/1.jpg", "photos/2.jpg", "photosynthesis"])
    keys, prefixes = listing(s3, bucket, Prefix="photos", Delimiter="/")
    assert keys == ["photos", "photosynthesis"] and prefixes == ["photos/"]


def test_delimiter_longer_than_one_character(s3, bucket):
    put_all_small(s3, bucket, ["x--y--z", "x--w", "x-y", "x--"])
    keys, prefixes = listing(s3, bucket, Delimiter="--")
    assert keys == ["x-y"] and prefixes == ["x--"]
    keys, prefixes = listing(s3, bucket, Prefix="x--", Delimiter="--")
    assert keys == ["x--", "x--w"] and prefixes == ["x--y--"]


def test_delimiter_in_no_key_lists_every_key(s3, bucket):
    put_all_small(s3, bucket, ["a/b", "c/d", "e"])
    keys, prefixes = listing(s3, bucket, Delimiter="|")
    assert keys == ["a/b", "c/d", "e"] and prefixes == []


def test_prefix_ending_with_the_delimiter_lists_one_level(s3, bucket):
    put_all_small(s3, bucket, ["d/1", "d/2", "d/sub/3", "d/sub/4", "d/zz/5", "e/1"])
    r = s3.list_objects_v2(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["d/1", "d/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["d/sub/", "d/zz/"]
    assert r["KeyCount"] == 4 and r["Prefix"] == "d/" and r["Delimiter"] == "/"


def test_prefix_matching_nothing_is_empty_and_not_truncated(s3, bucket):
    put_all_small(s3, bucket, ["a", "b"])
    r = s3.list_objects_v2(Bucket=bucket, Prefix="zzz")
    assert r["KeyCount"] == 0 and not r["IsTruncated"] and "Contents" not in r


def test_empty_bucket_lists_nothing(s3, bucket):
    r = s3.list_objects_v2(Bucket=bucket)
    assert r["KeyCount"] == 0 and not r["IsTruncated"] and "Contents" not in r and "CommonPrefixes" not in r


def put_all_small(s3, bucket, keys) -> None:
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")


# --- unicode and keys that need encoding -----------------------------------------------------------------------

UNICODE = ["z", "é", "ê", "日本/語", "日本/本", "😀", "\ufb01", "Z", "a", "\u00ff", "\u0100", "\U00010000", "\uffee"]


def test_unicode_keys_are_listed_in_utf8_byte_order(s3, bucket):
    put_all_small(s3, bucket, UNICODE)
    keys, _ = listing(s3, bucket)
    assert keys == sorted(UNICODE, key=lambda k: k.encode("utf-8"))


def test_unicode_keys_page_in_the_same_order(s3, bucket):
    put_all_small(s3, bucket, UNICODE)
    seen = [k for p in pages(s3, bucket, MaxKeys=2) for k in names(p)]
    assert seen == sorted(UNICODE, key=lambda k: k.encode("utf-8"))


def test_unicode_delimiter_and_prefix(s3, bucket):
    put_all_small(s3, bucket, UNICODE)
    keys, prefixes = listing(s3, bucket, Prefix="日", Delimiter="/")
    assert keys == [] and prefixes == ["日本/"]


ODD_KEYS = ["with space", "plus+sign", "per%cent", "per%25cent", "new\nline", "tab\tkey", "cr\rkey", "ctrl\x01char",
            "amp&and<lt>", "quote\"'", "question?mark", "hash#tag", "semi;colon", "eq=ual&"]


@pytest.mark.parametrize("key", ODD_KEYS, ids=[repr(k) for k in ODD_KEYS])
def test_keys_needing_encoding_come_back_exactly_through_boto3(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="zz-neighbour", Body=b"")
    keys, _ = listing(s3, bucket)  # boto3 asks for EncodingType=url and decodes
    assert keys == [key, "zz-neighbour"]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"


@pytest.mark.parametrize("key", ODD_KEYS, ids=[repr(k) for k in ODD_KEYS])
def test_encoding_type_url_percent_encodes_keys_in_the_raw_xml(server, s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    r = raw.signed(server, "GET", f"/{bucket}?list-type=2&encoding-type=url")
    assert r.status == 200 and b"<EncodingType>url</EncodingType>" in r.body
    encoded = r.body.split(b"<Key>")[1].split(b"</Key>")[0].decode()
    assert encoded == quote(key, safe="/") and all(c.isprintable() and c not in " <>&" for c in encoded)


def test_without_encoding_type_xml_special_characters_are_escaped(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="amp&and<lt>", Body=b"")
    r = raw.signed(server, "GET", f"/{bucket}?list-type=2")
    assert b"<Key>amp&amp;and&lt;lt&gt;</Key>" in r.body and b"EncodingType" not in r.body


def test_without_encoding_type_a_carriage_return_is_sent_as_a_character_reference(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="cr\rkey", Body=b"")
    r = raw.signed(server, "GET", f"/{bucket}?list-type=2")
    assert b"<Key>cr&#13;key</Key>" in r.body


def test_encoding_type_url_also_encodes_prefix_delimiter_and_start_after(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b/c d", Body=b"")
    r = raw.signed(server, "GET", f"/{bucket}?list-type=2&encoding-type=url&prefix=a%20b%2F&delimiter=%20"
                                  f"&start-after=a%20b%2F")
    assert b"<Prefix>a%20b/</Prefix>" in r.body and b"<Delimiter>%20</Delimiter>" in r.body
    assert b"<StartAfter>a%20b/</StartAfter>" in r.body and b"<CommonPrefixes><Prefix>a%20b/c%20</Prefix>" in r.body


# --- pages --------------------------------------------------------------------------------------------------------

def test_exactly_page_sized_result_has_no_continuation_token(s3, bucket):
    put_all_small(s3, bucket, [f"k{i}" for i in range(6)])
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=6)
    assert r["KeyCount"] == 6 and r["IsTruncated"] is False and "NextContinuationToken" not in r


def test_exactly_page_sized_result_counting_common_prefixes(s3, bucket):
    put_all_small(s3, bucket, ["a", "b", "c", "d/1", "e/1", "f/1"])
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=6, Delimiter="/")
    assert r["KeyCount"] == 6 and r["IsTruncated"] is False and "NextContinuationToken" not in r


def test_one_key_more_than_the_page_is_truncated_with_a_token(s3, bucket):
    put_all_small(s3, bucket, [f"k{i}" for i in range(7)])
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=6)
    assert r["KeyCount"] == 6 and r["IsTruncated"] and r["NextContinuationToken"]
    last = s3.list_objects_v2(Bucket=bucket, MaxKeys=6, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in last["Contents"]] == ["k6"] and not last["IsTruncated"]


def test_key_count_counts_keys_and_common_prefixes(s3, bucket):
    put_all_small(s3, bucket, ["a", "b/1", "b/2", "c/1", "d"])
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert r["KeyCount"] == 4 and len(r["Contents"]) == 2 and len(r["CommonPrefixes"]) == 2


@pytest.mark.parametrize("token", ["not a token!", base64.urlsafe_b64encode(b"k0003").decode(), "AAAA",
                                   base64.urlsafe_b64encode(b"\x01\0\0\0\0k0003").decode()])
def test_invalid_continuation_token_is_invalid_argument(s3, thousand, token):
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=THOUSAND, ContinuationToken=token)
    assert code(e) == "InvalidArgument"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_empty_continuation_token_is_invalid_argument(server, thousand):
    r = raw.signed(server, "GET", f"/{THOUSAND}?list-type=2&continuation-token=")
    assert r.status == 400 and error_code(r.body) == "InvalidArgument"


def test_continuation_token_takes_precedence_over_start_after(s3, thousand):
    first = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=3)
    r = s3.list_objects_v2(Bucket=THOUSAND, MaxKeys=2, StartAfter="k0500",
                           ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in r["Contents"]] == ["k0003", "k0004"] and r["StartAfter"] == "k0500"


def test_start_after_beyond_the_last_key_is_empty_and_not_truncated(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, StartAfter="zzz")
    assert r["KeyCount"] == 0 and not r["IsTruncated"] and r["StartAfter"] == "zzz"


def test_start_after_between_keys_starts_at_the_next_one(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, StartAfter="k0499x", MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == ["k0500", "k0501"]


def test_start_after_before_the_prefix_starts_at_the_prefix(s3, thousand):
    r = s3.list_objects_v2(Bucket=THOUSAND, StartAfter="a", Prefix="k09", MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == ["k0900", "k0901"]


def test_fetch_owner_true_reports_the_owner(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    r = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)
    assert r["Contents"][0]["Owner"]["ID"] == server.access_key


@pytest.mark.parametrize("fetch", [False, None])
def test_without_fetch_owner_there_is_no_owner(s3, bucket, fetch):
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    r = s3.list_objects_v2(Bucket=bucket, **({} if fetch is None else {"FetchOwner": fetch}))
    assert "Owner" not in r["Contents"][0]


def test_contents_report_size_etag_last_modified_and_storage_class(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"12345", StorageClass="STANDARD_IA")
    o = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert o["Size"] == 5 and o["ETag"] == put["ETag"] and o["StorageClass"] == "STANDARD_IA"
    assert o["LastModified"].tzinfo is not None


# --- pages while the bucket changes, over both shards ---------------------------------------------------------------

def test_keys_deleted_between_pages_are_never_duplicated_nor_others_skipped(s3, bucket):
    keys = [f"file-{i:03d}" for i in range(40)]
    put_all_small(s3, bucket, keys)
    doomed = set(keys[5::4])
    seen, token, first = [], None, True
    while True:
        r = s3.list_objects_v2(Bucket=bucket, MaxKeys=7, **({"ContinuationToken": token} if token else {}))
        seen += [o["Key"] for o in r.get("Contents", [])]
        if first:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in doomed]})
            first = False
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert set(keys) - doomed <= set(seen)
    assert not (set(seen) - set(keys))


def test_keys_added_behind_the_cursor_are_not_listed_and_ahead_of_it_are(s3, bucket):
    put_all_small(s3, bucket, ["b", "d", "f", "h"])
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    put_all_small(s3, bucket, ["a", "c", "e", "g"])
    rest = s3.list_objects_v2(Bucket=bucket, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["e", "f", "g", "h"]


def test_listing_over_both_shards_in_several_pages_is_complete_and_ordered(server, s3, bucket):
    keys = [f"obj/{i:03d}" for i in range(50)]
    ring = Ring([0, 1])
    owners = {ring.shard_for(bucket, k) for k in keys}
    assert owners == {0, 1}  # the keys really are spread over both shards
    put_all(server, bucket, keys)
    got = pages(s3, bucket, MaxKeys=12)
    assert len(got) == 5
    assert [o["Key"] for p in got for o in p["Contents"]] == keys
    assert all(p["KeyCount"] == 12 for p in got[:-1]) and got[-1]["KeyCount"] == 2


def test_common_prefixes_from_both_shards_are_merged_once(server, s3, bucket):
    keys = [f"dir{d}/f{i}" for d in range(6) for i in range(8)]
    put_all(server, bucket, keys)
    got = pages(s3, bucket, Delimiter="/", MaxKeys=2)
    prefixes = [p["Prefix"] for page in got for p in page.get("CommonPrefixes", [])]
    assert prefixes == [f"dir{d}/" for d in range(6)] and len(got) == 3


def test_delete_markers_are_not_listed(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put_all_small(s3, bucket, ["a", "b/1", "c"])
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_object(Bucket=bucket, Key="b/1")
    keys, prefixes = listing(s3, bucket, Delimiter="/")
    assert keys == ["c"] and prefixes == []


def test_listing_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="no-such-bucket-for-listing")
    assert code(e) == "NoSuchBucket"
