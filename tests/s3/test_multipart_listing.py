"""ListParts and ListMultipartUploads: order, markers, pagination, delimiter roll-up, as AWS documents them."""

import pytest
from botocore.exceptions import ClientError

from tests.s3.multipart_support import code, start
from tests.support import raw


def _parts(s3, bucket, key, n):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, StorageClass="STANDARD_IA")["UploadId"]
    for number in range(1, n + 1):
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=number, Body=b"p" * number)
    return uid


# --- ListParts -----------------------------------------------------------------------------------------------

def test_list_parts_pages_with_max_parts_and_next_part_number_marker(s3, bucket):
    uid = _parts(s3, bucket, "k", 5)
    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2 and first["MaxParts"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid, PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5]
    assert rest["IsTruncated"] is False and rest["PartNumberMarker"] == 2


def test_list_parts_paginator_sees_every_part_once(s3, bucket):
    uid = _parts(s3, bucket, "k", 7)
    pages = s3.get_paginator("list_parts").paginate(Bucket=bucket, Key="k", UploadId=uid,
                                                    PaginationConfig={"PageSize": 3})
    assert [p["PartNumber"] for page in pages for p in page["Parts"]] == list(range(1, 8))


def test_list_parts_reports_size_etag_owner_initiator_and_storage_class(s3, bucket, server):
    uid = _parts(s3, bucket, "k", 2)
    r = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)
    assert [(p["Size"], p["ETag"].strip('"') != "") for p in r["Parts"]] == [(1, True), (2, True)]
    assert r["Initiator"]["ID"] == server.access_key and r["Owner"]["ID"] == server.access_key
    assert r["StorageClass"] == "STANDARD_IA"
    assert r["Bucket"] == bucket and r["Key"] == "k" and r["UploadId"] == uid


def test_list_parts_past_the_last_part_is_empty_and_not_truncated(s3, bucket):
    uid = _parts(s3, bucket, "k", 2)
    r = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid, PartNumberMarker=9)
    assert "Parts" not in r and r["IsTruncated"] is False


def test_list_parts_of_an_upload_without_parts_is_empty(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    r = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)
    assert "Parts" not in r and r["IsTruncated"] is False and r["StorageClass"] == "STANDARD"


def test_list_parts_with_a_negative_max_parts_is_invalid_argument(server, s3, bucket):
    uid = _parts(s3, bucket, "k", 1)
    r = raw.signed(server, "GET", f"/{bucket}/k?uploadId={uid}&max-parts=-1")
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


def test_list_parts_of_an_unknown_upload_is_no_such_upload(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="k", UploadId="unknown")
    assert code(e) == "NoSuchUpload"


# --- ListMultipartUploads ------------------------------------------------------------------------------------

def _uploads(s3, bucket, **kwargs):
    return s3.list_multipart_uploads(Bucket=bucket, **kwargs)


def test_list_uploads_of_a_bucket_without_uploads_is_empty(s3, bucket):
    r = _uploads(s3, bucket)
    assert "Uploads" not in r and r["IsTruncated"] is False


def test_list_uploads_merges_every_shard_in_key_order(s3, bucket):
    keys = [f"key-{i:02d}" for i in range(12)]  # enough keys that both shards hold some
    ids = {}
    for key in reversed(keys):
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    r = _uploads(s3, bucket)
    assert [(u["Key"], u["UploadId"]) for u in r["Uploads"]] == [(k, ids[k]) for k in keys]
    assert r["IsTruncated"] is False


def test_uploads_of_one_key_are_listed_in_initiation_order(s3, bucket):
    ids = [s3.create_multipart_upload(Bucket=bucket, Key="same")["UploadId"] for _ in range(3)]
    assert [u["UploadId"] for u in _uploads(s3, bucket)["Uploads"]] == ids


