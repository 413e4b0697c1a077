"""What a router worker does with a request, whichever HTTP front parsed it: one catch-all dispatch that
authenticates, routes to an S3 operation and renders every error as S3 XML, plus the admin endpoints under
/_cairn/. The fronts (router/app.py: sanic; router/front/: a raw uvloop protocol) only move bytes.

A front hands ``Service.handle`` a request object with: ``method``, ``path`` (raw, not percent-decoded),
``query_string``, ``headers`` (``.get`` by lower-case name), ``stream`` (``await read()`` -> bytes, None at the end),
``scheme``, ``transport``, ``args`` and ``receive_body()``/``body`` (admin POSTs), and ``respond(status=, headers=)``
for streamed responses. It gets back a router.response.HTTPResponse, or None when the handler streamed its own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time

from shards.errors import S3Error
from shards.server import socket_path

from . import auth, cors, dispatch, ha, metrics, xml
from .addressing import locate, parse_query
from .bucket_cache import BucketCache
from .read_cache import ReadCache
from .call import Call, Router
from .response import HTTPResponse
from .ring import Ring
from .shard_client import ShardClient

log = logging.getLogger("cairn.router")

METHODS = frozenset(("GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"))
ADMIN_PREFIX = "/_cairn/"
JOIN_WAIT = 30.0  # seconds a router after the first waits for its shard connections before it takes requests

_ids = itertools.count(1)
_id_prefix = os.urandom(4).hex().upper()


def next_request_id() -> str:
    return f"{_id_prefix}{next(_ids):08X}"


def error_response(err: S3Error, resource: str, request_id: str, method: str) -> HTTPResponse:
    headers = {"x-amz-request-id": request_id, **err.headers}
    if method == "HEAD" or err.status == 304:
        return HTTPResponse(status=err.status, headers=headers)
    return HTTPResponse(xml.error(err, resource, request_id), status=err.status, headers=headers,
                        content_type="application/xml")


class Service:
    """One router worker's state and request handling. ``before_server_start``/``after_server_stop``/``add_route``
    let router/ha.py register its hooks and endpoints here as it would on a sanic app."""

    def __init__(self, settings, name: str = "cairn", join_when_ready: bool = False, index: int = 0) -> None:
        self.settings = settings
        self.name = name
        self.join_when_ready = join_when_ready
        self.index = index  # this router worker's number (router/worker.py)
        # where each router worker marks that it has been connected to every shard (router/supervisor.py)
        self.run_dir = os.environ.get("CAIRN_RUN_DIR", "")
        self._routers_ready = not self.run_dir
        self._marker: asyncio.Task | None = None
        self.credentials = {settings.access_key: settings.secret_key}
        self.domains = list(settings.domains)
        self.state: dict = {}  # "router": the Router, once start() has run
        self.admin: dict[str, tuple[frozenset, object]] = {}
        self._on_start: list = []
        self._on_stop: list = []
        self.ha_view = ha.install(self, self.state, settings)
        self.add_route(self._health, "/_cairn/health", methods=["GET", "HEAD"])
        self.add_route(self._ready, "/_cairn/ready", methods=["GET", "HEAD"])
        self.add_route(self._metrics, "/_cairn/metrics", methods=["GET"])

    # -- the app-like surface router/ha.py registers through ------------------------------------------------
    def before_server_start(self, fn):
        self._on_start.append(fn)
        return fn

    def after_server_stop(self, fn):
        self._on_stop.append(fn)
        return fn

    def add_route(self, handler, path: str, methods) -> None:
        self.admin[path] = (frozenset(methods), handler)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        n = self.settings.shard_count
        cache = BucketCache(n)

        def pusher(number):
            return lambda msg: cache.update(number, msg["name"], msg["cfg"])

        async def on_connect(client):
            snap = await client.call({"op": "bucket_snapshot"})
            cache.load(client.number, snap["buckets"])

        clients = [ShardClient(i, socket_path(self.settings.data_dir, i), pusher(i), on_connect) for i in range(n)]
        for c in clients:
            c.start()
        reads = ReadCache.from_env(n, int(self.settings.read_cache_mib * (1 << 20)))
        self.state["router"] = Router(self.settings, Ring(list(range(n))), clients, cache, self.credentials, reads)
        for fn in self._on_start:
            await fn(self)
        self._marker = asyncio.ensure_future(self._mark_ready(clients))
        if self.join_when_ready:
            # Routers share one listening socket. The first answers from the start (/_cairn/ready says 503 while
            # shards recover); one that took connections before its own shard links were up would answer 503 to
            # requests after that first router already said ready. So the others join once connected.
            try:  # the readiness mark is written once every shard link is up: wait for that, not again for them
                await asyncio.wait_for(asyncio.shield(self._marker), JOIN_WAIT)
            except asyncio.TimeoutError:
                log.warning("shards still not connected after %.0f s; taking requests anyway", JOIN_WAIT)

    async def _mark_ready(self, clients) -> None:
        await asyncio.gather(*(c.ready.wait() for c in clients))
        if self.run_dir:
            with open(os.path.join(self.run_dir, f"router-{self.index}.ready"), "w"):
                pass

    def routers_ready(self) -> tuple[int, int]:
        """(router workers that have been connected to every shard, router workers): /_cairn/ready says 200 only
        when all have, whichever worker answers, so a client that saw it ready meets no worker still starting."""
        total = self.settings.router_count
        if self._routers_ready:
            return total, total
        done = sum(1 for name in os.listdir(self.run_dir) if name.startswith("router-") and name.endswith(".ready"))
        self._routers_ready = done >= total  # once all have been ready, a restarted one waits before it serves
        return done, total

    async def stop(self) -> None:
        if self._marker is not None:
            self._marker.cancel()
        for fn in self._on_stop:
            await fn(self)
        router = self.state.get("router")
        if router is not None:
            for c in router.clients:
                await c.stop()

    # -- admin endpoints ----------------------------------------------------------------------------------------
    async def _health(self, request) -> HTTPResponse:
        await self.ha_view.refresh_for_health()
        return HTTPResponse(b"ok\n" + self.ha_view.health_detail(), content_type="text/plain")

    async def _ready(self, request) -> HTTPResponse:
        down = [c.number for c in self.state["router"].clients if not c.ready.is_set()]
        if down:
            return HTTPResponse(f"shards not ready: {down}\n".encode(), status=503, content_type="text/plain")
        done, total = self.routers_ready()
        if done < total:
            return HTTPResponse(f"router workers starting: {done} of {total} ready\n".encode(), status=503,
                                content_type="text/plain")
        return HTTPResponse(b"ready\n", content_type="text/plain")

    async def _metrics(self, request) -> HTTPResponse:
        body, ctype = metrics.exposition()
        return HTTPResponse(body, content_type=ctype)

    # -- requests -----------------------------------------------------------------------------------------------
    def on_response(self, request, response) -> None:
        """Every response passes here before it is written, streamed ones included (CORS headers)."""
        cors.on_response(self.state.get("router"), self.domains, request, response)

    async def handle(self, request, headers: dict[str, str]) -> HTTPResponse | None:
        """``headers``: the request's headers with lower-case names, repeats joined by ','."""
        method = request.method
        raw_path = request.path
        if raw_path.startswith(ADMIN_PREFIX):
            route = self.admin.get(raw_path)
            if route is not None:
                if method not in route[0]:
                    return error_response(S3Error("MethodNotAllowed"), raw_path, next_request_id(), method)
                if method == "POST":
                    await request.receive_body()
                return await route[1](request)
        t0 = time.perf_counter()
        request_id = next_request_id()
        op = "unknown"
        try:
            if method not in METHODS:
                raise S3Error("MethodNotAllowed")
            query_string = request.query_string
            query = parse_query(query_string)
            bucket, key = locate(headers.get("host", ""), raw_path, self.domains)
            # a CORS preflight never carries credentials: browsers send it before the signed request
            verified = cors.ANONYMOUS if method == "OPTIONS" else auth.authenticate(
                method, raw_path, query_string, query, headers, self.credentials)
            op, handler = dispatch.route(method, bucket, key, query, headers)
            if self.ha_view.refusal(method) is not None:  # a standby refuses writes (and reads unless allowed)
                await self.ha_view.confirm(method)
            call = Call(request, self.state["router"], bucket, key, query, headers, verified.access_key, op=op,
                        request_id=request_id)
            if method in ("PUT", "POST"):
                call.body = auth.Body(request.stream, verified, headers, idle_timeout=self.settings.request_timeout)
            response = await handler(call)
        except S3Error as err:
            response = error_response(err, raw_path, request_id, method)
        except Exception:
            log.exception("request %s failed", request_id)
            response = error_response(S3Error("InternalError"), raw_path, request_id, method)
        if response is not None:
            response.headers["x-amz-request-id"] = request_id
            if response.content_type is None:
                response.content_type = "application/xml"
            status = response.status
        else:
            status = 200
        metrics.observe(op, status, time.perf_counter() - t0)
        return response
