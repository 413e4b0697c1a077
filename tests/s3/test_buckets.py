"""Bucket operations through boto3 against a real 2-shard server."""

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def error_code(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def test_created_bucket_is_listed_and_heads_ok(s3):
    s3.create_bucket(Bucket="alpha-listed")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "alpha-listed" in names
    assert s3.head_bucket(Bucket="alpha-listed")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_creating_an_existing_bucket_says_already_owned_by_you(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize("name", ["ab", "A-upper", "has_underscore", "-starts-with-dash", "ends-with-dash-",
                                  "192.168.1.1", "two..dots", "x" * 64, "xn--punycode"])
def test_invalid_bucket_names_are_rejected(s3, name):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_code(e) == "InvalidBucketName"


def test_head_of_missing_bucket_is_404(s3):
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="no-such-bucket-here")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_operations_on_missing_bucket_say_no_such_bucket(s3):
    for call in (lambda: s3.put_object(Bucket="missing-bucket-x", Key="k", Body=b"x"),
                 lambda: s3.list_objects_v2(Bucket="missing-bucket-x"),
                 lambda: s3.delete_bucket(Bucket="missing-bucket-x")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NoSuchBucket"
        assert e.value.response["Error"]["BucketName"] == "missing-bucket-x"


def test_delete_bucket_with_objects_is_bucket_not_empty_then_succeeds_when_emptied(s3, bucket):
    for i in range(20):  # enough keys that both shards hold some
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(e) == "BucketNotEmpty"
    for i in range(20):
        s3.delete_object(Bucket=bucket, Key=f"k{i}")
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)


def test_bucket_location_reports_the_region_it_was_created_in(s3):
    s3.create_bucket(Bucket="located-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket="located-eu")["LocationConstraint"] == "eu-west-1"


def test_malformed_create_bucket_configuration_is_malformed_xml(server):
    r = raw.signed(server, "PUT", "/malformed-cfg-bucket", body=b"<CreateBucketConfiguration><oops")
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body


def test_bucket_created_through_one_router_is_visible_at_once_on_the_other(tmp_path):
    from tests.support.server import CairnServer
    srv = CairnServer(tmp_path / "data", shards=2, extra=["--routers", "2"]).start()
    try:
        clients = [srv.client() for _ in range(8)]  # new connections spread over both router workers
        for i, c in enumerate(clients):
            c.create_bucket(Bucket=f"pushed-{i}")
            for other in clients:
                other.head_bucket(Bucket=f"pushed-{i}")
    finally:
        srv.stop()
