"""Bucket configuration validation (shards/bucket_config.py): the codes and messages S3 answers, table-driven."""

import pytest

from shards import bucket_config as bc
from shards.errors import S3Error


def raises(code: str, fn, *args):
    with pytest.raises(S3Error) as e:
        fn(*args)
    assert e.value.code == code
    return e.value


# --- versioning --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc, expected", [
    ({"status": "Enabled"}, "Enabled"),
    ({"status": "Suspended"}, "Suspended"),
    ({"status": "Suspended", "mfa_delete": "Disabled"}, "Suspended"),
    ({"status": None}, None),
    ({"mfa_delete": "Disabled"}, None),
])
def test_valid_versioning_documents_give_the_new_state_or_none_for_unchanged(doc, expected):
    assert bc.validate_versioning(doc) == expected


@pytest.mark.parametrize("doc", [{"status": "enabled"}, {"status": "On"}, {"status": ""},
                                 {"status": "Enabled", "mfa_delete": "yes"}])
def test_versioning_status_or_mfa_delete_outside_the_schema_is_malformed_xml(doc):
    raises("MalformedXML", bc.validate_versioning, doc)


def test_enabling_mfa_delete_is_not_implemented():
    err = raises("NotImplemented", bc.validate_versioning, {"status": "Enabled", "mfa_delete": "Enabled"})
    assert err.status == 501


# --- tags --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tags", [
    [["a", ""]],
    [["k" * 128, "v" * 256]],
    [["Project Name", "Space Odyssey 2001"]],
    [["päth/ünïcode:é", "日本語 値"]],
    [["a_b.c:d/e=f+g-h@i", "_.:/=+-@"]],
    [[f"k{i}", "v"] for i in range(50)],
    [],
])
def test_tags_within_the_rules_are_kept_in_order(tags):
    assert bc.validate_tags(tags) == tags


@pytest.mark.parametrize("tags, message", [
    ([["", "v"]], "The TagKey you have provided is invalid"),
    ([["k" * 129, "v"]], "The TagKey you have provided is invalid"),
    ([["bad#key", "v"]], "The TagKey you have provided is invalid"),
    ([["k", "v" * 257]], "The TagValue you have provided is invalid"),
    ([["k", "a&b"]], "The TagValue you have provided is invalid"),
    ([["k", "<script>"]], "The TagValue you have provided is invalid"),
    ([["dup", "1"], ["dup", "2"]], "Cannot provide multiple Tags with the same key"),
    ([["aws:createdBy", "me"]], "Your TagKey cannot be prefixed with aws:"),
    ([[f"k{i}", "v"] for i in range(51)], "Bucket tag count cannot be greater than 50"),
])
def test_invalid_tags_are_invalid_tag_with_the_s3_message(tags, message):
    err = raises("InvalidTag", bc.validate_tags, tags)
    assert err.message == message and err.status == 400


def test_invalid_tag_value_error_names_the_key_and_value():
    err = raises("InvalidTag", bc.validate_tags, [["ok", "fine"], ["k", "a&b"]])
    assert err.extra == {"TagKey": "k", "TagValue": "a&b"}


def test_the_first_offending_tag_decides_the_error():
    err = raises("InvalidTag", bc.validate_tags, [["dup", "x"], ["dup", "a&b"], ["", "v"]])
    assert err.message == "Cannot provide multiple Tags with the same key"


def test_tag_lengths_count_characters_not_bytes():
    assert bc.validate_tags([["é" * 128, "ü" * 256]]) == [["é" * 128, "ü" * 256]]


# --- CORS --------------------------------------------------------------------------------------------------------

def rule(**kw):
    base = {"id": None, "origins": ["*"], "methods": ["GET"], "headers": [], "expose": [], "max_age": None}
    base.update(kw)
    return base


def test_valid_cors_rules_are_normalised_with_an_integer_max_age():
    out = bc.validate_cors([rule(id="r1", origins=["http://*.example.com"], methods=["GET", "PUT"],
                                 headers=["x-amz-*"], expose=["ETag", "x-amz-request-id"], max_age="3000")])
    assert out == [{"id": "r1", "origins": ["http://*.example.com"], "methods": ["GET", "PUT"],
                    "headers": ["x-amz-*"], "expose": ["ETag", "x-amz-request-id"], "max_age": 3000}]


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "POST", "DELETE"])
def test_every_allowed_cors_method_is_accepted(method):
    assert bc.validate_cors([rule(methods=[method])])[0]["methods"] == [method]


