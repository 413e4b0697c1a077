"""HTTP/1.1 as clients speak it, on raw sockets, against both fronts: keep-alive, pipelining order, HEAD framing,
Expect: 100-continue, chunked request bodies, malformed and oversized heads, admin routes, graceful shutdown."""

import os
import signal
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.support.server import CairnServer


def presign(server, method: str, bucket: str, key: str) -> str:
    """A presigned URL's path and query (UNSIGNED-PAYLOAD for PUT), as a request target."""
    s3 = server.client(signature_version="s3v4")
    op = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object", "DELETE": "delete_object"}[method]
    url = urlsplit(s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": key}, ExpiresIn=300))
    return f"{url.path}?{url.query}"


def request(server, method: str, target: str, headers: dict | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    hdrs = dict(headers or {})
    if body and "Transfer-Encoding" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Reader:
    """Reads responses off one connection, framed by Content-Length (or none, for HEAD and 1xx/204/304)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 20)
        self.buf += chunk
        return bool(chunk)

    def response(self, head_only: bool = False) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError(f"closed before a full response head: {self.buf[:200]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if head_only or status in (100, 204, 304):
            return status, headers, b""
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            if not self._fill():
                raise ConnectionError("closed inside a response body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed(self) -> bool:
        """True once the server has closed (a reset counts); anything still buffered means it was not."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            pass
        return True


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def test_keep_alive_serves_many_requests_on_one_connection(server):
    with connect(server) as sock:
        r = Reader(sock)
        for _ in range(5):
            sock.sendall(request(server, "GET", "/_cairn/health"))
            status, headers, body = r.response()
            assert status == 200 and body.startswith(b"ok\n")
            assert headers["connection"] == "keep-alive"


def test_pipelined_requests_are_answered_in_order(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"first")
    burst = (request(server, "PUT", presign(server, "PUT", bucket, "b"), body=b"second body")
             + request(server, "GET", presign(server, "GET", bucket, "a"))
             + request(server, "HEAD", presign(server, "HEAD", bucket, "b"))
             + request(server, "GET", presign(server, "GET", bucket, "missing"))
             + request(server, "GET", presign(server, "GET", bucket, "b")))
    with connect(server) as sock:
        sock.sendall(burst)
        r = Reader(sock)
        assert r.response()[0] == 200
        assert r.response()[2] == b"first"
        status, headers, body = r.response(head_only=True)
        assert status == 200 and headers["content-length"] == str(len(b"second body")) and body == b""
        status, _, body = r.response()
        assert status == 404 and b"<Code>NoSuchKey</Code>" in body
        assert r.response()[2] == b"second body"


def test_head_sends_the_object_length_and_no_body(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="h", Body=b"x" * 300_000)  # larger than what is answered in one write
    with connect(server) as sock:
        sock.sendall(request(server, "HEAD", presign(server, "HEAD", bucket, "h"))
                     + request(server, "GET", "/_cairn/health"))
        r = Reader(sock)
        status, headers, _ = r.response(head_only=True)
        assert status == 200 and headers["content-length"] == "300000"
        status, _, body = r.response()  # the next response starts right after the HEAD's head
        assert status == 200 and body.startswith(b"ok\n")


def test_expect_100_continue_waits_for_the_go_ahead_before_the_body(server, s3, bucket):
    with connect(server) as sock:
        sock.sendall(request(server, "PUT", presign(server, "PUT", bucket, "exp"),
                             {"Expect": "100-continue", "Content-Length": "5"}))
        r = Reader(sock)
        assert r.response()[0] == 100
        sock.sendall(b"hello")
        assert r.response()[0] == 200
    assert s3.get_object(Bucket=bucket, Key="exp")["Body"].read() == b"hello"


def test_expect_100_continue_with_an_empty_body_still_gets_its_100_first(server, s3, bucket):
    """boto3 sends Expect even for an empty PutObject; when the first line it reads is the final answer it
    misreads the next response on that pooled connection, so the 100 comes first, as sanic sends it."""
    with connect(server) as sock:
        r = Reader(sock)
        for _ in range(2):
            sock.sendall(request(server, "PUT", presign(server, "PUT", bucket, "empty"),
                                 {"Expect": "100-continue", "Content-Length": "0"}))
            assert r.response()[0] == 100
            assert r.response()[0] == 200
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


def test_boto3_puts_of_every_size_on_one_connection_are_each_acknowledged_by_their_own_answer(server, s3, bucket):
    sizes = [0, 1, 0, 70_000, 0, 1_100_000, 0]
    for i, size in enumerate(sizes):
        etag = s3.put_object(Bucket=bucket, Key=f"s{i}", Body=b"z" * size)["ETag"]
        assert etag == s3.head_object(Bucket=bucket, Key=f"s{i}")["ETag"]
        assert s3.head_object(Bucket=bucket, Key=f"s{i}")["ContentLength"] == size


def test_expect_100_continue_refused_early_needs_no_body(server):
    """An upload the server refuses (no such bucket) gets its error without the client sending the body."""
    with connect(server) as sock:
        sock.sendall(request(server, "PUT", presign(server, "PUT", "no-such-bucket-here", "k"),
                             {"Expect": "100-continue", "Content-Length": "100000"}))
        r = Reader(sock)
        status, _, body = r.response()
        if status == 100:  # sanic answers "100 Continue" and the error together
            status, _, body = r.response()
        assert status == 404 and b"<Code>NoSuchBucket</Code>" in body


def test_chunked_transfer_encoding_request_body_is_stored(server, s3, bucket):
    parts = [b"a" * 70_000, b"b" * 5, b"c" * 100_000]
    body = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(request(server, "PUT", presign(server, "PUT", bucket, "chunked"),
                             {"Transfer-Encoding": "chunked"}, body)
                     + request(server, "GET", "/_cairn/health"))
        r = Reader(sock)
        assert r.response()[0] == 200
        assert r.response()[0] == 200  # the request after the last chunk parses
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"".join(parts)


def test_malformed_request_gets_an_s3_error_and_the_connection_closes(server):
    with connect(server) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        r = Reader(sock)
        status, headers, body = r.response()
        assert status == 400 and body.startswith(b"<?xml") and b"<Code>" in body
        assert r.closed()


def test_oversized_request_head_is_refused_with_400(server):
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        r = Reader(sock)
        status, _, body = r.response()
        assert status == 400 and b"<Code>" in body
        assert r.closed()


def test_a_head_of_many_small_headers_is_refused_too(server):
    headers = "".join(f"X-H{i}: {'v' * 40}\r\n" for i in range(400))
    with connect(server) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        assert Reader(sock).response()[0] == 400


def test_admin_routes(server):
    with connect(server) as sock:
        r = Reader(sock)
        sock.sendall(request(server, "GET", "/_cairn/ready"))
        assert r.response()[2] == b"ready\n"
        sock.sendall(request(server, "HEAD", "/_cairn/health"))
        status, headers, _ = r.response(head_only=True)
        assert status == 200 and int(headers["content-length"]) > 0
        sock.sendall(request(server, "GET", "/"))  # an S3 request (refused: unsigned) to be counted; admin ones are not
        assert r.response()[0] == 403
        # a router worker writes its counts at most once a second (router/metrics.py): poll until it has
        deadline = time.monotonic() + 5
        while True:
            sock.sendall(request(server, "GET", "/_cairn/metrics"))
            status, headers, body = r.response()
            assert status == 200
            if b"cairn_requests_total" in body or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert b"cairn_requests_total" in body
        sock.sendall(request(server, "POST", "/_cairn/metrics", body=b"x"))
        assert r.response()[0] == 405


def test_http_1_0_request_is_answered_and_closed(server):
    with connect(server) as sock:
        sock.sendall(b"GET /_cairn/health HTTP/1.0\r\n\r\n")
        r = Reader(sock)
        status, headers, _ = r.response()
        assert status == 200 and headers["connection"] == "close"
        assert r.closed()


@pytest.fixture
def own_server(tmp_path, front):
    srv = CairnServer(tmp_path / "data", shards=1, extra=["--http-front", front]).start()
    yield srv
    srv.stop()


def test_sigterm_closes_idle_connections_and_exits_cleanly(own_server):
    sock = connect(own_server)
    sock.sendall(request(own_server, "GET", "/_cairn/health"))
    r = Reader(sock)
    assert r.response()[0] == 200
    own_server.proc.send_signal(signal.SIGTERM)
    assert r.closed()  # the idle keep-alive connection is closed by the router, not left hanging
    assert own_server.proc.wait(30) == 0
    sock.close()


def test_a_request_in_flight_at_sigterm_is_answered(own_server):
    s3 = own_server.client()
    s3.create_bucket(Bucket="inflight")
    routers = [pid for title, pid in own_server.pids().items() if title.startswith("cairn: router")]
    sock = connect(own_server)
    sock.sendall(request(own_server, "PUT", presign(own_server, "PUT", "inflight", "k"),
                         {"Content-Length": "200000", "Expect": "100-continue"}))
    r = Reader(sock)
    assert r.response()[0] == 100  # the handler is reading the body: the request is in flight
    sock.sendall(b"x" * 100_000)
    for router in routers:  # whichever router holds the connection; the supervisor starts new ones
        os.kill(router, signal.SIGTERM)
    sock.sendall(b"y" * 100_000)
    assert r.response()[0] == 200
    assert r.closed()  # and then the stopping router lets the connection go
    sock.close()
    own_server.wait_ready()
    stored = own_server.client().get_object(Bucket="inflight", Key="k")["Body"].read()
    assert stored == b"x" * 100_000 + b"y" * 100_000
