"""Bodies of every size around the boundaries of the body path (the router's 1 MiB DATA frames, the shard's
64 KiB direct-receive threshold and 256 KiB own-record threshold, its 1 MiB chunks) come back byte for byte
with their MD5 ETag, through PUT, UploadPart and ranged GETs — and survive a kill -9 right after the ack."""

import hashlib
import random

import pytest

from tests.support.server import CairnServer

KIB, MIB = 1 << 10, 1 << 20
SIZES = [0, 1, 64 * KIB - 1, 64 * KIB, 256 * KIB - 1, 256 * KIB, 256 * KIB + 1, MIB - 1, MIB, MIB + 1,
         2 * MIB + 300 * KIB, 5 * MIB + 3]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = CairnServer(tmp_path_factory.mktemp("body-sizes"), shards=2).start()
    server.client().create_bucket(Bucket="sizes")
    yield server
    server.stop()


def body(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", SIZES)
def test_put_then_get_returns_the_bytes_and_their_md5_etag(srv, size):
    s3 = srv.client()
    data = body(size)
    put = s3.put_object(Bucket="sizes", Key=f"k{size}", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket="sizes", Key=f"k{size}")
    assert got["ETag"] == put["ETag"] and got["Body"].read() == data


@pytest.mark.parametrize("size", [MIB + 1, 5 * MIB + 3])
def test_ranges_across_chunk_boundaries_return_the_right_bytes(srv, size):
    s3 = srv.client()
    data = body(size)
    s3.put_object(Bucket="sizes", Key=f"r{size}", Body=data)
    for lo, hi in [(0, 0), (MIB - 1, MIB), (MIB - 10, size - 1), (size - 1, size - 1), (100, 3 * MIB)]:
        hi = min(hi, size - 1)
        got = s3.get_object(Bucket="sizes", Key=f"r{size}", Range=f"bytes={lo}-{hi}")["Body"].read()
        assert got == data[lo:hi + 1]


def test_multipart_parts_of_odd_sizes_make_the_whole_object(srv):
    s3 = srv.client()
    parts = [body(5 * MIB + 11), body(8 * MIB), body(300 * KIB + 1)]
    up = s3.create_multipart_upload(Bucket="sizes", Key="mp")["UploadId"]
    done = []
    for n, data in enumerate(parts, 1):
        etag = s3.upload_part(Bucket="sizes", Key="mp", UploadId=up, PartNumber=n, Body=data)["ETag"]
        assert etag == f'"{hashlib.md5(data).hexdigest()}"'
        done.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket="sizes", Key="mp", UploadId=up, MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket="sizes", Key="mp")["Body"].read() == b"".join(parts)


def test_acknowledged_bodies_survive_kill9(tmp_path):
    server = CairnServer(tmp_path / "data", shards=2).start()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="crash")
        for size in SIZES:
            s3.put_object(Bucket="crash", Key=f"k{size}", Body=body(size))
        server.kill9()
        server.start()
        s3 = server.client()
        for size in SIZES:
            assert s3.get_object(Bucket="crash", Key=f"k{size}")["Body"].read() == body(size)
    finally:
        server.stop()
