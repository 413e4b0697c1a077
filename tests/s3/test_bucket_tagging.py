"""Put/Get/DeleteBucketTagging: a whole TagSet replaced at once, validated as S3 validates it (≤ 50 tags, key ≤ 128,
value ≤ 256 characters, allowed characters, unique keys), NoSuchTagSet when a bucket has none."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def error(exc_info) -> tuple[int, str, str]:
    r = exc_info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def tagset(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_tags_round_trip_in_the_order_given(s3, bucket):
    pairs = [("team", "storage"), ("cost-center", "42"), ("Env", "prod")]
    r = s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(pairs))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tagset(pairs)["TagSet"]


def test_a_bucket_without_tags_is_no_such_tag_set(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error(e) == (404, "NoSuchTagSet", "The TagSet does not exist")
    assert e.value.response["Error"]["BucketName"] == bucket


def test_putting_tags_replaces_the_whole_set(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("a", "1"), ("b", "2")]))
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("c", "3")]))
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "c", "Value": "3"}]


def test_deleting_tags_is_204_and_leaves_no_tag_set(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("a", "1")]))
    r = s3.delete_bucket_tagging(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error(e)[1] == "NoSuchTagSet"


def test_deleting_tags_of_a_bucket_without_tags_succeeds(s3, bucket):
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_an_empty_tag_set_leaves_the_bucket_without_tags(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("a", "1")]))
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": []})
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error(e)[1] == "NoSuchTagSet"


def test_fifty_tags_at_the_length_limits_are_accepted(s3, bucket):
    pairs = [(f"{i:02d}" + "k" * 126, "v" * 256) for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(pairs))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50


def test_unicode_spaces_and_allowed_punctuation_round_trip(s3, bucket):
    pairs = [("Projekt Größe", "naïve café 日本"), ("path/to:thing", "a=b+c-d@e_f.g"), ("empty", "")]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(pairs))
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tagset(pairs)["TagSet"]


@pytest.mark.parametrize("pairs, message", [
    ([("dup", "1"), ("dup", "2")], "Cannot provide multiple Tags with the same key"),
    ([(f"k{i}", "v") for i in range(51)], "Bucket tag count cannot be greater than 50"),
    ([("k" * 129, "v")], "The TagKey you have provided is invalid"),
    ([("k", "v" * 257)], "The TagValue you have provided is invalid"),
    ([("semi;colon", "v")], "The TagKey you have provided is invalid"),
    ([("k", "a&b")], "The TagValue you have provided is invalid"),
    ([("k", "quote\"d")], "The TagValue you have provided is invalid"),
    ([("aws:cloudformation:stack-name", "x")], "Your TagKey cannot be prefixed with aws:"),
])
def test_invalid_tag_sets_are_invalid_tag_and_keep_the_previous_tags(s3, bucket, pairs, message):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("keep", "me")]))
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(pairs))
    assert error(e) == (400, "InvalidTag", message)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "keep", "Value": "me"}]


def test_empty_tag_key_is_invalid_tag(server, bucket):
    body = b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>"
    r = raw.signed(server, "PUT", f"/{bucket}?tagging", body=body,
                   headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    assert r.status == 400 and b"<Code>InvalidTag</Code>" in r.body


@pytest.mark.parametrize("body", [
    b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
    b"<Tagging></Tagging>",
    b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value>",
])
def test_malformed_tagging_documents_are_malformed_xml(server, bucket, body):
    r = raw.signed(server, "PUT", f"/{bucket}?tagging", body=body,
                   headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body


def test_tags_given_at_creation_are_the_bucket_tags(s3):
    s3.create_bucket(Bucket="tagged-at-birth",
                     CreateBucketConfiguration={"Tags": [{"Key": "owner", "Value": "cairn"}]})
    assert s3.get_bucket_tagging(Bucket="tagged-at-birth")["TagSet"] == [{"Key": "owner", "Value": "cairn"}]


def test_invalid_tags_at_creation_refuse_the_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="badly-tagged-at-birth",
                         CreateBucketConfiguration={"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
    assert error(e)[1] == "InvalidTag"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="badly-tagged-at-birth")


def test_tagging_a_missing_bucket_is_no_such_bucket(s3):
    for call in (lambda: s3.get_bucket_tagging(Bucket="no-such-tagged-bucket"),
                 lambda: s3.delete_bucket_tagging(Bucket="no-such-tagged-bucket"),
                 lambda: s3.put_bucket_tagging(Bucket="no-such-tagged-bucket", Tagging=tagset([("a", "1")]))):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e)[:2] == (404, "NoSuchBucket")


def test_bucket_tags_do_not_touch_versioning(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("a", "1")]))
    s3.delete_bucket_tagging(Bucket=bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
