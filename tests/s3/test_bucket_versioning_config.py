"""Put/GetBucketVersioning as AWS documents them: Enabled/Suspended, an empty document for a bucket that was never
versioned, MalformedXML for anything else, MFA delete not implemented."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def error(exc_info) -> tuple[int, str]:
    r = exc_info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def put_doc(server, bucket: str, body: bytes, md5: bool = True):
    headers = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()} if md5 else {}
    return raw.signed(server, "PUT", f"/{bucket}?versioning", headers=headers, body=body)


def test_a_never_versioned_bucket_returns_an_empty_versioning_configuration(server, s3, bucket):
    out = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in out and "MFADelete" not in out
    r = raw.signed(server, "GET", f"/{bucket}?versioning")
    assert r.status == 200 and b"<Status>" not in r.body
    assert b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>' in r.body


def test_enabling_versioning_is_reported_as_enabled(s3, bucket):
    r = s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_suspending_after_enabling_is_reported_as_suspended(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_suspending_a_never_versioned_bucket_is_reported_as_suspended(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_re_enabling_a_suspended_bucket_is_reported_as_enabled(s3, bucket):
    for status in ("Enabled", "Suspended", "Enabled"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_a_document_without_status_leaves_the_state_unchanged(server, s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    r = put_doc(server, bucket, b"<VersioningConfiguration><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>")
    assert r.status == 200
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_mfa_delete_disabled_is_accepted_as_on_a_bucket_without_mfa(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Disabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_enabling_mfa_delete_is_not_implemented_and_changes_nothing(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, MFA="arn:aws:iam::1:mfa/root 123456",
                                 VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert error(e) == (501, "NotImplemented")
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


@pytest.mark.parametrize("body", [
    b"<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>",
    b"<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>",
    b"<VersioningConfiguration><Status>Enabled</Status>",
    b"<VersioningConfiguration><State>Enabled</State></VersioningConfiguration>",
    b"<Tagging><TagSet/></Tagging>",
    b"",
])
def test_malformed_versioning_documents_are_malformed_xml(server, s3, bucket, body):
    r = put_doc(server, bucket, body)
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def test_versioning_document_without_content_md5_is_refused(server, bucket):
    r = put_doc(server, bucket, b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
                md5=False)
    assert r.status == 400 and b"<Code>InvalidRequest</Code>" in r.body
    assert b"Missing required header for this request: Content-MD5" in r.body


def test_versioning_document_with_a_wrong_content_md5_is_bad_digest(server, bucket):
    body = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    r = raw.signed(server, "PUT", f"/{bucket}?versioning", body=body,
                   headers={"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()})
    assert r.status == 400 and b"<Code>BadDigest</Code>" in r.body


def test_versioning_document_with_an_unparseable_content_md5_is_invalid_digest(server, bucket):
    body = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    r = raw.signed(server, "PUT", f"/{bucket}?versioning", body=body, headers={"Content-MD5": "not-base64!"})
    assert r.status == 400 and b"<Code>InvalidDigest</Code>" in r.body


def test_versioning_of_a_missing_bucket_is_no_such_bucket(s3):
    for call in (lambda: s3.get_bucket_versioning(Bucket="no-such-versioned-bucket"),
                 lambda: s3.put_bucket_versioning(Bucket="no-such-versioned-bucket",
                                                  VersioningConfiguration={"Status": "Enabled"})):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == (404, "NoSuchBucket")
