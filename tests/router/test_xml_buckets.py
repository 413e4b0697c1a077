"""Bucket configuration XML (router/xml_buckets.py): structure errors are MalformedXML, rendering round-trips."""

import xml.etree.ElementTree as ET

import pytest

from router import xml_buckets as xb
from shards.errors import S3Error

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def malformed(fn, body: bytes):
    with pytest.raises(S3Error) as e:
        fn(body)
    assert e.value.code == "MalformedXML"


@pytest.mark.parametrize("body, expected", [
    (b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
     {"status": "Enabled", "mfa_delete": None}),
    (f"<VersioningConfiguration {NS}><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete>"
     f"</VersioningConfiguration>".encode(), {"status": "Suspended", "mfa_delete": "Disabled"}),
    (b"<VersioningConfiguration><MFADelete>Disabled</MFADelete></VersioningConfiguration>",
     {"status": None, "mfa_delete": "Disabled"}),
    (b"<VersioningConfiguration/>", {"status": None, "mfa_delete": None}),
])
def test_versioning_documents_parse(body, expected):
    assert xb.parse_versioning(body) == expected


@pytest.mark.parametrize("body", [
    b"<VersioningConfiguration><Status>Enabled</Status>",
    b"<Versioning><Status>Enabled</Status></Versioning>",
    b"<VersioningConfiguration><Status>Enabled</Status><Status>Enabled</Status></VersioningConfiguration>",
    b"<VersioningConfiguration><Unknown>1</Unknown></VersioningConfiguration>",
    b"<VersioningConfiguration><Status><b>Enabled</b></Status></VersioningConfiguration>",
    b'<VersioningConfiguration xmlns="urn:other"><Status>Enabled</Status></VersioningConfiguration>',
])
def test_malformed_versioning_documents(body):
    malformed(xb.parse_versioning, body)


def test_versioning_renders_empty_for_a_never_versioned_bucket():
    doc = ET.fromstring(xb.versioning(None))
    assert doc.tag.endswith("VersioningConfiguration") and len(doc) == 0
    assert ET.fromstring(xb.versioning("Suspended"))[0].text == "Suspended"


def test_tagging_parses_in_order_and_keeps_whitespace_and_empty_values():
    body = (b"<Tagging><TagSet><Tag><Key> b </Key><Value></Value></Tag>"
            b"<Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>")
    assert xb.parse_tagging(body) == [[" b ", ""], ["a", "1"]]


@pytest.mark.parametrize("body", [
    b"<Tagging></Tagging>",
    b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet><Tag><Key>a</Key><Key>b</Key><Value>1</Value></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet><Other/></TagSet></Tagging>",
    b"<Tagging><TagSet/><TagSet/></Tagging>",
])
def test_malformed_tagging_documents(body):
    malformed(xb.parse_tagging, body)


def test_tagging_render_round_trips_through_parse():
    tags = [["k&<>", 'v"\''], ["é", ""]]
    assert xb.parse_tagging(xb.tagging(tags)) == tags


def test_cors_document_parses_every_element():
    body = (b"<CORSConfiguration><CORSRule><ID>r</ID><AllowedOrigin>http://a</AllowedOrigin>"
            b"<AllowedOrigin>http://b</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader>"
            b"<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds> 30 </MaxAgeSeconds></CORSRule>"
            b"<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>")
    assert xb.parse_cors(body) == [
        {"id": "r", "origins": ["http://a", "http://b"], "methods": ["GET"], "headers": ["*"], "expose": ["ETag"],
         "max_age": "30"},
        {"id": None, "origins": ["*"], "methods": ["PUT"], "headers": [], "expose": [], "max_age": None}]


@pytest.mark.parametrize("body", [
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><Bogus/></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration><Rule/></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><ID>a</ID><ID>b</ID></CORSRule></CORSConfiguration>",
    b"<CORS/>",
    b"not xml",
])
def test_malformed_cors_documents(body):
    malformed(xb.parse_cors, body)


def test_cors_render_round_trips_through_parse():
    rules = [{"id": "r", "origins": ["http://*.x"], "methods": ["GET", "HEAD"], "headers": ["x-amz-*"],
              "expose": ["ETag"], "max_age": 5}]
    parsed = xb.parse_cors(xb.cors(rules))
    assert parsed == [{**rules[0], "max_age": "5"}]


def test_create_bucket_configuration_gives_location_and_tags():
    body = (b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
            b"<Tags><Tag><Key>team</Key><Value>data</Value></Tag></Tags></CreateBucketConfiguration>")
    assert xb.parse_create_bucket(body) == ("eu-west-1", [["team", "data"]])
    assert xb.parse_create_bucket(b"<CreateBucketConfiguration/>") == (None, None)


def test_list_buckets_renders_token_and_prefix_only_when_given():
    b = [{"name": "a", "created": 0.0, "region": "EU"}]
    doc = ET.fromstring(xb.list_buckets(b, "me", continuation_token=None, prefix=None, region_of=lambda r: "R"))
    names = [c.tag.rsplit("}", 1)[-1] for c in doc]
    assert names == ["Buckets", "Owner"]
    doc = ET.fromstring(xb.list_buckets(b, "me", continuation_token="t", prefix="a", region_of=lambda r: "R"))
    assert [c.tag.rsplit("}", 1)[-1] for c in doc] == ["Buckets", "Owner", "ContinuationToken", "Prefix"]
