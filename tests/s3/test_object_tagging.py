"""Object tagging: Put/Get/DeleteObjectTagging (with versionId), the x-amz-tagging header on PUT, the
x-amz-tagging-count header on GET, AWS's validation rules, and persistence across a restart."""

import pytest
from botocore.exceptions import ClientError

from tests.support import raw
from tests.support.server import CairnServer


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def message(e) -> str:
    return e.value.response["Error"]["Message"]


def tagset(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def tags_of(s3, bucket, key, **kw):
    return [(t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key=key, **kw)["TagSet"]]


def test_put_then_get_tagging_returns_the_tags_in_order(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset([("b", "2"), ("a", "1")]))
    assert tags_of(s3, bucket, "k") == [("b", "2"), ("a", "1")]


def test_get_tagging_of_untagged_object_is_an_empty_tag_set(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert tags_of(s3, bucket, "k") == []


def test_put_tagging_replaces_the_whole_set(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset([("a", "1"), ("b", "2")]))
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset([("c", "3")]))
    assert tags_of(s3, bucket, "k") == [("c", "3")]


def test_delete_tagging_removes_all_tags_with_204(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    r = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags_of(s3, bucket, "k") == []


def test_tagging_header_on_put_sets_tags_url_decoded(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=cairn&team=a%20b&empty=")
    assert tags_of(s3, bucket, "k") == [("project", "cairn"), ("team", "a b"), ("empty", "")]


def test_get_object_reports_tag_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&b=2&c=3")
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 3
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"


def test_get_object_without_tags_has_no_tag_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")


def test_overwrite_without_tagging_header_drops_the_old_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"y")
    assert tags_of(s3, bucket, "k") == []


def test_tagging_of_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="nope")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="nope", Tagging=tagset([("a", "1")]))
    assert code(e) == "NoSuchKey"


def test_tags_belong_to_a_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="gen=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    r = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging=tagset([("gen", "one")]))
    assert r["VersionId"] == v1
    assert tags_of(s3, bucket, "k", VersionId=v1) == [("gen", "one")]
    assert tags_of(s3, bucket, "k") == []
    got = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert got["VersionId"] == v2


def test_delete_tagging_of_one_version_keeps_the_others(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="a=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="b=2")
    s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert tags_of(s3, bucket, "k", VersionId=v1) == []
    assert tags_of(s3, bucket, "k") == [("b", "2")]


def test_tagging_of_a_delete_marker_version_is_method_not_allowed(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    dm = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=dm)
    assert code(e) == "MethodNotAllowed"
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="k")
    assert code(e) == "NoSuchKey"


@pytest.mark.parametrize("pairs, msg", [
    ([(f"k{i}", "v") for i in range(11)], "Object tags cannot be greater than 10"),
    ([("a", "1"), ("a", "2")], "Cannot provide multiple Tags with the same key"),
    ([("k" * 129, "v")], None),
    ([("k", "v" * 257)], None),
    ([("bad#key", "v")], None),
    ([("key", "bad*value")], None),
    ([("aws:reserved", "v")], None),
])
def test_invalid_tag_sets_are_invalid_tag(s3, bucket, pairs, msg):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(pairs))
    assert code(e) == "InvalidTag"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if msg:
        assert message(e) == msg


def test_ten_tags_with_maximal_key_and_value_are_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    pairs = [(f"{i}" + "k" * 127, "v" * 256) for i in range(10)]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(pairs))
    assert tags_of(s3, bucket, "k") == pairs


def test_unicode_letters_spaces_and_allowed_punctuation_are_valid(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    pairs = [("Größe ключ", "a+b-c=d.e_f:g/h@i"), ("数字 9", "")]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(pairs))
    assert tags_of(s3, bucket, "k") == pairs


def test_invalid_tagging_header_on_put_is_rejected_and_stores_nothing(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert code(e) == "InvalidTag"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_duplicate_keys_in_tagging_header_are_invalid_tag(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&a=2")
    assert code(e) == "InvalidTag"


def test_malformed_tagging_document_is_malformed_xml(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw.signed(server, "PUT", f"/{bucket}/k?tagging", body=b"<Tagging><Nope/></Tagging>")
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body


def test_tags_survive_restart(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2).start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="tag-restart")
        for i in range(6):
            s3.put_object(Bucket="tag-restart", Key=f"k{i}", Body=b"x", Tagging=f"n={i}")
        s3.put_object_tagging(Bucket="tag-restart", Key="k0", Tagging=tagset([("changed", "yes")]))
        s3.delete_object_tagging(Bucket="tag-restart", Key="k1")
        srv.stop()
        srv.start()
        s3 = srv.client()
        assert tags_of(s3, "tag-restart", "k0") == [("changed", "yes")]
        assert tags_of(s3, "tag-restart", "k1") == []
        assert [tags_of(s3, "tag-restart", f"k{i}") for i in range(2, 6)] == [[("n", str(i))] for i in range(2, 6)]
    finally:
        srv.stop()
