"""Router workers answer GET/HEAD of small objects from what their shard last said (router/read_cache.py) while the
shard's change generation for the key stays the same: every change, through any worker, is seen at once."""

import hashlib
import http.client
import os
import signal
import socket
import time
import urllib.request

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import CairnServer


@pytest.fixture
def server(tmp_path):
    srv = CairnServer(tmp_path / "data", shards=2, extra=["--routers", "2"]).start()
    yield srv
    srv.stop()


def request(server, conn, method, path, body=b"", headers=None):
    """A signed request on a given keep-alive connection (which stays with one router worker)."""
    hdrs = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), **(headers or {})}
    req = AWSRequest(method=method, url=f"http://127.0.0.1:{server.port}{path}", data=body, headers=hdrs)
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "us-east-1").add_auth(req)
    conn.request(method, path, body=body, headers=dict(req.prepare().headers.items()))
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def connections(server, n):
    return [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(n)]


def shard_pids(server):
    return sorted(pid for title, pid in server.pids().items() if title.startswith("cairn: shard"))


def test_overwrites_deletes_and_tag_changes_through_one_worker_are_seen_at_once_through_every_other(server):
    s3 = server.client()
    s3.create_bucket(Bucket="hot-bucket")
    readers = connections(server, 8)  # spread over both workers by the kernel
    writer = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for n in range(25):
        body = f"version {n} ".encode() * (n + 1)
        status, headers, _ = request(server, writer, "PUT", "/hot-bucket/hot", body)
        assert status == 200
        for conn in readers:  # each read right after the acknowledged write, then again from what was kept
            for _ in range(2):
                status, got_headers, got = request(server, conn, "GET", "/hot-bucket/hot")
                assert (status, got) == (200, body), n
                assert got_headers["etag"] == headers["etag"]
    s3.put_object_tagging(Bucket="hot-bucket", Key="hot", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    for conn in readers:
        status, headers, _ = request(server, conn, "HEAD", "/hot-bucket/hot")
        assert (status, headers.get("x-amz-tagging-count")) == (200, "1")
    s3.copy_object(Bucket="hot-bucket", Key="hot", CopySource={"Bucket": "hot-bucket", "Key": "hot"}, MetadataDirective="REPLACE",
                   Metadata={"colour": "blue"}, ContentType="text/plain")
    for conn in readers:
        status, headers, _ = request(server, conn, "GET", "/hot-bucket/hot")
        assert (status, headers.get("x-amz-meta-colour"), headers["content-type"]) == (200, "blue", "text/plain")
    status, _, _ = request(server, writer, "DELETE", "/hot-bucket/hot")
    assert status == 204
    for conn in readers:
        assert request(server, conn, "GET", "/hot-bucket/hot")[0] == 404
        assert request(server, conn, "HEAD", "/hot-bucket/hot")[0] == 404


def test_a_kept_object_is_answered_without_its_shard_and_a_shard_restart_retires_it(tmp_path):
    server = CairnServer(tmp_path / "data", shards=1, extra=["--routers", "1"]).start()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="hot-bucket")
        s3.put_object(Bucket="hot-bucket", Key="kept", Body=b"kept bytes")
        s3.put_object(Bucket="hot-bucket", Key="other", Body=b"other bytes")
        conn = connections(server, 1)[0]
        assert request(server, conn, "GET", "/hot-bucket/kept")[2] == b"kept bytes"
        (shard,) = shard_pids(server)
        os.kill(shard, signal.SIGSTOP)
        try:
            assert request(server, conn, "GET", "/hot-bucket/kept")[::2] == (200, b"kept bytes")
            assert request(server, conn, "HEAD", "/hot-bucket/kept")[0] == 200
            probe = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1.5)
            with pytest.raises(socket.timeout):  # proof the shard is stopped: what was not kept waits for it
                request(server, probe, "GET", "/hot-bucket/other")
        finally:
            os.kill(shard, signal.SIGCONT)
        with urllib.request.urlopen(server.endpoint + "/_cairn/metrics", timeout=10) as r:  # one worker: its own
            text = r.read().decode()
        assert 'cairn_read_cache_total{result="hit"} 2.0' in text
        os.kill(shard, signal.SIGKILL)  # the supervisor starts it again, which moves its epoch on
        deadline = time.monotonic() + 30
        while True:
            pids = shard_pids(server)
            if pids and pids != [shard]:
                break
            assert time.monotonic() < deadline, "the shard was not restarted"
            time.sleep(0.05)
        server.wait_ready()
        fresh = connections(server, 1)[0]
        while request(server, fresh, "HEAD", "/hot-bucket/other")[0] != 200:  # the worker is linked to the new shard
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(pids[0], signal.SIGSTOP)
        try:
            probe = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1.5)
            with pytest.raises(socket.timeout):  # kept before the restart: no longer trusted, so it asks
                request(server, probe, "GET", "/hot-bucket/kept")
        finally:
            os.kill(pids[0], signal.SIGCONT)
    finally:
        server.stop()


def test_reads_naming_a_version_range_or_condition_always_ask_the_shard(tmp_path):
    server = CairnServer(tmp_path / "data", shards=1, extra=["--routers", "1"]).start()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="hot-bucket")
        etag = s3.put_object(Bucket="hot-bucket", Key="k", Body=b"0123456789")["ETag"]
        conn = connections(server, 1)[0]
        assert request(server, conn, "GET", "/hot-bucket/k")[0] == 200
        (shard,) = shard_pids(server)
        os.kill(shard, signal.SIGSTOP)
        try:
            for path, headers in [("/hot-bucket/k", {"Range": "bytes=0-3"}), ("/hot-bucket/k", {"If-Match": etag}),
                                  ("/hot-bucket/k?versionId=null", {}), ("/hot-bucket/k?partNumber=1", {})]:
                probe = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1.0)
                with pytest.raises(socket.timeout):
                    request(server, probe, "GET", path, headers=headers)
        finally:
            os.kill(shard, signal.SIGCONT)
        assert request(server, conn, "GET", "/hot-bucket/k", headers={"Range": "bytes=0-3"})[::2] == (206, b"0123")
    finally:
        server.stop()
