"""Response heads as bytes: status line, the handler's headers (names matched case-insensitively, CR/LF/NUL
removed from values so a header can never split the response), Content-Length and Connection."""

from __future__ import annotations

from http import HTTPStatus

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}
_UNSAFE = str.maketrans("", "", "\r\n\x00")
_FRAMING = frozenset(("content-length", "transfer-encoding", "connection"))


def has_body(status: int) -> bool:
    return status not in (204, 304) and not 100 <= status < 200


def head(status: int, headers: dict, content_type: str | None, length: int | None, keep_alive: bool,
         head_only: bool = False) -> bytes:
    """The response head. ``length``: the body's length; None for a streamed body (chunked unless the headers
    give a Content-Length). A HEAD response keeps the Content-Length the handler gave (the object's size)."""
    lines = []
    given = None
    has_type = False
    for name, value in headers.items():
        lname = name.lower()
        if lname in _FRAMING:
            if lname == "content-length":
                given = value
            continue
        if lname == "content-type":
            has_type = True
        lines.append(f"{name}: {value}\r\n")
    text = "".join(lines)
    # every line ends in exactly one CRLF: any other CR, LF or a NUL came from a value
    if text.count("\n") != len(lines) or text.count("\r") != len(lines) or "\x00" in text:
        text = "".join(f"{k}: {str(v).translate(_UNSAFE)}\r\n" for k, v in headers.items()
                       if k.lower() not in _FRAMING)
    tail = []
    if has_body(status):
        if content_type and not has_type:
            tail.append(f"content-type: {content_type}\r\n")
        if head_only and given is not None:
            tail.append(f"content-length: {given}\r\n")
        elif length is not None:
            tail.append(f"content-length: {length}\r\n")
        elif given is not None:
            tail.append(f"content-length: {given}\r\n")
        else:
            tail.append("transfer-encoding: chunked\r\n")
    tail.append("connection: keep-alive\r\n\r\n" if keep_alive else "connection: close\r\n\r\n")
    status_line = STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n"
    return (status_line + text + "".join(tail)).encode("utf-8", "surrogateescape")


def declared_length(headers: dict) -> int | None:
    """The Content-Length a streamed response's handler gave, if any."""
    for k, v in headers.items():
        if k.lower() == "content-length":
            return int(v)
    return None
