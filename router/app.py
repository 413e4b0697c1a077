"""The router's HTTP front (sanic + uvloop): one catch-all handler that authenticates, routes to an S3
operation and renders every error as S3 XML in one place. Admin endpoints live under /_cairn/."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.http import Stage
from sanic.response import HTTPResponse
from sanic.server.protocols.http_protocol import HttpProtocol

from shards.errors import S3Error
from shards.server import socket_path

from . import auth, cors, dispatch, ha, metrics, xml
from .addressing import locate, parse_query
from .bucket_cache import BucketCache
from .call import Call, Router
from .ring import Ring
from .shard_client import ShardClient

log = logging.getLogger("cairn.router")

_ids = itertools.count(1)
_id_prefix = os.urandom(4).hex().upper()


def next_request_id() -> str:
    return f"{_id_prefix}{next(_ids):08X}"


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


def error_response(err: S3Error, resource: str, request_id: str, method: str) -> HTTPResponse:
    headers = {"x-amz-request-id": request_id, **err.headers}
    if method == "HEAD" or err.status == 304:
        return HTTPResponse(status=err.status, headers=headers)
    return HTTPResponse(xml.error(err, resource, request_id), status=err.status, headers=headers,
                        content_type="application/xml")


def build_app(settings, name: str = "cairn") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = (5 << 30) + (64 << 20)  # a 5 GiB PUT plus its aws-chunked framing
    app.config.RESPONSE_TIMEOUT = 3600
    app.config.REQUEST_TIMEOUT = settings.request_timeout  # slowloris: a head that trickles in is cut off
    app.config.KEEP_ALIVE_TIMEOUT = settings.keep_alive_timeout
    app.config.NOISY_EXCEPTIONS = False
    credentials = {settings.access_key: settings.secret_key}
    domains = list(settings.domains)
    n = settings.shard_count
    state: dict = {}

    @app.before_server_start
    async def connect_shards(app):
        cache = BucketCache(n)

        def pusher(number):
            return lambda msg: cache.update(number, msg["name"], msg["cfg"])

        async def on_connect(client):
            snap = await client.call({"op": "bucket_snapshot"})
            cache.load(client.number, snap["buckets"])

        clients = [ShardClient(i, socket_path(settings.data_dir, i), pusher(i), on_connect) for i in range(n)]
        for c in clients:
            c.start()
        state["router"] = Router(settings, Ring(list(range(n))), clients, cache, credentials)

    @app.after_server_stop
    async def disconnect(app):
        for c in state["router"].clients:
            await c.stop()

    ha_view = ha.install(app, state, settings)

    async def health(request):
        return HTTPResponse(b"ok\n" + ha_view.health_detail(), content_type="text/plain")

    async def ready(request):
        router = state["router"]
        down = [c.number for c in router.clients if not c.ready.is_set()]
        if down:
            return HTTPResponse(f"shards not ready: {down}\n".encode(), status=503, content_type="text/plain")
        return HTTPResponse(b"ready\n", content_type="text/plain")

    async def metrics_endpoint(request):
        body, ctype = metrics.exposition()
        return HTTPResponse(body, content_type=ctype)

    app.add_route(health, "/_cairn/health", methods=["GET", "HEAD"])
    app.add_route(ready, "/_cairn/ready", methods=["GET", "HEAD"])
    app.add_route(metrics_endpoint, "/_cairn/metrics", methods=["GET"])

    async def s3(request, path: str = ""):
        t0 = time.perf_counter()
        request_id = next_request_id()
        method = request.method
        raw_path = request.path
        op = "unknown"
        try:
            query_string = request.query_string
            query = parse_query(query_string)
            headers = auth.lower_headers(request.headers)
            bucket, key = locate(headers.get("host", ""), raw_path, domains)
            # a CORS preflight never carries credentials: browsers send it before the signed request
            verified = cors.ANONYMOUS if method == "OPTIONS" else auth.authenticate(
                method, raw_path, query_string, query, headers, credentials)
            op, handler = dispatch.route(method, bucket, key, query, headers)
            ha_view.check(method)  # a standby refuses writes (and reads without --standby-reads)
            call = Call(request, state["router"], bucket, key, query, headers, verified.access_key, op=op,
                        request_id=request_id)
            if method in ("PUT", "POST"):
                call.body = auth.Body(request.stream, verified, headers, idle_timeout=settings.request_timeout)
            response = await handler(call)
        except S3Error as err:
            response = error_response(err, raw_path, request_id, method)
        except Exception:
            log.exception("request %s failed", request_id)
            response = error_response(S3Error("InternalError"), raw_path, request_id, method)
        if response is not None:
            response.headers["x-amz-request-id"] = request_id
            if response.content_type is None:
                response.content_type = "application/xml"  # sanic would otherwise send "Content-Type: None"
            status = response.status
        else:
            status = 200
        metrics.observe(op, status, time.perf_counter() - t0)
        return response

    methods = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"]
    app.add_route(s3, "/", methods=methods, stream=True, name="s3_root")
    app.add_route(s3, "/<path:path>", methods=methods, stream=True, name="s3_path")

    @app.on_response
    def cors_headers(request, response):
        # middleware, so streamed GET responses get the headers too (request.respond runs it before sending)
        cors.on_response(state["router"], domains, request, response)

    @app.exception(SanicException)
    async def sanic_error(request, exc):
        # Errors sanic raises before our handler runs (bad framing, oversized headers, unknown method...).
        status = getattr(exc, "status_code", 400)
        code = {404: "NoSuchKey", 405: "MethodNotAllowed", 408: "RequestTimeout", 413: "EntityTooLarge",
                503: "ServiceUnavailable"}.get(status, "InvalidRequest" if status < 500 else "InternalError")
        return error_response(S3Error(code, str(exc) or None), request.path if request else "/",
                              next_request_id(), request.method if request else "GET")

    return app
