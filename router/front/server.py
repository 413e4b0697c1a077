"""The raw front's server: the listening socket the supervisor handed over, TLS, the timeout sweeper, signals
and graceful shutdown (stop accepting, close idle connections, let answers in flight finish, then stop)."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from .. import shard_client
from .protocol import HttpConnection

log = logging.getLogger("cairn.front")

GRACE = 8.0  # seconds in-flight requests get on shutdown (the supervisor kills a router after 10)


def tls_context(settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


RECV_BUFFER = 256 << 10


class Front:
    def __init__(self, settings, service, loop, tls: ssl.SSLContext | None) -> None:
        self.settings = settings
        self.service = service
        self.loop = loop
        self.ssl = tls
        self.connections: set[HttpConnection] = set()
        self.stopping = False
        # Every connection of this worker reads into this one buffer: the parser consumes a read completely,
        # copying out what it keeps (URL, headers, body pieces), before the loop can start another read.
        self.recv_view = memoryview(bytearray(RECV_BUFFER))

    async def sweep(self) -> None:
        """Every connection's deadlines, checked a few times per shortest timeout (no timer per request)."""
        s = self.settings
        interval = max(0.05, min(1.0, s.request_timeout / 4, s.keep_alive_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            for conn in list(self.connections):
                conn.check(now, s)

    async def shutdown(self, server) -> None:
        self.stopping = True
        server.close()
        deadline = self.loop.time() + GRACE
        while self.connections and self.loop.time() < deadline:
            for conn in list(self.connections):
                conn.close_if_idle()
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()


async def run(settings, sock, service) -> None:
    loop = asyncio.get_running_loop()
    front = Front(settings, service, loop, tls_context(settings))
    await service.start()
    server = await loop.create_server(lambda: HttpConnection(front), sock=sock, ssl=front.ssl, backlog=1024)
    stop = asyncio.Event()

    def on_signal() -> None:
        # a signal to the process group reaches a router twice (directly, then from the supervisor): act once
        shard_client.stopping()  # shards going away from now on is expected, not worth a warning
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    sweeper = asyncio.ensure_future(front.sweep())
    log.info("raw HTTP front serving")
    await stop.wait()
    await front.shutdown(server)
    sweeper.cancel()
    await service.stop()


def serve(settings, sock, name: str, join_when_ready: bool = False, index: int = 0) -> None:
    """Serve until SIGTERM/SIGINT; returns normally (so atexit hooks such as the profiler's run)."""
    import uvloop

    from ..service import Service

    uvloop.run(run(settings, sock, Service(settings, name, join_when_ready, index)))
