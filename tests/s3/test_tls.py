"""HTTPS with --tls-cert/--tls-key: a self-signed certificate generated here, trusted explicitly by the clients
(boto3 verify=, urllib/http.client contexts); aws-chunked uploads (boto3's default over HTTPS, and hand-signed
STREAMING-AWS4-HMAC-SHA256-PAYLOAD chunks) stream through TLS."""

import datetime
import hashlib
import hmac
import http.client
import ipaddress
import ssl
import urllib.request
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import SSLError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.server import CairnServer

REGION = "us-east-1"


def self_signed(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost, valid for a day; returns (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cairn test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class TlsServer(CairnServer):
    def __init__(self, data_dir, cert: str, key: str) -> None:
        super().__init__(data_dir, shards=2, extra=["--tls-cert", cert, "--tls-key", key])
        self.cafile = cert
        self.context = ssl.create_default_context(cafile=cert)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self, verify=None, **config):
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, **config)
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=REGION, config=cfg,
                            verify=self.cafile if verify is None else verify)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    srv = TlsServer(tmp_path_factory.mktemp("cairn-tls-data"), cert, key).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def s3tls(tls):
    c = tls.client()
    c.create_bucket(Bucket="tls-bucket")
    return c


def test_banner_announces_an_https_endpoint(tls):
    assert f"listening on https://127.0.0.1:{tls.port}" in tls.banner


def test_boto3_trusting_the_certificate_round_trips_an_object_over_https(s3tls):
    s3tls.put_object(Bucket="tls-bucket", Key="hello.txt", Body=b"over tls")
    assert s3tls.get_object(Bucket="tls-bucket", Key="hello.txt")["Body"].read() == b"over tls"
    assert [o["Key"] for o in s3tls.list_objects_v2(Bucket="tls-bucket", Prefix="hello")["Contents"]] == ["hello.txt"]


def test_boto3_default_aws_chunked_upload_with_a_checksum_trailer_works_over_tls(s3tls):
    sent = {}
    def capture(request, **_):
        sent.update({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    s3tls.meta.events.register("before-send.s3.PutObject", capture)
    body = bytes(range(256)) * 12_288  # 3 MiB
    try:
        s3tls.put_object(Bucket="tls-bucket", Key="chunked.bin", Body=body, ChecksumAlgorithm="CRC32")
    finally:
        s3tls.meta.events.unregister("before-send.s3.PutObject", capture)
    assert sent["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert "aws-chunked" in sent["content-encoding"] and sent["x-amz-trailer"] == "x-amz-checksum-crc32"
    got = s3tls.get_object(Bucket="tls-bucket", Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumCRC32"]


class StreamingSigner(S3SigV4Auth):
    """botocore's SigV4 header signer, declaring the signed aws-chunked payload instead of hashing the body."""

    def payload(self, request):
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _signing_key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signed_chunks(payload: bytes, chunk: int, key: bytes, amz_date: str, seed: str) -> bytes:
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    empty = hashlib.sha256(b"").hexdigest()
    out, previous = bytearray(), seed
    for data in [payload[i:i + chunk] for i in range(0, len(payload), chunk)] + [b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                             hashlib.sha256(data).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode()) + data + b"\r\n"
    return bytes(out)


def send_signed_chunked(tls, path: str, payload: bytes, tamper: bool = False) -> tuple[int, bytes]:
    url = f"{tls.endpoint}{path}"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))}
    req = AWSRequest(method="PUT", url=url, headers=headers)
    StreamingSigner(Credentials(tls.access_key, tls.secret_key), "s3", REGION).add_auth(req)
    prepared = dict(req.prepare().headers.items())
    amz_date = prepared["X-Amz-Date"]
    seed = prepared["Authorization"].rsplit("Signature=", 1)[1]
    body = signed_chunks(payload, 64 * 1024, _signing_key(tls.secret_key, amz_date[:8]), amz_date, seed)
    if tamper:
        body = body.replace(b"\x07", b"\x08", 1)
    prepared["Content-Length"] = str(len(body))
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=tls.context, timeout=30)
    conn.request("PUT", parts.path, body=body, headers=prepared)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def test_signed_aws_chunked_upload_is_verified_and_stored_over_tls(tls, s3tls):
    payload = bytes(range(251)) * 1000  # not a multiple of the chunk size
    status, body = send_signed_chunked(tls, "/tls-bucket/signed-chunks.bin", payload)
    assert status == 200, body
    assert s3tls.get_object(Bucket="tls-bucket", Key="signed-chunks.bin")["Body"].read() == payload


def test_tampered_signed_chunk_over_tls_is_signature_does_not_match(tls, s3tls):
    payload = bytes(range(251)) * 1000
    status, body = send_signed_chunked(tls, "/tls-bucket/tampered.bin", payload, tamper=True)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_presigned_url_works_over_https(tls, s3tls):
    s3tls.put_object(Bucket="tls-bucket", Key="pre", Body=b"presigned over tls")
    signer = tls.client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": "tls-bucket", "Key": "pre"}, ExpiresIn=60)
    assert url.startswith("https://")
    with urllib.request.urlopen(url, context=tls.context, timeout=30) as r:
        assert r.read() == b"presigned over tls"


def test_a_client_that_does_not_trust_the_certificate_refuses_the_connection(tls):
    with pytest.raises(SSLError):
        tls.client(verify=True).list_buckets()


def test_plain_http_to_the_tls_port_gets_no_s3_answer(tls):
    conn = http.client.HTTPConnection("127.0.0.1", tls.port, timeout=10)
    try:
        conn.request("GET", "/_cairn/health")
        status = conn.getresponse().status
    except (http.client.HTTPException, OSError):
        status = None
    finally:
        conn.close()
    assert status != 200