@pytest.mark.parametrize("rules", [
    [],
    [rule() for _ in range(101)],
    [rule(origins=[])],
    [rule(methods=[])],
    [rule(max_age="soon")],
    [rule(max_age="-5")],
])
def test_structurally_wrong_cors_configurations_are_malformed_xml(rules):
    raises("MalformedXML", bc.validate_cors, rules)


def test_one_hundred_cors_rules_are_the_limit():
    assert len(bc.validate_cors([rule() for _ in range(100)])) == 100


@pytest.mark.parametrize("bad, message", [
    (rule(methods=["GET", "PATCH"]), "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    (rule(methods=["get"]), "Found unsupported HTTP method in CORS config. Unsupported method is get"),
    (rule(origins=["http://*.*.example.com"]), 'AllowedOrigin "http://*.*.example.com" can not have more than one wildcard.'),
    (rule(headers=["x-*-*"]), 'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    (rule(expose=["x bad"]), 'ExposeHeader "x bad" contains invalid character.'),
])
def test_invalid_cors_values_are_invalid_request_with_the_s3_message(bad, message):
    assert raises("InvalidRequest", bc.validate_cors, [bad]).message == message


def test_cors_rule_id_longer_than_255_is_rejected():
    raises("InvalidArgument", bc.validate_cors, [rule(id="x" * 256)])
    assert bc.validate_cors([rule(id="x" * 255)])[0]["id"] == "x" * 255


# --- location ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("constraint, expected", [
    (None, "us-east-1"), ("", "us-east-1"), ("eu-west-1", "eu-west-1"), ("ap-southeast-2", "ap-southeast-2"),
    ("us-gov-west-1", "us-gov-west-1"), ("cn-northwest-1", "cn-northwest-1"), ("EU", "EU"),
])
def test_valid_location_constraints(constraint, expected):
    assert bc.check_location(constraint, "us-east-1") == expected


@pytest.mark.parametrize("constraint", ["us-east-1", "mars-1", "EU-WEST-1", "eu-west", "eu west 1", "x" * 100])
def test_invalid_location_constraints_are_invalid_location_constraint(constraint):
    err = raises("InvalidLocationConstraint", bc.check_location, constraint, "us-east-1")
    assert err.extra == {"LocationConstraint": constraint} and err.status == 400


def test_a_custom_server_region_is_a_valid_location_constraint():
    assert bc.check_location("homelab", "homelab") == "homelab"
    assert bc.check_location(None, "homelab") == "homelab"


@pytest.mark.parametrize("location, region", [(None, "us-east-1"), ("EU", "eu-west-1"), ("eu-west-2", "eu-west-2")])
def test_region_of_maps_legacy_locations(location, region):
    assert bc.region_of(location) == region


# --- configure ---------------------------------------------------------------------------------------------------

def test_configure_sets_a_field_without_touching_the_others():
    cfg = {"name": "b", "tags": [["a", "1"]]}
    new = bc.configure(cfg, "versioning", {"status": "Enabled"})
    assert new == {"name": "b", "tags": [["a", "1"]], "versioning": "Enabled"} and cfg == {"name": "b", "tags": [["a", "1"]]}


def test_configure_returns_the_same_config_when_nothing_changes():
    cfg = {"name": "b", "versioning": "Enabled"}
    assert bc.configure(cfg, "versioning", {"status": "Enabled"}) is cfg
    assert bc.configure(cfg, "versioning", {"status": None}) is cfg
    assert bc.configure(cfg, "cors", None) is cfg


def test_configure_deletes_tags_and_cors_but_never_versioning():
    cfg = {"name": "b", "tags": [["a", "1"]], "versioning": "Suspended"}
    assert bc.configure(cfg, "tags", None) == {"name": "b", "versioning": "Suspended"}
    raises("InvalidRequest", bc.configure, cfg, "versioning", None)


def test_configure_an_unknown_field_is_not_implemented():
    raises("NotImplemented", bc.configure, {"name": "b"}, "lifecycle", {})
