"""The raw front's request: what router/service.py and the handlers use of a request (see its docstring), a body
stream with backpressure, and the streamed response large GETs write through."""

from __future__ import annotations

import asyncio
from collections import deque

from shards.errors import S3Error

from . import wire

# The connection stops reading while this much request body waits for the handler, and reads again below LOW.
HIGH_WATER = 1 << 20
LOW_WATER = 256 << 10
ADMIN_BODY_LIMIT = 1 << 20
# A response's first body piece smaller than this is joined to its head (one send); a larger one is sent after it.
JOIN_BELOW = 64 << 10


class BodyStream:
    """Request body pieces as the parser delivers them. ``read()`` returns the next piece, or None once the body
    is complete; the connection pauses reading while more than HIGH_WATER bytes wait here."""

    __slots__ = ("conn", "request", "chunks", "size", "done", "error", "waiter")

    def __init__(self, conn, request: "Request") -> None:
        self.conn = conn
        self.request = request
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.done = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future | None = None

    # -- parser side ---------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > HIGH_WATER:
            self.conn.pause_body()
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        if not self.done:
            self.error = exc
            self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None:
            self.waiter = None
            if not w.done():
                w.set_result(None)

    # -- handler side --------------------------------------------------------------------------------------------
    # Pieces are handed on one by one as the parser delivered them, never joined: joining the ~1 MiB buffered
    # while the connection is paused cost a copy of every PUT byte into freshly faulted pages (~0.2 ms a MiB).
    async def read(self) -> bytes | None:
        if self.request.expect_continue:  # the client waits for it before it sends the body
            self.conn.write(self.request.take_continue())
        while not self.chunks:
            if self.error is not None:
                raise self.error
            if self.done:
                return None
            self.waiter = self.conn.loop.create_future()
            await self.waiter
        return self.read_nowait()

    def read_nowait(self) -> bytes | None:
        """The next buffered piece, or None if none is buffered (which says nothing about the body's end)."""
        chunks = self.chunks
        if not chunks:
            return None
        data = chunks.popleft()
        self.size -= len(data)
        self.conn.resume_body()
        return data

    @property
    def complete(self) -> bool:
        return self.done and not self.chunks


class StreamedResponse:
    """What ``request.respond()`` returns: ``send(data)`` writes body bytes (the head goes with the first), waiting
    while the socket's write buffer is full; ``eof()`` ends the body."""

    __slots__ = ("request", "status", "headers", "content_type", "started", "chunked", "left", "ended")

    def __init__(self, request, status: int, headers: dict, content_type: str | None) -> None:
        self.request = request
        self.status = status
        self.headers = headers
        self.content_type = content_type
        self.started = False
        self.ended = False
        self.chunked = False
        self.left: int | None = None

    def _head(self) -> bytes:
        req = self.request
        self.started = True
        req.responded = self
        req.conn.service.on_response(req, self)
        length = wire.declared_length(self.headers) if wire.has_body(self.status) else 0
        self.left = length
        self.chunked = length is None and not req.head_only
        return req.take_continue() + wire.head(self.status, self.headers, self.content_type, None, req.keep_alive,
                                               req.head_only)

    async def send(self, data: bytes = b"", end_stream: bool = False) -> None:
        if self.ended:
            raise RuntimeError("response already ended")
        req = self.request
        out = self._head() if not self.started else b""
        if data and not req.head_only and wire.has_body(self.status):
            if self.chunked:
                data = b"%x\r\n%b\r\n" % (len(data), data)
            elif self.left is not None:
                self.left -= len(data)
                if self.left < 0:
                    raise RuntimeError("response bigger than its Content-Length")
            if out and len(data) >= JOIN_BELOW:  # the head goes first on its own: no copy of a large body
                req.conn.write(out)
                out = data
            else:
                out = out + data if out else data
        if end_stream:
            self.ended = True
            if self.chunked:
                out += b"0\r\n\r\n"
            elif self.left and not req.head_only:
                raise RuntimeError("response smaller than its Content-Length")
        if out:
            await req.conn.send(out)

    async def eof(self) -> None:
        await self.send(b"", end_stream=True)


class Request:
    """One HTTP request as router/service.py sees it."""

    __slots__ = ("conn", "method", "path", "query_string", "headers", "stream", "keep_alive", "head_only",
                 "responded", "body", "error", "expect_continue", "_args")

    def __init__(self, conn, method: str, path: str, query_string: str, headers: dict, keep_alive: bool) -> None:
        self.conn = conn
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.keep_alive = keep_alive
        self.head_only = method == "HEAD"
        self.stream: BodyStream | None = None
        self.responded: StreamedResponse | None = None  # a streamed response that has sent its head
        self.body = b""
        self.error: Exception | None = None  # refused before any handler runs (bad URL, unknown Expect...)
        self.expect_continue = False  # "Expect: 100-continue" not yet answered
        self._args = None

    def take_continue(self) -> bytes:
        """The "100 Continue" still owed to the client, once: before the first body read, or in front of the
        response when the body was not needed first (as sanic does; boto3 expects it even for empty bodies)."""
        if self.expect_continue:
            self.expect_continue = False
            return wire.CONTINUE
        return b""

    @property
    def scheme(self) -> str:
        return self.conn.scheme

    @property
    def transport(self):
        return self.conn.transport

    @property
    def args(self) -> dict:
        if self._args is None:
            from ..addressing import parse_query
            self._args = parse_query(self.query_string)
        return self._args

    async def receive_body(self) -> None:
        """Admin POSTs: the whole (small) body into ``self.body``."""
        parts = []
        size = 0
        if self.stream is not None:
            while (piece := await self.stream.read()) is not None:
                size += len(piece)
                if size > ADMIN_BODY_LIMIT:
                    raise S3Error("EntityTooLarge")
                parts.append(piece)
        self.body = b"".join(parts)

    async def respond(self, status: int = 200, headers: dict | None = None,
                      content_type: str | None = None) -> StreamedResponse:
        return StreamedResponse(self, status, dict(headers or {}), content_type)
