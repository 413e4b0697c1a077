"""Slow senders (slowloris) are cut off after --request-timeout without starving anyone else."""

import socket
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_hostile import signed_put_head
from tests.support.server import CairnServer


@pytest.fixture(scope="module")
def impatient(tmp_path_factory):
    srv = CairnServer(tmp_path_factory.mktemp("slow"), shards=2, extra=["--request-timeout", "2"]).start()
    srv.client().create_bucket(Bucket="slow")
    yield srv
    srv.stop()


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    sock.settimeout(seconds)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, data
            data += chunk
    except socket.timeout:
        return False, data
    except ConnectionResetError:  # the server cut us off while we were still sending: closed, with a reset
        return True, data


def test_a_request_head_that_trickles_in_is_cut_off(impatient):
    sock = socket.create_connection(("127.0.0.1", impatient.port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    stop = threading.Event()

    def trickle():
        while not stop.is_set():  # one header byte a second: never completes the head
            try:
                sock.sendall(b"X")
            except OSError:
                return
            time.sleep(1)
    threading.Thread(target=trickle, daemon=True).start()
    t0 = time.monotonic()
    closed, data = closed_within(sock, 10)
    stop.set()
    assert closed and time.monotonic() - t0 < 8
    assert not data or b" 408 " in data.split(b"\r\n", 1)[0] or b" 400 " in data.split(b"\r\n", 1)[0]


def test_a_body_that_stalls_is_refused_and_nothing_is_stored(impatient):
    sock = socket.create_connection(("127.0.0.1", impatient.port))
    sock.sendall(signed_put_head(impatient, "slow", "stalled", 100_000) + b"x" * 1000)
    closed, data = closed_within(sock, 10)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400") and b"RequestTimeout" in data
    with pytest.raises(ClientError) as e:
        impatient.client().head_object(Bucket="slow", Key="stalled")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_slow_clients_do_not_starve_fast_ones(impatient):
    slow = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", impatient.port))
        s.sendall(b"GET / HTTP/1.1\r\n")
        slow.append(s)
    s3 = impatient.client()
    t0 = time.monotonic()
    for i in range(20):
        s3.put_object(Bucket="slow", Key=f"fast-{i}", Body=b"ok")
    assert time.monotonic() - t0 < 5
    for s in slow:
        s.close()
