"""Multipart uploads through boto3: create, parts, complete, abort, copy parts, part GETs, and what survives a
restart or a kill -9 — each case what the AWS S3 API reference documents."""

import os
import threading
import time

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.s3.multipart_support import (BIG, MIN_PART, code, finish, md5, multipart_etag, put_multipart, start,
                                        status)
from tests.support import raw
from tests.support.server import CairnServer


# --- CreateMultipartUpload -----------------------------------------------------------------------------------

def test_create_returns_bucket_key_and_an_unguessable_upload_id(s3, bucket):
    a = s3.create_multipart_upload(Bucket=bucket, Key="k")
    b = s3.create_multipart_upload(Bucket=bucket, Key="k")
    assert a["Bucket"] == bucket and a["Key"] == "k"
    assert a["UploadId"] != b["UploadId"] and len(a["UploadId"]) >= 32


def test_create_in_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket="no-such-bucket-mp", Key="k")
    assert code(e) == "NoSuchBucket"


def test_create_with_an_invalid_storage_class_is_refused(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k", StorageClass="PLATINUM")
    assert code(e) == "InvalidStorageClass"


def test_create_with_too_much_user_metadata_is_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k", Metadata={"big": "x" * 2100})
    assert code(e) == "MetadataTooLarge"


def test_completed_object_carries_every_metadata_header_given_at_create(s3, bucket):
    expires = "Wed, 21 Oct 2037 07:28:00 GMT"
    put_multipart(s3, bucket, "meta", [b"body"], ContentType="text/csv", CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="a.csv"', ContentEncoding="identity",
                  ContentLanguage="fr", Expires=expires, Metadata={"colour": "blue", "n": "1"},
                  StorageClass="STANDARD_IA")
    h = s3.head_object(Bucket=bucket, Key="meta")
    assert h["ContentType"] == "text/csv"
    assert h["CacheControl"] == "max-age=60"
    assert h["ContentDisposition"] == 'attachment; filename="a.csv"'
    assert h["ContentEncoding"] == "identity"
    assert h["ContentLanguage"] == "fr"
    assert h["ResponseMetadata"]["HTTPHeaders"]["expires"] == expires
    assert h["Metadata"] == {"colour": "blue", "n": "1"}
    assert h["StorageClass"] == "STANDARD_IA"


def test_completed_object_without_content_type_gets_the_default(s3, bucket):
    put_multipart(s3, bucket, "plain", [b"x"])
    assert s3.head_object(Bucket=bucket, Key="plain")["ContentType"] == "binary/octet-stream"


# --- UploadPart ----------------------------------------------------------------------------------------------

def test_upload_part_returns_the_md5_of_the_part_as_etag(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=3, Body=b"part three")
    assert r["ETag"] == f'"{md5(b"part three")}"'


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_outside_1_to_10000_is_invalid_argument(s3, bucket, number):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=number, Body=b"x")
    assert code(e) == "InvalidArgument"