def test_list_uploads_pages_with_next_key_and_upload_id_markers(s3, bucket):
    ids = [s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"] for _ in range(2)]
    ids.append(s3.create_multipart_upload(Bucket=bucket, Key="b")["UploadId"])
    first = _uploads(s3, bucket, MaxUploads=1)
    assert first["IsTruncated"] is True and first["MaxUploads"] == 1
    assert first["NextKeyMarker"] == "a" and first["NextUploadIdMarker"] == ids[0]
    second = _uploads(s3, bucket, MaxUploads=1, KeyMarker="a", UploadIdMarker=ids[0])
    assert [u["UploadId"] for u in second["Uploads"]] == [ids[1]]
    assert second["KeyMarker"] == "a" and second["UploadIdMarker"] == ids[0]
    third = _uploads(s3, bucket, KeyMarker=second["NextKeyMarker"], UploadIdMarker=second["NextUploadIdMarker"])
    assert [u["UploadId"] for u in third["Uploads"]] == [ids[2]] and third["IsTruncated"] is False


def test_list_uploads_paginator_sees_every_upload_once(s3, bucket):
    expected = []
    for i in range(9):
        key = f"p/{i % 4}"
        expected.append((key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
    pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    seen = [(u["Key"], u["UploadId"]) for page in pages for u in page.get("Uploads", [])]
    assert seen == sorted(expected, key=lambda kv: kv[0])  # stable: initiation order within a key


def test_key_marker_alone_skips_every_upload_of_that_key(s3, bucket):
    for key in ("a", "a", "b"):
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    assert [u["Key"] for u in _uploads(s3, bucket, KeyMarker="a")["Uploads"]] == ["b"]


def test_upload_id_marker_without_key_marker_is_ignored(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    r = _uploads(s3, bucket, UploadIdMarker=uid)
    assert [u["UploadId"] for u in r["Uploads"]] == [uid]


def test_list_uploads_filters_by_prefix(s3, bucket):
    for key in ("logs/1", "logs/2", "data/1"):
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    r = _uploads(s3, bucket, Prefix="logs/")
    assert [u["Key"] for u in r["Uploads"]] == ["logs/1", "logs/2"] and r["Prefix"] == "logs/"


def test_list_uploads_rolls_up_keys_by_delimiter(s3, bucket):
    for i, key in enumerate(("a/1", "a/2", "b/x/1", "c", "d/1")):
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    r = _uploads(s3, bucket, Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["c"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert r["Delimiter"] == "/"
    paged = _uploads(s3, bucket, Delimiter="/", MaxUploads=2)
    assert [p["Prefix"] for p in paged["CommonPrefixes"]] == ["a/", "b/"]
    assert paged["IsTruncated"] is True and paged["NextKeyMarker"] == "b/"
    rest = _uploads(s3, bucket, Delimiter="/", KeyMarker="b/")
    assert [u["Key"] for u in rest["Uploads"]] == ["c"] and [p["Prefix"] for p in rest["CommonPrefixes"]] == ["d/"]


def test_list_uploads_with_url_encoding_encodes_keys(server, s3, bucket):
    s3.create_multipart_upload(Bucket=bucket, Key="a b+c")
    r = raw.signed(server, "GET", f"/{bucket}?uploads&encoding-type=url")
    assert r.status == 200 and b"<Key>a%20b%2Bc</Key>" in r.body and b"<EncodingType>url</EncodingType>" in r.body


def test_list_uploads_with_max_uploads_0_is_empty(server, s3, bucket):
    s3.create_multipart_upload(Bucket=bucket, Key="a")
    r = raw.signed(server, "GET", f"/{bucket}?uploads&max-uploads=0")
    assert r.status == 200 and b"<Upload>" not in r.body and b"<MaxUploads>0</MaxUploads>" in r.body


def test_completed_and_aborted_uploads_leave_the_listing(s3, bucket):
    done, parts = start(s3, bucket, "done", [b"x"])
    gone = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    kept = s3.create_multipart_upload(Bucket=bucket, Key="kept")["UploadId"]
    s3.complete_multipart_upload(Bucket=bucket, Key="done", UploadId=done, MultipartUpload={"Parts": parts})
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=gone)
    assert [u["UploadId"] for u in _uploads(s3, bucket)["Uploads"]] == [kept]


def test_list_uploads_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        _uploads(s3, "no-such-bucket-uploads")
    assert code(e) == "NoSuchBucket"


def test_uploads_are_listed_with_initiator_owner_and_storage_class(s3, bucket, server):
    s3.create_multipart_upload(Bucket=bucket, Key="k", StorageClass="GLACIER_IR")
    [u] = _uploads(s3, bucket)["Uploads"]
    assert u["StorageClass"] == "GLACIER_IR" and u["Initiator"]["ID"] == server.access_key
    assert u["Owner"]["ID"] == server.access_key and u["Initiated"] is not None
