"""The sanic HTTP front (sanic + uvloop): one catch-all route hands every request to router/service.py, which
authenticates, routes and renders errors; this module only adapts sanic's request and response objects.
The raw front (router/front/) serves the same Service without sanic (``--http-front raw``)."""

from __future__ import annotations

import socket

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.http import Stage
from sanic.response import HTTPResponse as SanicResponse
from sanic.server.protocols.http_protocol import HttpProtocol

from shards.errors import S3Error

from . import auth
from .service import Service, error_response, next_request_id


class NoDelayProtocol(HttpProtocol):
    """Small responses stall ~40 ms on delayed ACKs without TCP_NODELAY (DESIGN §8)."""

    def connection_made(self, transport):
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def data_received(self, data: bytes):
        # sanic restarts its request timer on every byte, so a head sent one byte a second never times out
        # (slowloris). While a head is arriving, keep the timer at the head's first byte.
        http = getattr(self, "_http", None)  # created by sanic's connection task, after the first bytes
        if http is not None and http.stage is Stage.REQUEST:
            started = self._time
            super().data_received(data)
            self._time = started
        else:
            super().data_received(data)


def to_sanic(response):
    if response is None:
        return None  # already streamed through request.respond()
    return SanicResponse(response.body, status=response.status, headers=response.headers,
                         content_type=response.content_type)


def build_app(settings, name: str = "cairn", join_when_ready: bool = False, index: int = 0) -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = (5 << 30) + (64 << 20)  # a 5 GiB PUT plus its aws-chunked framing
    app.config.RESPONSE_TIMEOUT = 3600
    app.config.REQUEST_TIMEOUT = settings.request_timeout  # slowloris: a head that trickles in is cut off
    app.config.KEEP_ALIVE_TIMEOUT = settings.keep_alive_timeout
    app.config.NOISY_EXCEPTIONS = False
    service = Service(settings, name, join_when_ready, index)

    @app.before_server_start
    async def start(app):
        await service.start()

    @app.after_server_stop
    async def stop(app):
        await service.stop()

    async def s3(request, path: str = ""):
        return to_sanic(await service.handle(request, auth.lower_headers(request.headers)))

    methods = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"]
    app.add_route(s3, "/", methods=methods, stream=True, name="s3_root")
    app.add_route(s3, "/<path:path>", methods=methods, stream=True, name="s3_path")

    @app.on_response
    def cors_headers(request, response):
        # middleware, so streamed GET responses get the headers too (request.respond runs it before sending)
        service.on_response(request, response)

    @app.exception(SanicException)
    async def sanic_error(request, exc):
        # Errors sanic raises before our handler runs (bad framing, oversized headers, unknown method...).
        status = getattr(exc, "status_code", 400)
        code = {404: "NoSuchKey", 405: "MethodNotAllowed", 408: "RequestTimeout", 413: "EntityTooLarge",
                503: "ServiceUnavailable"}.get(status, "InvalidRequest" if status < 500 else "InternalError")
        return to_sanic(error_response(S3Error(code, str(exc) or None), request.path if request else "/",
                                       next_request_id(), request.method if request else "GET"))

    return app
