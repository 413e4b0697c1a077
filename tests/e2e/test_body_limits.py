"""Body limits are enforced from the request head: a PutObject or UploadPart declaring more than 5 GiB (in
Content-Length, or in x-amz-decoded-content-length for an aws-chunked body) is answered 400 EntityTooLarge before
a byte of the body is read. These tests send only the head and read the answer; nothing else is ever sent. Both
HTTP fronts (--http-front sanic and raw) are held to it."""

import socket
import xml.etree.ElementTree as ET

import pytest

from tests.s3.streaming_support import sign_headers
from tests.support.server import CairnServer

LIMIT = 5 << 30  # 5 GiB: the largest single PUT and the largest part S3 accepts


@pytest.fixture(scope="module", params=["sanic", "raw"])
def server(request, tmp_path_factory):
    srv = CairnServer(tmp_path_factory.mktemp("limits"), shards=2, extra=["--http-front", request.param]).start()
    yield srv
    srv.stop()

# s3 and bucket come from tests/conftest.py, built on this module's server


def head_only(server, method: str, path: str, headers: dict) -> bytes:
    """Send a request head (no body), return what the server answers to it, stopping at a complete response."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data or (b"</Error>" not in data and not data.startswith(b"HTTP/1.1 100")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def signed_head(server, path: str, length: int, *, chunked: bool = False, expect: bool = False) -> dict:
    if chunked:
        headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(length),
                   "Content-Length": str(length + 1_000_000)}
        payload_hash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    else:
        headers, payload_hash = {"Content-Length": str(length)}, "UNSIGNED-PAYLOAD"
    if expect:
        headers["Expect"] = "100-continue"
    signed = sign_headers(server, "PUT", path, payload_hash, headers)
    return {**signed, **{k: v for k, v in headers.items() if k.startswith("Content-Length")}}


def assert_entity_too_large(answer: bytes, declared: int) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:200]  # no "100 Continue" inviting the body first
    request_id = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                      if line.lower().startswith(b"x-amz-request-id:"))
    error = ET.fromstring(body)
    assert error.findtext("Code") == "EntityTooLarge"
    assert error.findtext("ProposedSize") == str(declared)
    assert error.findtext("MaxSizeAllowed") == str(LIMIT)
    assert error.findtext("RequestId") == request_id.decode()


@pytest.mark.parametrize("declared", [LIMIT + 1, 6 << 30, 1 << 40])
@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100-continue"])
def test_put_object_declaring_more_than_5_gib_is_refused_from_its_head(server, bucket, declared, expect):
    path = f"/{bucket}/huge"
    assert_entity_too_large(head_only(server, "PUT", path, signed_head(server, path, declared, expect=expect)),
                            declared)


def test_upload_part_declaring_more_than_5_gib_is_refused_from_its_head(server, s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    path = f"/{bucket}/parts?partNumber=1&uploadId={upload}"
    assert_entity_too_large(head_only(server, "PUT", path, signed_head(server, path, LIMIT + 1)), LIMIT + 1)
    assert s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload).get("Parts", []) == []


def test_aws_chunked_body_declaring_a_decoded_length_over_5_gib_is_refused_from_its_head(server, bucket):
    path = f"/{bucket}/chunked"
    assert_entity_too_large(head_only(server, "PUT", path, signed_head(server, path, LIMIT + 1, chunked=True)),
                            LIMIT + 1)


def test_exactly_5_gib_is_accepted_the_server_asks_for_the_body(server, bucket):
    path = f"/{bucket}/limit"
    answer = head_only(server, "PUT", path, signed_head(server, path, LIMIT, expect=True))
    assert answer.startswith(b"HTTP/1.1 100 Continue"), answer[:200]


def test_nothing_of_a_refused_upload_is_visible(server, s3, bucket):
    path = f"/{bucket}/refused"
    head_only(server, "PUT", path, signed_head(server, path, 6 << 30))
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