def test_part_number_10000_is_accepted(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=10000, Body=b"last")
    finish(s3, bucket, "k", uid, [{"PartNumber": 10000, "ETag": r["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"last"


def test_upload_part_to_an_unknown_upload_is_no_such_upload(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId="not-an-upload", PartNumber=1, Body=b"x")
    assert code(e) == "NoSuchUpload" and status(e) == 404


def test_an_upload_id_is_bound_to_its_key(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="other", UploadId=uid, PartNumber=1, Body=b"x")
    assert code(e) == "NoSuchUpload"


def test_upload_part_with_a_wrong_content_md5_is_bad_digest(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"abc",
                       ContentMD5="1B2M2Y8AsgTpgAEAAAAAAA==")
    assert code(e) == "BadDigest"
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)


def test_reuploading_a_part_number_replaces_the_part(s3, bucket):
    uid, parts = start(s3, bucket, "k", [b"first version"])
    again = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"second version")
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(1, again["ETag"], 14)]
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts)  # the replaced part's ETag no longer names a part
    assert code(e) == "InvalidPart"
    finish(s3, bucket, "k", uid, [{"PartNumber": 1, "ETag": again["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second version"


def test_nothing_is_visible_as_an_object_before_complete(s3, bucket):
    start(s3, bucket, "pending", [BIG, b"tail"])
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="pending")
    assert status(e) == 404
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


# --- CompleteMultipartUpload ---------------------------------------------------------------------------------

def test_complete_concatenates_parts_with_md5_of_md5s_etag(s3, bucket):
    tail = os.urandom(1000)
    r = put_multipart(s3, bucket, "obj", [BIG, tail])
    assert r["ETag"] == multipart_etag(BIG, tail)
    assert r["Bucket"] == bucket and r["Key"] == "obj" and r["Location"].endswith(f"/{bucket}/obj")
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["ContentLength"] == MIN_PART + 1000 and got["ETag"] == r["ETag"]
    assert got["Body"].read() == BIG + tail


def test_completed_object_is_listed_with_its_size_and_multipart_etag(s3, bucket):
    r = put_multipart(s3, bucket, "listed", [BIG, b"x"])
    [obj] = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert obj["Key"] == "listed" and obj["Size"] == MIN_PART + 1 and obj["ETag"] == r["ETag"]


def test_complete_may_leave_out_uploaded_parts(s3, bucket):
    uid, parts = start(s3, bucket, "k", [BIG, b"skipped", b"last"])
    finish(s3, bucket, "k", uid, [parts[0], parts[2]])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BIG + b"last"


def test_part_numbers_need_not_be_consecutive(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    a = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=BIG)
    b = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=7, Body=b"end")
    finish(s3, bucket, "k", uid, [{"PartNumber": 2, "ETag": a["ETag"]}, {"PartNumber": 7, "ETag": b["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BIG + b"end"


def test_a_single_small_part_is_a_valid_upload(s3, bucket):
    r = put_multipart(s3, bucket, "small", [b"tiny"])
    assert r["ETag"] == multipart_etag(b"tiny")


def test_an_empty_single_part_makes_an_empty_object(s3, bucket):
    put_multipart(s3, bucket, "empty", [b""])
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0 and got["Body"].read() == b""


def test_a_part_smaller_than_5_mib_before_the_last_is_entity_too_small(s3, bucket):
    uid, parts = start(s3, bucket, "k", [b"small", b"last"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts)
    assert code(e) == "EntityTooSmall"
    assert e.value.response["Error"]["MinSizeAllowed"] == str(MIN_PART)


def test_complete_with_a_part_never_uploaded_is_invalid_part(s3, bucket):
    uid, parts = start(s3, bucket, "k", [b"one"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts + [{"PartNumber": 2, "ETag": parts[0]["ETag"]}])
    assert code(e) == "InvalidPart"


def test_complete_with_a_wrong_etag_is_invalid_part(s3, bucket):
    uid, _ = start(s3, bucket, "k", [b"one"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, [{"PartNumber": 1, "ETag": f'"{md5(b"other")}"'}])
    assert code(e) == "InvalidPart"


@pytest.mark.parametrize("order", [[2, 1], [1, 1]])
def test_complete_with_parts_not_in_ascending_order_is_invalid_part_order(s3, bucket, order):
    uid, parts = start(s3, bucket, "k", [BIG, b"b"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, [parts[n - 1] for n in order])
    assert code(e) == "InvalidPartOrder"


@pytest.mark.parametrize("body", [b"<CompleteMultipartUpload></CompleteMultipartUpload>", b"<nope",
                                  b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag>"
                                  b"</Part></CompleteMultipartUpload>",
                                  b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
                                  b"</CompleteMultipartUpload>"])
def test_complete_with_a_malformed_part_list_is_malformed_xml(server, s3, bucket, body):
    uid, _ = start(s3, bucket, "k", [b"one"])
    r = raw.signed(server, "POST", f"/{bucket}/k?uploadId={uid}", body=body)
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body


def test_completing_twice_is_no_such_upload(s3, bucket):
    uid, parts = start(s3, bucket, "k", [b"one"])
    finish(s3, bucket, "k", uid, parts)
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts)
    assert code(e) == "NoSuchUpload"


def test_completing_an_aborted_upload_is_no_such_upload(s3, bucket):
    uid, parts = start(s3, bucket, "k", [b"one"])
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts)
    assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_complete_with_a_wrong_mp_object_size_is_invalid_request_and_a_right_one_passes(s3, bucket):
    uid, parts = start(s3, bucket, "k", [BIG, b"abc"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts, MpuObjectSize=MIN_PART)
    assert code(e) == "InvalidRequest"
    finish(s3, bucket, "k", uid, parts, MpuObjectSize=MIN_PART + 3)
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == MIN_PART + 3


def test_parts_cannot_be_added_to_a_completed_upload(s3, bucket):
    uid, parts = start(s3, bucket, "k", [b"one"])
    finish(s3, bucket, "k", uid, parts)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"late")
    assert code(e) == "NoSuchUpload"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"


def test_complete_replaces_an_existing_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    put_multipart(s3, bucket, "k", [b"new"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_complete_with_if_none_match_star_refuses_an_existing_key_and_keeps_the_upload(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    uid, parts = start(s3, bucket, "k", [b"new"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts, IfNoneMatch="*")
    assert code(e) == "PreconditionFailed" and status(e) == 412
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"
    finish(s3, bucket, "k", uid, parts)  # the upload is still there to complete unconditionally
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_complete_with_if_none_match_star_creates_a_new_key(s3, bucket):
    uid, parts = start(s3, bucket, "fresh", [b"new"])
    finish(s3, bucket, "fresh", uid, parts, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="fresh")["Body"].read() == b"new"


def test_complete_with_if_match_needs_the_current_etag(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["ETag"]
    uid, parts = start(s3, bucket, "k", [b"new"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "k", uid, parts, IfMatch=f'"{md5(b"other")}"')
    assert code(e) == "PreconditionFailed"
    finish(s3, bucket, "k", uid, parts, IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_complete_with_if_match_on_a_missing_key_is_no_such_key(s3, bucket):
    uid, parts = start(s3, bucket, "absent", [b"new"])
    with pytest.raises(ClientError) as e:
        finish(s3, bucket, "absent", uid, parts, IfMatch=f'"{md5(b"x")}"')
    assert code(e) == "NoSuchKey" and status(e) == 404


def test_high_level_transfer_uploads_in_parts_and_reads_back(s3, bucket, tmp_path):
    data = os.urandom(MIN_PART * 2 + 12345)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=MIN_PART, multipart_chunksize=MIN_PART, max_concurrency=2)
    s3.upload_file(str(path), bucket, "transferred", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="transferred")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    assert s3.get_object(Bucket=bucket, Key="transferred")["Body"].read() == data


# --- AbortMultipartUpload ------------------------------------------------------------------------------------

def test_abort_answers_204_and_forgets_the_upload(s3, bucket):
    uid, _ = start(s3, bucket, "k", [b"one"])
    r = s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)
    assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"late")
    assert code(e) == "NoSuchUpload"


def test_abort_of_an_unknown_upload_is_no_such_upload(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope")
    assert code(e) == "NoSuchUpload" and status(e) == 404


# --- persistence ---------------------------------------------------------------------------------------------

def test_uploads_parts_and_completed_objects_survive_a_restart(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2, preset="performance").start()
    s3 = srv.client()
    s3.create_bucket(Bucket="keep")
    done = put_multipart(s3, "keep", "done", [BIG, b"tail"], ContentType="text/x-done")
    uid, parts = start(s3, "keep", "pending", [BIG, b"more"], Metadata={"m": "v"})
    gone, _ = start(s3, "keep", "aborted", [b"x"])
    s3.abort_multipart_upload(Bucket="keep", Key="aborted", UploadId=gone)
    srv.stop()
    srv = CairnServer(tmp_path / "data", shards=2).start()
    try:
        s3 = srv.client()
        got = s3.get_object(Bucket="keep", Key="done")
        assert got["ETag"] == done["ETag"] and got["ContentType"] == "text/x-done"
        assert got["Body"].read() == BIG + b"tail"
        assert s3.get_object(Bucket="keep", Key="done", PartNumber=2)["Body"].read() == b"tail"
        uploads = s3.list_multipart_uploads(Bucket="keep")["Uploads"]
        assert [(u["Key"], u["UploadId"]) for u in uploads] == [("pending", uid)]
        listed = s3.list_parts(Bucket="keep", Key="pending", UploadId=uid)["Parts"]
        assert [p["ETag"] for p in listed] == [p["ETag"] for p in parts]
        finish(s3, "keep", "pending", uid, parts)
        got = s3.get_object(Bucket="keep", Key="pending")
        assert got["Metadata"] == {"m": "v"} and got["Body"].read() == BIG + b"more"
    finally:
        srv.stop()


def _uploader(srv, n, results, stop):
    s3 = srv.client()
    i = 0
    while not stop.is_set():
        key = f"u{n}-{i}"
        tail = os.urandom(1000 + i)
        results["attempted"].add(key)  # a create the kill cuts off may still be committed
        try:
            uid = s3.create_multipart_upload(Bucket="crash", Key=key)["UploadId"]
            results["started"][key] = uid
            parts = []
            for number, body in ((1, BIG), (2, tail)):
                r = s3.upload_part(Bucket="crash", Key=key, UploadId=uid, PartNumber=number, Body=body)
                parts.append({"PartNumber": number, "ETag": r["ETag"]})
            results["bodies"][key] = BIG + tail
            if i % 2:  # every other upload is left incomplete on purpose
                finish(s3, "crash", key, uid, parts)
                results["completed"][key] = uid
        except Exception:
            return  # the server died under us
        i += 1


def test_kill9_during_uploads_keeps_completed_objects_and_never_shows_incomplete_ones(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2, preset="durable").start()
    srv.client().create_bucket(Bucket="crash")
    results = {"attempted": set(), "started": {}, "completed": {}, "bodies": {}}
    stop = threading.Event()
    threads = [threading.Thread(target=_uploader, args=(srv, n, results, stop), daemon=True) for n in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(results["completed"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    completed = dict(results["completed"])
    assert len(completed) >= 3, "the uploaders should have completed a few uploads"
    srv = CairnServer(tmp_path / "data", shards=2, preset="durable").start()
    try:
        s3 = srv.client()
        for key in completed:
            assert s3.get_object(Bucket="crash", Key=key)["Body"].read() == results["bodies"][key], key
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", [])}
        pending = {u["Key"]: u["UploadId"] for u in s3.list_multipart_uploads(Bucket="crash").get("Uploads", [])}
        assert set(completed) <= listed
        for key in listed - set(completed):  # a Complete in flight at the kill: whole, never partial
            assert s3.get_object(Bucket="crash", Key=key)["Body"].read() == results["bodies"][key]
        for key, uid in pending.items():
            assert key in results["attempted"] and results["started"].get(key, uid) == uid
            if key not in listed:
                with pytest.raises(ClientError):
                    s3.head_object(Bucket="crash", Key=key)
            s3.abort_multipart_upload(Bucket="crash", Key=key, UploadId=uid)
        assert not s3.list_multipart_uploads(Bucket="crash").get("Uploads")
        assert any(k not in completed for k in results["started"]), "some uploads were left incomplete"
    finally:
        srv.stop()


# --- what other operations see of a completed upload ---------------------------------------------------------

def test_tagging_given_at_create_is_on_the_completed_object(s3, bucket):
    put_multipart(s3, bucket, "tagged", [b"x"], Tagging="team=core&tier=gold")
    tags = s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("team", "core"), ("tier", "gold")]


def test_get_object_attributes_lists_the_parts_of_a_completed_upload(s3, bucket):
    put_multipart(s3, bucket, "k", [BIG, b"12345"], ChecksumAlgorithm="CRC32")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectParts", "ETag", "Checksum"])
    parts = attrs["ObjectParts"]
    assert parts["TotalPartsCount"] == 2
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, MIN_PART), (2, 5)]
    assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE" and attrs["Checksum"]["ChecksumCRC32"].endswith("-2")


def test_complete_in_a_versioned_bucket_makes_a_new_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    done = put_multipart(s3, bucket, "k", [b"v2"])
    assert done["VersionId"] not in (None, "null", first)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=first)["Body"].read() == b"v1"
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=done["VersionId"], PartNumber=1)
    assert got["Body"].read() == b"v2" and got["PartsCount"] == 1
