"""A router worker process: ``python -m router.worker '<json settings>' <listening fd> <index>``.

The supervisor binds the listening socket once and hands it to every router worker, so workers can be
restarted without the port ever closing.
"""

from __future__ import annotations

import logging
import socket
import sys

import orjson


def main() -> None:
    from .config import Settings

    settings = Settings(**orjson.loads(sys.argv[1]))
    fd, index = int(sys.argv[2]), int(sys.argv[3])
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
    app = build_app(settings, name=f"cairn_router_{index}")
    ssl = {"cert": settings.tls_cert, "key": settings.tls_key} if settings.tls_cert else None
    app.run(sock=sock, single_process=True, access_log=False, motd=False, protocol=NoDelayProtocol, ssl=ssl,
            debug=False, auto_reload=False)


if __name__ == "__main__":
    main()
