"""One HTTP/1.1 connection: httptools parses, requests are answered one after another in arrival order
(keep-alive and pipelining), request bodies stream to the handler with backpressure, responses wait for the
socket to drain. Timeouts are checked by the server's sweeper (``check``), not per request."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque

import httptools

from shards.errors import S3Error

from ..service import error_response, next_request_id
from . import wire
from .request import LOW_WATER, BodyStream, Request

log = logging.getLogger("cairn.front")

MAX_HEAD = 8192  # request line + headers, as sanic's default (and S3's 8 KiB header section)
MAX_QUEUED = 64  # pipelined requests parsed ahead of the one being answered; reading pauses beyond this
RESPONSE_TIMEOUT = 3600.0
LINGER = 2.0  # after "Connection: close", how long unread client bytes are discarded before the socket closes
SMALL_BODY = 16 << 10  # bodies up to this are copied behind the head into one write


def header_too_large() -> S3Error:
    err = S3Error("RequestHeaderSectionTooLarge", "Your request header section exceeds the maximum allowed size.")
    err.status = 400
    return err


class HeadTooLarge(Exception):
    pass


class HttpConnection(asyncio.BufferedProtocol):
    __slots__ = ("front", "service", "loop", "parser", "transport", "scheme", "_url", "_headers", "_head_size",
                 "_head_bytes", "_in_head", "head_started", "parsing", "queue", "runner", "waiting", "current",
                 "handler_started", "idle_since", "closed", "lingering", "write_paused", "drain_waiter",
                 "paused_body", "paused_queue", "reading_paused", "stop_reading")

    def __init__(self, front) -> None:
        self.front = front
        self.service = front.service
        self.loop = front.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.scheme = "https" if front.ssl is not None else "http"
        self._url: list[bytes] = []
        self._headers: dict[str, str] = {}
        self._head_size = 0
        self._head_bytes = 0
        self._in_head = False
        self.head_started: float | None = None
        self.parsing: Request | None = None  # head parsed, body still arriving
        self.queue: deque[Request] = deque()
        self.runner: asyncio.Task | None = None  # answers requests in order; lives as long as the connection
        self.waiting: asyncio.Future | None = None  # the runner's wait for the next request
        self.current: Request | None = None
        self.handler_started = 0.0
        self.idle_since = 0.0
        self.closed = False
        self.lingering = False
        self.write_paused = False
        self.drain_waiter: asyncio.Future | None = None
        self.paused_body = self.paused_queue = self.reading_paused = False
        self.stop_reading = False  # after a parse error or an upgrade: parse nothing more on this connection

    # -- asyncio.Protocol ----------------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # small responses stall ~40 ms on delayed ACKs without it (DESIGN §8)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=256 << 10, low=64 << 10)
        self.idle_since = self.loop.time()
        self.front.connections.add(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        # The socket is read straight into the worker's shared buffer (a plain Protocol gets a new bytes object
        # per read: a copy of every body byte, 4% of a put-1m run's samples in the router)
        return self.front.recv_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.front.recv_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        if self.lingering or self.stop_reading:
            return  # closing: unread bytes are dropped so the close sends FIN, not RST, after the response
        was_mid_head = self._in_head
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.stop_reading = True  # no upgrades: answer what was parsed, then close
            for req in self.queue:
                req.keep_alive = False
            if self.current is not None:
                self.current.keep_alive = False
        except HeadTooLarge:
            self._reject(header_too_large())
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self._reject(header_too_large())
            else:
                log.exception("request parsing failed")
                self._reject(S3Error("BadRequest", "Bad Request"))
        except httptools.HttpParserError as exc:
            self._reject(S3Error("BadRequest", f"Bad Request: {exc}"))
        else:
            # a head that keeps arriving without ending is cut off before it can grow without bound
            if was_mid_head and self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD:
                    self._reject(header_too_large())

    def eof_received(self):
        if self.parsing is not None:
            self.parsing.stream.fail(S3Error("IncompleteBody"))
        if self.current is not None or self.queue:
            for req in (self.current, *self.queue):
                if req is not None:
                    req.keep_alive = False
            return True  # keep the transport open to answer what was asked, then close
        return None

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.front.connections.discard(self)
        if self.parsing is not None:
            self.parsing.stream.fail(S3Error("IncompleteBody"))
        self._wake_drain(ConnectionResetError("connection lost"))
        if self.runner is not None:
            self.runner.cancel()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain(None)

    # -- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_size = self._head_bytes = 0
        self._url = []
        self._headers = {}
        self.head_started = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._head_size += len(url)
        if self._head_size > MAX_HEAD:
            raise HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # a chunked body's trailer fields: not headers of the request
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD:
            raise HeadTooLarge
        k = name.decode("latin-1").lower()
        v = value.decode("utf-8", "surrogateescape")
        headers = self._headers
        headers[k] = f"{headers[k]},{v}" if k in headers else v

    def on_headers_complete(self) -> None:
        self._in_head = False
        self.head_started = None
        parser = self.parser
        headers = self._headers
        method = parser.get_method().decode("ascii", "replace")
        url = b"".join(self._url) if len(self._url) != 1 else self._url[0]
        req = Request(self, method, "/", "", headers, parser.should_keep_alive())
        try:
            parsed = httptools.parse_url(url)
            req.path = parsed.path.decode("ascii") if parsed.path else "/"
            req.query_string = parsed.query.decode("ascii") if parsed.query else ""
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            req.error = S3Error("BadRequest", "URL may only contain US-ASCII characters.")
        expect = headers.get("expect")
        if expect is not None:
            if expect.lower() == "100-continue":
                req.expect_continue = True
            else:
                req.error = S3Error("BadRequest", f"Unknown Expect: {expect}")
        if "content-length" in headers and headers["content-length"] != "0" or "transfer-encoding" in headers:
            req.stream = BodyStream(self, req)
            self.parsing = req
        if self.front.stopping:
            req.keep_alive = False
        self._enqueue(req)
        if len(self.queue) > MAX_QUEUED:
            self.paused_queue = True
            self._pause()

    def on_body(self, body: bytes) -> None:
        req = self.parsing
        if req is not None:
            req.stream.feed(body)

    def on_message_complete(self) -> None:
        req = self.parsing
        if req is not None:
            self.parsing = None
            req.stream.finish()

    # -- answering -----------------------------------------------------------------------------------------------
    def _enqueue(self, req: Request) -> None:
        self.queue.append(req)
        waiting = self.waiting
        if waiting is not None:
            self.waiting = None
            waiting.set_result(None)
        elif self.runner is None:
            self.runner = self.loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            while not self.closed:
                if not self.queue:
                    self.current = None
                    self.idle_since = self.loop.time()
                    self.waiting = self.loop.create_future()
                    await self.waiting
                    continue
                req = self.queue.popleft()
                if self.paused_queue and len(self.queue) <= MAX_QUEUED // 2:
                    self.paused_queue = False
                    self._resume()
                self.current = req
                self.handler_started = self.loop.time()
                await self._answer(req)
                self.current = None
                if not req.keep_alive:
                    self.close_gracefully()
                    return
                if self.write_paused:
                    await self._drain()
        except asyncio.CancelledError:
            if not self.closed and self.transport is not None:
                self.transport.abort()  # timed out mid-response, or shutting down: nothing honest left to say
        except ConnectionError as exc:
            log.debug("connection dropped: %s", exc)
            if self.transport is not None:
                self.transport.abort()
        except Exception:
            log.exception("response failed; connection cut")
            if self.transport is not None:
                self.transport.abort()
        finally:
            self.runner = None
            self.current = None
            self.idle_since = self.loop.time()
            if self.front.stopping and not self.closed:
                self.close_gracefully()

    async def _answer(self, req: Request) -> None:
        err = req.error
        if err is not None:
            req.keep_alive = False
            response = error_response(err, req.path, next_request_id(), req.method)
        else:
            try:
                response = await self.service.handle(req, req.headers)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("request failed")
                response = error_response(S3Error("InternalError"), req.path, next_request_id(), req.method)
            if response is None and not req.responded:
                log.error("%s %s produced no response", req.method, req.path)
                response = error_response(S3Error("InternalError"), req.path, next_request_id(), req.method)
        stream = req.stream
        unread = stream is not None and not stream.complete
        if unread and (stream.error is not None or (response is not None and response.status >= 300)):
            # refused from its head (or sent broken): the body will not be read, so no "100 Continue" invites it
            # and the answer announces the close
            req.keep_alive = False
            req.expect_continue = False
        streamed = req.responded
        if streamed is not None:
            if response is not None:
                raise RuntimeError("a streamed response was started and a second one returned")
            if not streamed.ended:
                await streamed.eof()  # raises (and the connection is cut) if it fell short of its length
        elif response is not None:
            self.write_response(req, response)
        if unread and req.keep_alive:
            # the handler answered without reading everything: drain the rest so the next request parses
            try:
                while await asyncio.wait_for(stream.read(), self.front.settings.request_timeout) is not None:
                    pass
            except (S3Error, asyncio.TimeoutError):
                req.keep_alive = False

    def write_response(self, req: Request, response) -> None:
        self.service.on_response(req, response)
        body = response.body
        status = response.status
        if self.front.stopping:
            req.keep_alive = False
        head = req.take_continue() + wire.head(status, response.headers, response.content_type, len(body),
                                               req.keep_alive, req.head_only)
        transport = self.transport
        if transport is None or self.closed:
            return
        if not body or req.head_only or not wire.has_body(status):
            transport.write(head)
        elif len(body) <= SMALL_BODY:
            transport.write(head + body)
        else:
            transport.writelines((head, body))

    # -- writing and flow control --------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    async def send(self, data: bytes) -> None:
        if self.closed or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        self.transport.write(data)
        if self.write_paused:
            await self._drain()

    async def _drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("connection closed")
        waiter = self.drain_waiter
        if waiter is None:
            waiter = self.drain_waiter = self.loop.create_future()
        await waiter

    def _wake_drain(self, exc) -> None:
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    def pause_body(self) -> None:
        if not self.paused_body:
            self.paused_body = True
            self._pause()

    def resume_body(self) -> None:
        if self.paused_body:
            req = self.parsing
            if req is None or req.stream.size <= LOW_WATER:
                self.paused_body = False
                self._resume()

    def _pause(self) -> None:
        if not self.reading_paused and not self.closed:
            self.reading_paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.reading_paused and not self.paused_body and not self.paused_queue and not self.closed:
            self.reading_paused = False
            self.transport.resume_reading()

    # -- errors, timeouts, closing -------------------------------------------------------------------------------
    def _reject(self, err: S3Error) -> None:
        """The stream of requests is broken: answer in order what came before, then this error, then close."""
        self.stop_reading = True
        self.head_started = None
        self._in_head = False
        if self.parsing is not None:  # the break is inside a body: its handler sees the error and answers
            self.parsing.stream.fail(err)
            self.parsing.keep_alive = False
            self.parsing = None
            for req in self.queue:
                req.keep_alive = False
            return
        req = Request(self, "GET", "/", "", {}, False)
        req.error = err
        self._enqueue(req)

    def check(self, now: float, settings) -> None:
        """The sweeper's visit: slowloris heads, idle keep-alive connections, handlers that never finish."""
        if self.closed or self.lingering:
            return
        if self.current is not None or self.queue:
            if self.current is not None and now - self.handler_started > RESPONSE_TIMEOUT:
                self.runner.cancel()
            return
        if self.head_started is not None:
            if now - self.head_started > settings.request_timeout:
                self._reject(S3Error("RequestTimeout"))
        elif now - self.idle_since > settings.keep_alive_timeout:
            self.transport.close()

    def close_if_idle(self) -> None:
        if self.current is None and not self.queue and self.head_started is None and not self.closed:
            self.transport.close()

    def close_gracefully(self) -> None:
        """Close after what was written has gone out; unread client bytes are dropped for a moment first, so
        the client reads the response instead of a reset."""
        transport = self.transport
        if self.closed or self.lingering:
            return
        self.lingering = True
        if self.reading_paused:
            self.reading_paused = False
            transport.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(LINGER, transport.close)
        else:
            transport.close()
