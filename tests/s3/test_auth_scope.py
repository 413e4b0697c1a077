"""The credential scope must name this server's region (--region, default us-east-1) and the service "s3".

S3 refuses a header-signed request scoped to another region with 400 AuthorizationHeaderMalformed and a
presigned URL with 400 AuthorizationQueryParametersError; both messages say "the region 'X' is wrong;
expecting 'Y'" and the error carries <Region>Y</Region>, which is how SDKs learn where to re-sign.
"""

import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.support import raw
from tests.support.server import CairnServer


def client(server, region: str):
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key, region_name=region,
                        config=Config(signature_version="s3v4", retries={"max_attempts": 1, "mode": "standard"}))


def signed_for(server, path: str, *, region: str = "us-east-1", service: str = "s3") -> raw.Reply:
    url = f"http://127.0.0.1:{server.port}{path}"
    req = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), service, region).add_auth(req)
    return raw.send(server, "GET", path, headers=dict(req.prepare().headers.items()))


def assert_s3_error(reply: raw.Reply, code: str, status: int = 400) -> None:
    assert reply.status == status, reply.body
    assert f"<Code>{code}</Code>".encode() in reply.body
    request_id = reply.headers["x-amz-request-id"]
    assert request_id and f"<RequestId>{request_id}</RequestId>".encode() in reply.body


def test_a_request_signed_for_another_region_is_authorization_header_malformed_naming_ours(server, bucket):
    reply = signed_for(server, f"/{bucket}", region="eu-west-1")
    assert_s3_error(reply, "AuthorizationHeaderMalformed")
    assert b"the region 'eu-west-1' is wrong; expecting 'us-east-1'" in reply.body
    assert b"<Region>us-east-1</Region>" in reply.body


def test_boto3_configured_for_another_region_follows_the_region_in_the_error_and_succeeds(server, s3, bucket):
    # botocore's S3 region redirector reads <Region> from AuthorizationHeaderMalformed and re-signs, as on AWS
    other = client(server, "ap-southeast-2")
    scopes = []
    other.meta.events.register("before-send.s3", lambda request, **_: scopes.append(
        request.headers["Authorization"].decode().split("Credential=")[1].split(",")[0].split("/")[2]))
    other.put_object(Bucket=bucket, Key="redirected", Body=b"x")
    assert scopes == ["ap-southeast-2", "us-east-1"]
    assert s3.get_object(Bucket=bucket, Key="redirected")["Body"].read() == b"x"


def test_a_request_signed_for_another_service_is_authorization_header_malformed(server, bucket):
    reply = signed_for(server, f"/{bucket}", service="ec2")
    assert_s3_error(reply, "AuthorizationHeaderMalformed")
    assert b'incorrect service "ec2"' in reply.body


def test_a_presigned_url_for_another_region_is_authorization_query_parameters_error(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    url = client(server, "eu-west-1").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert "%2Feu-west-1%2Fs3%2F" in url
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=10)
    body = err.value.read()
    assert err.value.code == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in body
    assert b"Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting " \
           b"'us-east-1'" in body
    assert b"<Region>us-east-1</Region>" in body and err.value.headers["x-amz-request-id"]
    ours = client(server, "us-east-1").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert urllib.request.urlopen(ours, timeout=10).read() == b"body"


def test_a_server_started_with_region_accepts_that_region_only(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=1, extra=["--region", "eu-central-1"]).start()
    try:
        local = client(srv, "eu-central-1")
        local.create_bucket(Bucket="frankfurt")
        local.put_object(Bucket="frankfurt", Key="k", Body=b"here")
        assert local.get_object(Bucket="frankfurt", Key="k")["Body"].read() == b"here"
        reply = signed_for(srv, "/frankfurt/k", region="us-east-1")
        assert_s3_error(reply, "AuthorizationHeaderMalformed")
        assert b"expecting 'eu-central-1'" in reply.body and b"<Region>eu-central-1</Region>" in reply.body
    finally:
        srv.stop()
