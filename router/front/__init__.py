"""The raw HTTP/1.1 front (``--http-front raw``): an asyncio/uvloop protocol over httptools serving the same
router/service.py as the sanic front, for a fraction of sanic's per-request CPU (docs/PERFORMANCE.md).

- ``wire``: response heads as bytes
- ``request``: the request object handlers see, its streamed body, streamed responses
- ``protocol``: one connection (parsing, pipelining, backpressure, timeouts, closing)
- ``server``: listening, TLS, the timeout sweeper, signals and graceful shutdown
"""

from .server import serve

__all__ = ["serve"]
