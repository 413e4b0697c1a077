"""Hostile and broken clients: the server answers with an S3 error or drops the connection, keeps serving
everyone else, and never makes half an upload visible."""

import socket
import time

import pytest
from botocore.exceptions import ClientError

from tests.support import raw


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_response(sock) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def signed_put_head(server, bucket, key, length) -> bytes:
    """A correctly signed PUT's request head (UNSIGNED-PAYLOAD) for a body that will never fully arrive."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="PUT", url=f"http://127.0.0.1:{server.port}/{bucket}/{key}",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Length": str(length)})
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(req)
    lines = [f"PUT /{bucket}/{key} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"] + \
        [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_client_that_disconnects_mid_put_leaves_no_object(server, s3, bucket):
    for size_sent in (0, 10, 300_000, 2_500_000):
        sock = connect(server)
        sock.sendall(signed_put_head(server, bucket, f"cut-{size_sent}", 5_000_000))
        sock.sendall(b"x" * size_sent)
        time.sleep(0.1)
        sock.close()
    time.sleep(0.5)
    for size_sent in (0, 10, 300_000, 2_500_000):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=f"cut-{size_sent}")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_object(Bucket=bucket, Key="after", Body=b"still serving")
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"still serving"


def test_a_thousand_idle_keep_alive_connections_do_not_stop_service(server, s3, bucket):
    socks = []
    try:
        for _ in range(1000):
            socks.append(connect(server))
        s3.put_object(Bucket=bucket, Key="busy", Body=b"ok")
        assert s3.get_object(Bucket=bucket, Key="busy")["Body"].read() == b"ok"
        # and the idle ones are real connections the server still answers on
        socks[0].sendall(b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(socks[0]).startswith(b"HTTP/1.1 200")
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n",
    b"GET /b/k HTTP/9.9\r\nHost: x\r\n\r\n",
])
def test_malformed_http_gets_a_4xx_and_the_server_keeps_serving(server, s3, bucket, request_bytes):
    sock = connect(server)
    try:
        sock.sendall(request_bytes)
        head = read_response(sock)
        if head:  # answering with a 4xx or just closing are both fine; a 5xx is not
            status = int(head.split(b" ", 2)[1])
            assert 400 <= status < 500, head[:200]
    finally:
        sock.close()
    s3.put_object(Bucket=bucket, Key="alive", Body=b"1")


def test_unknown_http_method_is_an_s3_error_not_a_500(server):
    r = raw.send(server, "PATCH", "/whatever")
    assert 400 <= r.status < 500


def test_no_traceback_or_internal_detail_in_error_bodies(server, bucket):
    r = raw.signed(server, "PUT", f"/{bucket}/" + "k" * 2000, body=b"x")
    assert r.status == 400 and b"KeyTooLongError" in r.body
    assert b"Traceback" not in r.body and b".py" not in r.body
