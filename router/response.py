"""The response a handler returns, whichever HTTP front serves it (router/app.py for sanic, router/front/ for the
raw protocol). A plain record: each front turns it into bytes on the wire its own way.

Large GETs do not return one: they call ``call.request.respond(status=, headers=)`` and ``send``/``eof`` on what it
returns; both fronts give their request object that method.
"""

from __future__ import annotations


class HTTPResponse:
    """``headers`` is a plain dict; names are matched case-insensitively when the response is written."""

    __slots__ = ("body", "status", "headers", "content_type")

    def __init__(self, body: bytes | str | None = None, status: int = 200, headers: dict | None = None,
                 content_type: str | None = None) -> None:
        self.body = body.encode() if isinstance(body, str) else (body or b"")
        self.status = status
        self.headers = dict(headers) if headers else {}
        self.content_type = content_type
