"""CORS: matching a browser's request against a bucket's CORSRules, the OPTIONS preflight, and the headers added
to real responses. S3 uses the first rule whose AllowedOrigin matches the Origin, whose AllowedMethod holds the
(requested) method and whose AllowedHeaders cover every requested header.

Matching is pure; ``preflight`` is the handler for OPTIONS (which browsers send without credentials) and
``on_response`` the hook app.py runs on every response (it acts only on requests carrying an Origin).
"""

from __future__ import annotations

from .response import HTTPResponse

from shards.errors import S3Error

from .addressing import locate
from .call import Call
from .sigv4 import Verified

# Stands in for a signature on OPTIONS: a preflight is never signed and S3 answers it without credentials.
ANONYMOUS = Verified("", b"", "", "", "", "UNSIGNED-PAYLOAD")

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def wildcard_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """``pattern`` with at most one ``*`` standing for any run of characters (possibly empty)."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    star = pattern.find("*")
    if star < 0:
        return pattern == value
    head, tail = pattern[:star], pattern[star + 1:]
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def requested_headers(value: str | None) -> list[str]:
    """Access-Control-Request-Headers as lower-case names."""
    if not value:
        return []
    return [h.strip().lower() for h in value.split(",") if h.strip()]


def match(rules: list[dict], origin: str, method: str, headers: list[str] = ()) -> dict | None:
    for rule in rules:
        if method not in rule["methods"]:
            continue
        if not any(wildcard_match(o, origin) for o in rule["origins"]):
            continue
        allowed = rule["headers"]
        if all(any(wildcard_match(a, h, fold=True) for a in allowed) for h in headers):
            return rule
    return None


def _common(rule: dict, origin: str) -> dict[str, str]:
    out = {"Access-Control-Allow-Methods": ", ".join(rule["methods"]), "Vary": VARY}
    if "*" in rule["origins"]:
        out["Access-Control-Allow-Origin"] = "*"
    else:
        out["Access-Control-Allow-Origin"] = origin
        out["Access-Control-Allow-Credentials"] = "true"
    if rule["expose"]:
        out["Access-Control-Expose-Headers"] = ", ".join(rule["expose"])
    if rule["max_age"] is not None:
        out["Access-Control-Max-Age"] = str(rule["max_age"])
    return out


def preflight_headers(rule: dict, origin: str, headers: list[str]) -> dict[str, str]:
    out = _common(rule, origin)
    if headers:
        out["Access-Control-Allow-Headers"] = ", ".join(headers)
    return out


def response_headers(rules: list[dict] | None, origin: str, method: str) -> dict[str, str]:
    """Headers for a real (authenticated) response to a request from ``origin``; empty when no rule matches."""
    if not rules:
        return {}
    rule = match(rules, origin, method)
    return _common(rule, origin) if rule is not None else {}


async def preflight(call: Call) -> HTTPResponse:
    """OPTIONS on a bucket or object: 200 with the matching rule's headers, else 403 CORSResponse."""
    origin = call.headers.get("origin")
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    method = call.headers.get("access-control-request-method")
    if not method:
        raise S3Error("BadRequest", "Invalid Access-Control-Request-Method: null")
    if not call.bucket:
        raise S3Error("CORSResponse", "CORS is not enabled for this bucket.")
    rules = call.router.cache.require(call.bucket).get("cors")
    if not rules:
        raise S3Error("CORSResponse", "CORS is not enabled for this bucket.")
    headers = requested_headers(call.headers.get("access-control-request-headers"))
    rule = match(rules, origin, method, headers)
    if rule is None:
        raise S3Error("CORSResponse")
    return HTTPResponse(status=200, headers=preflight_headers(rule, origin, headers))


def on_response(router, domains: list[str], request, response) -> None:
    """Add CORS headers to a real response when its bucket has a rule for the request's Origin and method."""
    origin = request.headers.get("origin")
    if origin is None or request.method == "OPTIONS" or router is None:
        return
    try:
        bucket, _ = locate(request.headers.get("host", ""), request.path, domains)
    except S3Error:
        return
    cfg = router.cache.configs.get(bucket)
    if cfg is not None and cfg.get("cors"):
        response.headers.update(response_headers(cfg["cors"], origin, request.method))
