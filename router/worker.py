"""A router worker process: ``python -m router.worker '<json settings>' <listening fd> <index>``.

The supervisor binds one listening socket per router worker, all on one port (SO_REUSEPORT, so the kernel spreads
connections over the workers), and keeps them open, so a worker can be restarted without its socket ever closing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys

import orjson

from . import shard_client

GRACEFUL_SECONDS = 8.0  # requests in flight get this long to finish; the supervisor kills a child after 10 s


async def stop_once_on_signals(app) -> None:
    """Replace sanic's SIGTERM/SIGINT handlers with ones that act once. A signal to the whole process group
    reaches a router twice (directly, then from the supervisor stopping its children); sanic's handler stopped
    the loop again in the middle of its graceful shutdown ("Event loop stopped before Future completed")."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
        shard_client.stopping()
        app.stop(terminate=False)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


def close_connections_when_stopping(request, response) -> None:
    # sanic lets a busy keep-alive connection live through its whole graceful-shutdown window; once stopping,
    # each connection closes after the response it is sending, so a loaded router still stops promptly
    if shard_client.is_stopping() and request.stream is not None:
        request.stream.keep_alive = False


def refuse_unread_bodies(request, response) -> None:
    # An error answered from the request head (EntityTooLarge, auth, NoSuchBucket...) leaves the body unread.
    # sanic would put "100 Continue" in front of the error, inviting the body we will not read, and then say
    # keep-alive while it resets the connection: answer without the 100, announcing the close instead.
    http = request.stream
    if response.status >= 300 and getattr(http, "request_body", None) and http.request_bytes_left:
        http.expecting_continue = False
        http.keep_alive = False


def main() -> None:
    from .config import Settings

    settings = Settings(**orjson.loads(sys.argv[1]))
    fd, index = int(sys.argv[2]), int(sys.argv[3])
    # the first worker answers from the start (/_cairn/ready says 503 while shards recover); the others, and any
    # worker the supervisor restarts while the rest serve, take requests once connected to every shard
    join_when_ready = index > 0 or sys.argv[4:5] == ["restarted"]
    try:
        import setproctitle
        setproctitle.setproctitle(f"cairn: router {index}")
    except ImportError:  # the title is a convenience for `ps`, never a reason not to serve
        pass
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s router-{index} %(levelname)s %(message)s")
    from . import auth
    from .app import NoDelayProtocol, build_app

    auth.serve_region(settings.region)

    for name in ("sanic.root", "sanic.error", "sanic.server", "sanic.access"):
        logging.getLogger(name).setLevel(settings.log_level)

    from shards.profiling import maybe_profile
    maybe_profile(f"router {index}")
    sock = socket.socket(fileno=fd)
    if settings.http_front == "raw":  # router/front/: httptools on uvloop, the same Service as the sanic app
        from .front import serve
        serve(settings, sock, name=f"cairn_router_{index}", join_when_ready=join_when_ready, index=index)
        return
    app = build_app(settings, name=f"cairn_router_{index}", join_when_ready=join_when_ready, index=index)
    app.after_server_start(stop_once_on_signals)
    app.register_middleware(close_connections_when_stopping, "response")
    app.register_middleware(refuse_unread_bodies, "response")
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = GRACEFUL_SECONDS
    ssl = {"cert": settings.tls_cert, "key": settings.tls_key} if settings.tls_cert else None
    app.run(sock=sock, single_process=True, access_log=False, motd=False, protocol=NoDelayProtocol, ssl=ssl,
            debug=False, auto_reload=False)


if __name__ == "__main__":
    main()
