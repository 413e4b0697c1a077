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


# --- ListBuckets pagination --------------------------------------------------------------------------------------

def _make(s3, names):
    for name in names:
        s3.create_bucket(Bucket=name)


def test_list_buckets_pages_with_max_buckets_and_continuation_token(s3):
    names = [f"lbpage-{i:02d}" for i in range(7)]
    _make(s3, names)
    seen, token, pages = [], None, 0
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_buckets(MaxBuckets=3, Prefix="lbpage-", **kw)
        assert page["Prefix"] == "lbpage-"
        seen += [b["Name"] for b in page["Buckets"]]
        pages += 1
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == names and pages == 3


def test_list_buckets_paginator_walks_every_page(s3):
    names = [f"lbpager-{i}" for i in range(5)]
    _make(s3, names)
    pages = list(s3.get_paginator("list_buckets").paginate(Prefix="lbpager-", PaginationConfig={"PageSize": 2}))
    assert [b["Name"] for p in pages for b in p["Buckets"]] == names and len(pages) == 3


def test_list_buckets_exactly_a_page_has_no_continuation_token(s3):
    _make(s3, ["lbexact-a", "lbexact-b"])
    page = s3.list_buckets(MaxBuckets=2, Prefix="lbexact-")
    assert [b["Name"] for b in page["Buckets"]] == ["lbexact-a", "lbexact-b"] and "ContinuationToken" not in page


def test_list_buckets_without_parameters_has_neither_token_nor_prefix(server):
    r = raw.signed(server, "GET", "/")
    assert r.status == 200 and b"<ContinuationToken>" not in r.body and b"<Prefix>" not in r.body


def test_list_buckets_filters_by_bucket_region(s3):
    s3.create_bucket(Bucket="lbregion-eu", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.create_bucket(Bucket="lbregion-us")
    eu = s3.list_buckets(Prefix="lbregion-", BucketRegion="eu-central-1")["Buckets"]
    assert [(b["Name"], b["BucketRegion"]) for b in eu] == [("lbregion-eu", "eu-central-1")]
    us = s3.list_buckets(Prefix="lbregion-", BucketRegion="us-east-1")["Buckets"]
    assert [b["Name"] for b in us] == ["lbregion-us"]


@pytest.mark.parametrize("query", ["max-buckets=0", "max-buckets=10001", "max-buckets=ten", "max-buckets=-1"])
def test_out_of_range_max_buckets_is_invalid_argument(server, query):
    r = raw.signed(server, "GET", f"/?{query}")
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


def test_garbage_continuation_token_is_invalid_argument(server):
    r = raw.signed(server, "GET", "/?continuation-token=%25%25not-a-token")
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


# --- CreateBucket options ----------------------------------------------------------------------------------------

def test_explicit_us_east_1_location_constraint_is_invalid_location_constraint(s3):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="explicit-us-east-1", CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert error_code(e) == "InvalidLocationConstraint"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("constraint", ["moon-base-1", "EU-WEST-1", "eu_west_1"])
def test_invalid_region_strings_are_invalid_location_constraint(server, constraint):
    body = f"<CreateBucketConfiguration><LocationConstraint>{constraint}</LocationConstraint>" \
           f"</CreateBucketConfiguration>".encode()
    r = raw.signed(server, "PUT", "/bad-location-bucket", body=body)
    assert r.status == 400 and b"<Code>InvalidLocationConstraint</Code>" in r.body
    assert f"<LocationConstraint>{constraint}</LocationConstraint>".encode() in r.body


def test_a_bucket_without_location_constraint_is_in_the_default_region(s3, bucket):
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"


def test_head_bucket_reports_the_bucket_region(s3):
    s3.create_bucket(Bucket="head-region-ap", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
    r = s3.head_bucket(Bucket="head-region-ap")
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "ap-southeast-2"


def test_private_acl_is_accepted_on_create(s3):
    s3.create_bucket(Bucket="acl-private-ok", ACL="private")
    s3.head_bucket(Bucket="acl-private-ok")


@pytest.mark.parametrize("kwargs", [{"ACL": "public-read"}, {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
                                    {"ObjectLockEnabledForBucket": True}, {"ObjectOwnership": "ObjectWriter"}])
def test_create_options_needing_acls_or_object_lock_are_not_implemented(s3, kwargs):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="unsupported-create-option", **kwargs)
    assert error_code(e) == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="unsupported-create-option")


def test_unknown_canned_acl_is_invalid_argument(server):
    r = raw.signed(server, "PUT", "/unknown-acl-bucket", headers={"x-amz-acl": "world-writable"})
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


# --- configuration is pushed to every router and survives a restart ----------------------------------------------

def test_bucket_configuration_reaches_every_router_and_survives_a_restart(tmp_path):
    from tests.support.server import CairnServer
    srv = CairnServer(tmp_path / "data", shards=2, extra=["--routers", "2"]).start()
    names = [f"cfg-pushed-{i}" for i in range(4)]
    cors = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]
    try:
        clients = [srv.client() for _ in range(8)]
        for i, name in enumerate(names):
            c = clients[i]
            c.create_bucket(Bucket=name)
            c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            c.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "n", "Value": str(i)}]})
            c.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
            for other in clients:  # new connections spread over both router workers
                assert other.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
                assert other.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "n", "Value": str(i)}]
        clients[0].put_bucket_versioning(Bucket=names[0], VersioningConfiguration={"Status": "Suspended"})
        clients[1].delete_bucket_cors(Bucket=names[1])
        srv.stop()
        srv.start()
        c = srv.client()
        assert c.get_bucket_versioning(Bucket=names[0])["Status"] == "Suspended"
        assert c.get_bucket_versioning(Bucket=names[3])["Status"] == "Enabled"
        assert c.get_bucket_tagging(Bucket=names[2])["TagSet"] == [{"Key": "n", "Value": "2"}]
        assert c.get_bucket_cors(Bucket=names[0])["CORSRules"] == cors
        with pytest.raises(ClientError) as e:
            c.get_bucket_cors(Bucket=names[1])
        assert error_code(e) == "NoSuchCORSConfiguration"
    finally:
        srv.stop()
