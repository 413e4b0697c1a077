"""SigV4 on every request: the wrong key, secret or signature is refused with the S3 error."""

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def test_unknown_access_key_is_invalid_access_key_id(server):
    import boto3
    c = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id="nobody",
                     aws_secret_access_key="x", region_name="us-east-1")
    with pytest.raises(ClientError) as e:
        c.list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_secret_is_signature_does_not_match(server):
    import boto3
    c = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                     aws_secret_access_key="wrong", region_name="us-east-1")
    with pytest.raises(ClientError) as e:
        c.list_buckets()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_anonymous_request_is_access_denied(server, bucket):
    r = raw.send(server, "GET", f"/{bucket}")
    assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.body
    assert r.headers["x-amz-request-id"] and b"<RequestId>" in r.body


def test_tampered_header_after_signing_is_rejected(server, bucket):
    r = raw.signed(server, "GET", f"/{bucket}", headers={"x-amz-meta-a": "1"})
    assert r.status == 200
    # same signature, different signed header value
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import hashlib
    req = AWSRequest(method="GET", url=f"http://127.0.0.1:{server.port}/{bucket}",
                     headers={"x-amz-meta-a": "1", "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(req)
    headers = dict(req.prepare().headers)
    headers["x-amz-meta-a"] = "2"
    r = raw.send(server, "GET", f"/{bucket}", headers=headers)
    assert r.status == 403 and b"SignatureDoesNotMatch" in r.body


def test_error_body_never_contains_the_secret(server):
    r = raw.signed(server, "GET", "/", secret="wrong-secret")
    assert r.status == 403
    assert server.secret_key.encode() not in r.body


def test_unimplemented_subresource_is_not_implemented_not_a_wrong_answer(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
