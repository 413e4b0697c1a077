"""A tiny keep-alive HTTP/1.1 client and the signed S3 calls made with it (fixtures, cleanup, multipart,
the fallback load)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import time
import urllib.parse

from bench.peerbench.config import PART
from bench.peerbench.servers import Peer
from bench.peerbench.signer import Signer


class Http:
    """A tiny keep-alive HTTP/1.1 client over asyncio streams: fixtures, cleanup, multipart and the fallback load."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list = []

    async def _open(self):
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    def close(self) -> None:
        for _, w in self.idle:
            w.close()
        self.idle.clear()

    async def call(self, method: str, target: str, body=b"", headers=None, count_only=False, progress=None,
                   retries: int = 0):
        """-> (status, lower-cased headers, body bytes or byte count)."""
        attempt = 0
        while True:
            fresh = not self.idle
            reader, writer = self.idle.pop() if self.idle else await self._open()
            try:
                status, hdrs, data, keep = await self._exchange(reader, writer, method, target, body, headers or {},
                                                               count_only, progress)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                writer.close()
                if fresh and attempt >= retries:
                    raise
                attempt += fresh        # a pooled connection the server had closed: try again on a new one
                continue
            except BaseException:
                writer.close()
                raise
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status, hdrs, data

    async def _exchange(self, reader, writer, method, target, body, headers, count_only, progress):
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if len(body) <= 1 << 16:
            writer.write(head + bytes(body))
        else:
            writer.write(head)
            view = memoryview(body)
            for i in range(0, len(view), 1 << 20):
                chunk = view[i:i + (1 << 20)]
                writer.write(chunk)
                await writer.drain()
                if progress:
                    progress(len(chunk))
        raw = await reader.readuntil(b"\r\n\r\n")
        first, *rest = raw.decode("latin-1").split("\r\n")
        version, status = first.split(" ", 2)[:2]
        status = int(status)
        hdrs = {}
        for line in rest:
            if line:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
        conn = hdrs.get("connection", "").lower()
        keep = conn != "close" and (version == "HTTP/1.1" or conn == "keep-alive")
        if method == "HEAD" or status in (204, 304) or status < 200:
            return status, hdrs, (0 if count_only else b""), keep
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            if count_only:
                left = n
                while left:
                    got = await reader.read(min(left, 1 << 20))
                    if not got:
                        raise asyncio.IncompleteReadError(b"", left)
                    left -= len(got)
                return status, hdrs, n, keep
            return status, hdrs, await reader.readexactly(n), keep
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(parts)
            return status, hdrs, (len(data) if count_only else data), keep
        data = await reader.read()              # ends with the connection
        return status, hdrs, (len(data) if count_only else data), False


def body_bytes(size: int) -> bytes:
    block = hashlib.shake_256(b"cairn-bench").digest(1 << 16)
    return (block * (size // len(block) + 1))[:size]


class Client:
    """Signed S3 calls against one peer (fixtures, cleanup, multipart)."""

    def __init__(self, peer: Peer) -> None:
        u = urllib.parse.urlsplit(peer.url)
        self.signer = Signer(peer.ak, peer.sk, u.netloc)
        self.http = Http(u.hostname, u.port)

    async def call(self, method, path, params=(), body=b"", headers=None, retries=3, **kw):
        return await self.http.call(method, self.signer.sign(method, path, params), body, headers,
                                    retries=retries, **kw)

    async def bucket(self, name: str) -> None:
        st, _, body = await self.call("PUT", f"/{name}")
        if st not in (200, 409):
            raise RuntimeError(f"create bucket {name}: {st} {body[:200]!r}")

    async def put(self, path: str, data: bytes) -> None:
        st, _, body = await self.call("PUT", path, body=data)
        if st != 200:
            raise RuntimeError(f"PUT {path}: {st} {body[:200]!r}")

    async def multipart(self, bucket: str, key: str, data: bytes, live: dict | None = None, progress=None,
                        deadline: float | None = None) -> None:
        path = f"/{bucket}/{key}"
        st, _, body = await self.call("POST", path, [("uploads", "")], retries=0)
        m = re.search(rb"<UploadId>(.*?)</UploadId>", body)
        if st != 200 or not m:
            raise RuntimeError(f"CreateMultipartUpload: {st} {body[:200]!r}")
        upload = m.group(1).decode()
        if live is not None:
            live[path] = upload
        etags = []
        view = memoryview(data)
        for n, off in enumerate(range(0, len(data), PART), 1):
            if deadline and time.monotonic() >= deadline:
                raise TimeoutError("window over")
            st, h, body = await self.call("PUT", path, [("partNumber", str(n)), ("uploadId", upload)],
                                          view[off:off + PART], retries=0, progress=progress)
            if st != 200:
                raise RuntimeError(f"UploadPart: {st} {body[:200]!r}")
            etags.append(h["etag"])
        xml = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)) + \
            "</CompleteMultipartUpload>"
        st, _, body = await self.call("POST", path, [("uploadId", upload)], xml.encode(), retries=0)
        if st != 200 or b"<Error>" in body:
            raise RuntimeError(f"CompleteMultipartUpload: {st} {body[:200]!r}")
        if live is not None:
            live.pop(path, None)

    async def keys(self, bucket: str, prefix: str) -> list[str]:
        keys, token = [], None
        while True:
            params = [("list-type", "2"), ("prefix", prefix)] + ([("continuation-token", token)] if token else [])
            st, _, body = await self.call("GET", f"/{bucket}", params)
            if st != 200:
                raise RuntimeError(f"list {bucket}: {st} {body[:200]!r}")
            keys += [k.decode().replace("&amp;", "&") for k in re.findall(rb"<Key>(.*?)</Key>", body)]
            m = re.search(rb"<NextContinuationToken>(.*?)</NextContinuationToken>", body)
            if not m or b"<IsTruncated>true</IsTruncated>" not in body:
                return keys
            token = m.group(1).decode()

    async def delete(self, bucket: str, keys: list[str]) -> None:
        import base64
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            xml = ("<Delete><Quiet>true</Quiet>" + "".join(f"<Object><Key>{k}</Key></Object>" for k in batch)
                   + "</Delete>").encode()
            md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
            st, _, _ = await self.call("POST", f"/{bucket}", [("delete", "")], xml, {"Content-MD5": md5})
            if st != 200:       # s3rver's DeleteObjects can fail under its own races: one by one then
                for k in batch:
                    await self.call("DELETE", f"/{bucket}/{k}")


async def gather_limited(n: int, jobs) -> None:
    jobs = list(jobs)

    async def worker():
        while jobs:
            await jobs.pop()
    await asyncio.gather(*(worker() for _ in range(n)))
