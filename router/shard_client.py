"""The router's side of the shard protocol: one persistent Unix-socket connection per shard, multiplexed.

A shard that is down (crashed, restarting, recovering) makes its requests fail at once with 503
ServiceUnavailable, never hang; the client keeps reconnecting in the background. Replies for exchanges the
router already dropped (the HTTP client went away) are discarded instead of failing the shared connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque

import orjson

from shards.errors import S3Error
from shards.protocol import (CREDIT, K_CANCEL, K_CREDIT, K_DATA, K_END, K_PUSH, K_PUSH_ACK, K_REQUEST, K_RESPONSE,
                             K_RESPONSE_BODY, MAX_DATA_FRAME, split_response_body,
                             Cork, frame, frame_header)
from shards.frame_receiver import FrameReceiver

log = logging.getLogger("cairn.router")

_stopping = False  # this router is shutting down: shards going away is expected, not worth a warning


def stopping() -> None:
    global _stopping
    _stopping = True


def is_stopping() -> bool:
    return _stopping


def unavailable(number: int) -> S3Error:
    return S3Error("ServiceUnavailable", f"Shard {number} is unavailable; retry the request.")


class Exchange:
    """One request to a shard: its reply metadata, then (for GET) a body stream."""

    __slots__ = ("conn", "req_id", "_reply", "_chunks", "_waiter", "_ended", "_error", "closed", "_out", "_out_size")

    def __init__(self, conn: "ShardConnection", req_id: int) -> None:
        self.conn = conn
        self.req_id = req_id
        self._reply = conn.loop.create_future()
        self._chunks: deque = deque()
        self._waiter = None
        self._ended = False
        self._error: S3Error | None = None
        self.closed = False  # no more frames will arrive for this exchange
        self._out: list = []  # request-body pieces not yet sent, fewer than MAX_DATA_FRAME bytes
        self._out_size = 0

    # -- called by the connection -------------------------------------------------------------------------
    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def on_reply(self, meta: dict) -> None:
        if not self._reply.done():
            self._reply.set_result(meta)

    def on_data(self, data: bytes) -> None:
        self._chunks.append(data)
        self._wake()

    def on_end(self, payload: bytes) -> None:
        if payload:
            self._error = S3Error.from_wire(orjson.loads(payload))
        self._ended = True
        self._wake()

    def fail(self, exc: S3Error) -> None:
        if not self._reply.done():
            self._reply.set_exception(exc)
        self._error = exc
        self._ended = True
        self._wake()

    # -- called by the router -----------------------------------------------------------------------------
    async def send(self, data: bytes | memoryview) -> None:
        """Forward request-body bytes; waits while the socket's write buffer is full. Pieces are gathered into
        DATA frames of up to MAX_DATA_FRAME bytes, written as one header and the pieces as they are (no join):
        the shard receives such a frame into one buffer and logs it as a chunk record without copying it."""
        if self.closed:
            return
        if len(data) > MAX_DATA_FRAME:
            view = memoryview(data)
            for i in range(0, len(view), MAX_DATA_FRAME):
                self._gather(view[i:i + MAX_DATA_FRAME])
        else:
            self._gather(data)
        conn = self.conn
        if conn.paused is not None:
            await conn.paused

    def _gather(self, piece) -> None:
        n = len(piece)
        if self._out_size + n > MAX_DATA_FRAME:
            self._send_gathered()
        self._out.append(piece)
        self._out_size += n
        if self._out_size == MAX_DATA_FRAME:
            self._send_gathered()

    def _send_gathered(self) -> None:
        if self._out:
            self.conn.write_many((frame_header(self.req_id, K_DATA, self._out_size), *self._out))
            self._out, self._out_size = [], 0

    def end(self, meta: dict | None = None) -> None:
        if not self.closed:
            self._send_gathered()
            self.conn.write(frame(self.req_id, K_END, orjson.dumps(meta) if meta else b""))

    def cancel(self) -> None:
        self._out, self._out_size = [], 0
        if not self.closed:
            self.closed = True
            self.conn.exchanges.pop(self.req_id, None)
            self.conn.write(frame(self.req_id, K_CANCEL))

    async def reply(self) -> dict:
        meta = await self._reply
        if "error" in meta:
            raise S3Error.from_wire(meta)
        return meta

    def reply_now(self) -> dict | None:
        """The reply if it has already arrived (an early rejection while the body is still being sent)."""
        return self._reply.result() if self._reply.done() and not self._reply.exception() else None

    async def body(self):
        """Yield response-body pieces, granting the shard credit for each piece handed on."""
        conn = self.conn
        while True:
            while self._chunks:
                data = self._chunks.popleft()
                yield data
                if not self.closed:
                    conn.write(frame(self.req_id, K_CREDIT, CREDIT.pack(len(data))))
            if self._ended:
                if self._error is not None:
                    raise self._error
                return
            self._waiter = conn.loop.create_future()
            await self._waiter
            self._waiter = None


class ShardConnection(FrameReceiver):
    def __init__(self, client: "ShardClient") -> None:
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.exchanges: dict[int, Exchange] = {}
        self.transport = None
        self.paused: asyncio.Future | None = None
        self.lost = self.loop.create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.cork = Cork(transport, self.loop)

    def connection_lost(self, exc) -> None:
        err = unavailable(self.client.number)
        for ex in list(self.exchanges.values()):
            ex.closed = True
            ex.fail(err)
        self.exchanges.clear()
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self.paused = self.loop.create_future()

    def resume_writing(self) -> None:
        p, self.paused = self.paused, None
        if p is not None and not p.done():
            p.set_result(None)

    def write(self, data: bytes) -> None:
        self.cork.write(data)

    def write_many(self, parts) -> None:
        self.cork.write(*parts)

    def frames_received(self, frames: list) -> None:
        exchanges = self.exchanges
        for req_id, kind, payload in frames:
            if kind == K_DATA:
                ex = exchanges.get(req_id)
                if ex is not None:
                    ex.on_data(payload)
            elif kind == K_RESPONSE:
                meta = orjson.loads(payload)
                ex = exchanges.get(req_id)
                if ex is not None:
                    if not meta.get("body"):
                        ex.closed = True
                        del exchanges[req_id]
                    ex.on_reply(meta)
            elif kind == K_RESPONSE_BODY:  # the whole (small) body came with the reply: no DATA/END follow
                ex = exchanges.pop(req_id, None)
                if ex is not None:
                    meta, data = split_response_body(payload)
                    ex.closed = True
                    ex.on_data(data)
                    ex.on_end(b"")
                    ex.on_reply(orjson.loads(meta))
            elif kind == K_END:
                ex = exchanges.pop(req_id, None)
                if ex is not None:
                    ex.closed = True
                    ex.on_end(payload)
            elif kind == K_PUSH:
                self.client.on_push(orjson.loads(payload))
                self.write(frame(req_id, K_PUSH_ACK))


class ShardClient:
    """Keeps one connection to a shard alive and opens exchanges on it."""

    def __init__(self, number: int, path: str, on_push, on_connect=None) -> None:
        self.number = number
        self.path = path
        self.on_push = on_push
        self.on_connect = on_connect
        self.conn: ShardConnection | None = None
        self._ids = itertools.count(1)
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.conn is not None:
            self.conn.transport.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                _, conn = await loop.create_unix_connection(lambda: ShardConnection(self), self.path)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            self.conn = conn
            try:
                if self.on_connect is not None:
                    await self.on_connect(self)
                self.ready.set()
                log.info("connected to shard %d", self.number)
            except S3Error:
                conn.transport.close()
            await conn.lost
            self.ready.clear()
            self.conn = None
            (log.info if _stopping else log.warning)("lost shard %d; reconnecting", self.number)

    def open(self, meta: dict) -> Exchange:
        conn = self.conn
        if conn is None or conn.transport.is_closing():
            raise unavailable(self.number)
        req_id = next(self._ids) & 0xFFFFFFFF or next(self._ids)
        ex = Exchange(conn, req_id)
        conn.exchanges[req_id] = ex
        conn.write(frame(req_id, K_REQUEST, orjson.dumps(meta)))
        return ex

    async def call(self, meta: dict) -> dict:
        return await self.open(meta).reply()
