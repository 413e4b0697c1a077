"""AWS Signature Version 4 verification, S3 flavour (header auth and presigned URLs).

Everything here is a pure function of the request as received: the router hands over the raw (still
percent-encoded) path and query string plus lowercase header names, and gets back a ``Verified`` or an
``S3Error`` whose code and wording follow what S3 itself answers, because SDKs branch on those codes (botocore
corrects its clock on RequestTimeTooSkewed, for instance).

S3 differs from the generic SigV4 recipe in two ways that matter: the path is not normalised ('//' and '.'
segments are signed as sent) and it is encoded once, not twice.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping, NamedTuple, Sequence
from urllib.parse import quote, unquote_to_bytes

from shards.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
PAYLOAD_TOKENS = frozenset({UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_PRESIGN_EXPIRES = 604800  # one week: S3's ceiling for X-Amz-Expires

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")  # lowercase RFC 9110 token
_SPACES = re.compile(r"[ \t]+")
# Components made only of RFC 3986 unreserved characters decode and re-encode to themselves: the common case
# (presigned URLs' own parameters, plain keys) skips the unquote/quote round trip, the costliest part of SigV4.
_UNRESERVED = re.compile(r"[A-Za-z0-9\-_.~]*")
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9\-_.~/]*")
_EXPIRES = re.compile(r"-?[0-9]{1,10}")
# A query string already in canonical encoding has only these characters, and every '%' starts an uppercase
# escape of a character that must be escaped (an unreserved one must appear as itself).
_CANONICAL_CHARS = re.compile(r"[A-Za-z0-9\-_.~%=&]*")
_BAD_ESCAPE = re.compile(r"%(?:(?![0-9A-F]{2})|2[DE]|3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE])")

_MALFORMED = "The authorization header is malformed; "
_BAD_CREDENTIAL = 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
_QUERY_CREDENTIAL = "Error parsing the X-Amz-Credential parameter; "
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                   "X-Amz-Expires")


# NamedTuples rather than frozen dataclasses: as immutable, and several times cheaper to make (once per request).
class Credential(NamedTuple):
    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


class Verified(NamedTuple):
    """The result of a successful check; the chunk decoder needs the key material to continue the chain."""

    access_key: str
    signing_key: bytes
    scope: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    seed_signature: str  # the request signature: the first "previous signature" of an aws-chunked body
    payload_hash: str  # x-amz-content-sha256 as sent (hex digest or one of PAYLOAD_TOKENS)


# --- the signing primitives -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    # Four HMACs per request add up at high request rates; the key only changes daily per credential.
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, msg.encode(), "sha256")  # the one-shot C path: no Python HMAC object per call


def sign(key: bytes, msg: str) -> str:
    """HMAC-SHA256 of ``msg`` as hex, continuing a copy of the key's prepared HMAC (``_keyed``)."""
    h = _keyed(key).copy()
    h.update(msg.encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=256)
def _keyed(key: bytes):
    # A signing key serves a whole day of requests (and every chunk of a streamed body): preparing its HMAC once
    # and copying it is 1.6 µs a signature against 2.4 µs for a one-shot hmac.digest, which keys it anew each call.
    return hmac.new(key, digestmod="sha256")


def uri_encode(s: str | bytes, encode_slash: bool) -> str:
    # quote() always keeps A-Z a-z 0-9 '-' '_' '.' '~' (RFC 3986 unreserved) and emits uppercase hex.
    return quote(s, safe="" if encode_slash else "/")


def canonical_uri(raw_path: str) -> str:
    # Decode to bytes, not str: a path with percent-encoded bytes that are not UTF-8 must re-encode to exactly
    # what the client signed, which a lossy str round trip would not.
    if not raw_path:
        return "/"
    if _UNRESERVED_PATH.fullmatch(raw_path):
        return raw_path
    return uri_encode(unquote_to_bytes(raw_path), encode_slash=False)


def _canonical_component(s: str) -> str:
    if _UNRESERVED.fullmatch(s):
        return s
    return uri_encode(unquote_to_bytes(s), True)


def _split_query(query_string: str) -> list[tuple[str, str, str]]:
    """(name, "=" or "", value) for each '&'-separated piece, still percent-encoded."""
    return [piece.partition("=") for piece in query_string.split("&")]


def _canonical_as_sent(query_string: str, triples: list, drop_signature: bool) -> str | None:
    """The canonical query of a query string whose every component is already canonically encoded (what SDKs
    send, presigned URLs included), where only the order may differ; None when it is not in that form.
    ``triples``: _split_query(query_string)."""
    if (not _CANONICAL_CHARS.fullmatch(query_string) or _BAD_ESCAPE.search(query_string)
            or "&&" in query_string or query_string[0] == "&" or query_string[-1] == "&"):
        return None
    # the triples sort as canonical_query's (name, value) pairs
    for _, _, value in triples:
        if "=" in value:
            return None
    if drop_signature:
        triples = [t for t in triples if t[0] != "X-Amz-Signature"]
    triples.sort()
    return "&".join([f"{k}={v}" for k, _, v in triples])


def canonical_query(query_string: str, *, drop_signature: bool = False) -> str:
    if not query_string:
        return ""
    fast = _canonical_as_sent(query_string, _split_query(query_string), drop_signature)
    if fast is not None:
        return fast
    pairs = []
    for piece in query_string.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        key = _canonical_component(key)
        if drop_signature and key == "X-Amz-Signature":
            continue
        pairs.append((key, _canonical_component(value)))
    pairs.sort()  # encoded strings are ASCII, so this is the byte order SigV4 asks for
    return "&".join(f"{k}={v}" for k, v in pairs)


def _header_value(value: str) -> str:
    value = value.strip(" \t")
    return _SPACES.sub(" ", value) if "  " in value or "\t" in value else value


def canonical_request(method: str, raw_path: str, query_string: str, headers: Mapping[str, str],
                      signed_headers: Sequence[str], payload_hash: str, *, presigned: bool = False) -> str:
    return _canonical_request(method, raw_path, canonical_query(query_string, drop_signature=presigned), headers,
                              signed_headers, payload_hash)


def _canonical_request(method: str, raw_path: str, canonical_q: str, headers: Mapping[str, str],
                       signed_headers: Sequence[str], payload_hash: str) -> str:
    # Signed headers are used in the order the client listed them: it built its canonical request from the same
    # list, and any disagreement surfaces as SignatureDoesNotMatch anyway.
    header_lines = "".join([f"{name}:{_header_value(headers.get(name, ''))}\n" for name in signed_headers])
    return f"{method.upper()}\n{canonical_uri(raw_path)}\n{canonical_q}\n{header_lines}\n{';'.join(signed_headers)}\n" \
        f"{payload_hash}"


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def chunk_string_to_sign(amz_date: str, scope: str, previous_signature: str, chunk_sha256_hex: str) -> str:
    return f"{ALGORITHM}-PAYLOAD\n{amz_date}\n{scope}\n{previous_signature}\n{EMPTY_SHA256}\n{chunk_sha256_hex}"


def trailer_string_to_sign(amz_date: str, scope: str, previous_signature: str, trailer_sha256_hex: str) -> str:
    return f"{ALGORITHM}-TRAILER\n{amz_date}\n{scope}\n{previous_signature}\n{trailer_sha256_hex}"


# --- parsing ------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a credential is the same string for a whole day: most requests hit
def _split_credential(value: str) -> Credential | None:
    # rsplit: the four scope fields never contain '/', so anything before them is the access key.
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or not all(parts) or parts[4] != TERMINATOR:
        return None
    if len(parts[1]) != 8 or not parts[1].isdigit():
        return None
    return Credential(parts[0], parts[1], parts[2], parts[3])


def _split_signed_headers(value: str) -> list[str] | None:
    names = value.split(";")
    return names if all(_HEADER_NAME.fullmatch(n) for n in names) else None


def parse_authorization(value: str) -> tuple[Credential, list[str], str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        if scheme == "AWS":  # SigV2, which S3 answers this way where it is switched off
            raise S3Error("InvalidRequest", "The authorization mechanism you have provided is not supported. "
                          "Please use AWS4-HMAC-SHA256.")
        raise S3Error("InvalidArgument", "Unsupported Authorization Type",
                      ArgumentName="Authorization", ArgumentValue=value)
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, field = part.partition("=")
        if not eq or name in fields:
            raise S3Error("AuthorizationHeaderMalformed", _MALFORMED + f'the authorization component "{part}" is '
                          "malformed.")
        fields[name] = field.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise S3Error("AuthorizationHeaderMalformed", _MALFORMED + "the authorization header requires three "
                      "components: Credential, SignedHeaders, and Signature.")
    credential = _split_credential(fields["Credential"])
    if credential is None:
        raise S3Error("AuthorizationHeaderMalformed", _MALFORMED + _BAD_CREDENTIAL)
    signed = _split_signed_headers(fields["SignedHeaders"])
    if signed is None or not fields["Signature"]:
        raise S3Error("AuthorizationHeaderMalformed",
                      _MALFORMED + "the SignedHeaders or Signature is empty or invalid.")
    return credential, signed, fields["Signature"]


@functools.lru_cache(maxsize=256)  # many requests share each second's timestamp (all of a batch of presigned URLs)
def _parse_amz_date(value: str) -> float | None:
    if not _AMZ_DATE.fullmatch(value):
        return None
    # by hand: strptime costs ~50 µs a call, a measurable share of every request
    y, mo, d, h, mi, sec = (int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                            int(value[11:13]), int(value[13:15]))
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60 and sec < 60):
        return None
    return float(calendar.timegm((y, mo, d, h, mi, sec)))


def _format_amz_date(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _request_time(headers: Mapping[str, str]) -> tuple[str, float]:
    """The signing timestamp: x-amz-date wins over Date, as the SigV4 spec says."""
    if "x-amz-date" in headers:
        t = _parse_amz_date(headers["x-amz-date"].strip())
    elif "date" in headers:
        t = _parse_http_date(headers["date"].strip())
    else:
        t = None
    if t is None:
        raise S3Error("AccessDenied", _NO_DATE)
    return _format_amz_date(t), t


def _parse_http_date(value: str) -> float | None:
    t = _parse_amz_date(value)  # some signers put the ISO basic form in Date
    if t is not None:
        return t
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:  # "-0000" (botocore's formatdate) parses naive but means UTC
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _check_payload_hash(value: str) -> None:
    if value not in PAYLOAD_TOKENS and not _HEX64.fullmatch(value):
        raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, or a valid sha256 value.",
                      ArgumentName="x-amz-content-sha256", ArgumentValue=value)


def _check_scope(credential: Credential, region: str | None, prefix: str, code: str) -> None:
    if credential.service != SERVICE:
        raise S3Error(code, prefix + f'incorrect service "{credential.service}". This endpoint belongs to "{SERVICE}".')
    if region is not None and credential.region != region:
        raise S3Error(code, prefix + f"the region '{credential.region}' is wrong; expecting '{region}'",
                      Region=region)


def _unsigned_headers(headers: Mapping[str, str], signed: Sequence[str]) -> list[str]:
    # S3 insists that host and every x-amz-* header be signed, so a replayed request cannot gain e.g. an
    # x-amz-copy-source or x-amz-acl; x-amz-content-sha256 is the one it tolerates unsigned.
    missing = [] if "host" in signed else ["host"]
    missing += sorted([n for n in headers
                       if n.startswith("x-amz-") and n != "x-amz-content-sha256" and n not in signed])
    return missing


def _lookup(lookup_secret: Callable[[str], str | None], access_key: str) -> str:
    secret = lookup_secret(access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    return secret


def _verify(credential: Credential, secret: str, amz_date: str, canonical: str, provided: str) -> bytes:
    key = signing_key(secret, credential.date, credential.region, credential.service)
    to_sign = string_to_sign(amz_date, credential.scope, canonical)
    if not hmac.compare_digest(sign(key, to_sign).encode(), provided.encode("utf-8", "replace")):
        # S3 echoes these so a client author can diff them against their own signer's output.
        raise S3Error("SignatureDoesNotMatch", AWSAccessKeyId=credential.access_key, StringToSign=to_sign,
                      SignatureProvided=provided, CanonicalRequest=canonical)
    return key


def _reject_unsigned(headers: Mapping[str, str], signed: Sequence[str]) -> None:
    missing = _unsigned_headers(headers, signed)
    if missing:
        raise S3Error("AccessDenied", "There were headers present in the request which were not signed",
                      HeadersNotSigned=", ".join(missing))


# --- the two entry points --------------------------------------------------------------------------------------


def verify_header_auth(method: str, raw_path: str, query_string: str, headers: Mapping[str, str],
                       lookup_secret: Callable[[str], str | None], now: float, *, max_skew: float = 900.0,
                       region: str | None = None) -> Verified:
    """Check an ``Authorization: AWS4-HMAC-SHA256 ...`` request; ``headers`` has lowercase names.

    ``region``, when given, must match the credential scope (S3 answers AuthorizationHeaderMalformed with the
    expected region so SDKs can redirect). The payload hash is only validated for form; comparing a hex digest
    with the body is the caller's job once the body has been read.
    """
    if "authorization" not in headers:
        raise S3Error("AccessDenied")
    credential, signed, signature = parse_authorization(headers["authorization"])
    _check_scope(credential, region, _MALFORMED, "AuthorizationHeaderMalformed")
    payload_hash = headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    payload_hash = payload_hash.strip()
    _check_payload_hash(payload_hash)
    amz_date, t = _request_time(headers)
    if credential.date != amz_date[:8]:
        raise S3Error("AuthorizationHeaderMalformed",
                      _MALFORMED + "Invalid credential date. Date is not the same as X-Amz-Date.")
    secret = _lookup(lookup_secret, credential.access_key)
    if abs(now - t) > max_skew:
        raise S3Error("RequestTimeTooSkewed", RequestTime=amz_date, ServerTime=_iso(now),
                      MaxAllowedSkewMilliseconds=str(int(max_skew * 1000)))
    canonical = canonical_request(method, raw_path, query_string, headers, signed, payload_hash)
    key = _verify(credential, secret, amz_date, canonical, signature)
    _reject_unsigned(headers, signed)
    return Verified(credential.access_key, key, credential.scope, amz_date, signature, payload_hash)


def _query_params(triples: list) -> dict[str, str]:
    """Decoded query parameters from _split_query's triples, first value wins."""
    params: dict[str, str] = {}
    for key, _, value in triples:
        # without a '%' a component decodes to itself (the cheap test: every presigned request passes here)
        name = key if "%" not in key else _decode_component(key)
        if name in _PRESIGN_PARAMS and name in params:
            # Two different values for one auth parameter would let the signed and the enforced one differ.
            raise S3Error("AuthorizationQueryParametersError", f"{name} appears more than once.")
        if name not in params:
            params[name] = value if "%" not in value else _decode_component(value)
    return params


def _decode_component(s: str) -> str:
    return _decode_short(s) if len(s) <= 256 else unquote_to_bytes(s).decode("utf-8", "replace")


@functools.lru_cache(maxsize=1024)  # X-Amz-Credential, the one encoded parameter, is the same all day
def _decode_short(s: str) -> str:
    return unquote_to_bytes(s).decode("utf-8", "replace")


def verify_presigned(method: str, raw_path: str, query_string: str, headers: Mapping[str, str],
                     lookup_secret: Callable[[str], str | None], now: float, *, max_skew: float = 900.0,
                     region: str | None = None) -> Verified:
    """Check a query-string signed (presigned URL) request.

    The payload hash is X-Amz-Content-Sha256 from the query if present, else the x-amz-content-sha256 header if
    the client sent one (botocore signs that value when it is set), else UNSIGNED-PAYLOAD as the S3 docs say.
    """
    triples = _split_query(query_string)
    params = _query_params(triples)
    if not all([params.get(name) for name in _PRESIGN_PARAMS]):
        raise S3Error("AuthorizationQueryParametersError", "Query-string authentication version 4 requires the "
                      "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                      "and X-Amz-Expires parameters.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error("AuthorizationQueryParametersError", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    credential = _split_credential(params["X-Amz-Credential"])
    if credential is None:
        raise S3Error("AuthorizationQueryParametersError", _QUERY_CREDENTIAL + _BAD_CREDENTIAL)
    _check_scope(credential, region, _QUERY_CREDENTIAL, "AuthorizationQueryParametersError")
    amz_date = params["X-Amz-Date"]
    t = _parse_amz_date(amz_date)
    if t is None:
        raise S3Error("AuthorizationQueryParametersError",
                      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    if credential.date != amz_date[:8]:
        raise S3Error("AuthorizationQueryParametersError", f'Invalid credential date "{credential.date}". '
                      f'This date is not the same as X-Amz-Date: "{amz_date[:8]}".')
    expires = _parse_expires(params["X-Amz-Expires"])
    signed = _split_signed_headers(params["X-Amz-SignedHeaders"])
    if signed is None:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-SignedHeaders is malformed.")
    if t - now > max_skew:
        raise S3Error("AccessDenied", "Request is not yet valid", **{"X-Amz-Date": amz_date},
                      Expires=_iso(t + expires), ServerTime=_iso(now))
    if now > t + expires:
        raise S3Error("AccessDenied", "Request has expired", **{"X-Amz-Expires": str(expires)},
                      Expires=_iso(t + expires), ServerTime=_iso(now))
    secret = _lookup(lookup_secret, credential.access_key)
    payload_hash = params.get("X-Amz-Content-Sha256") or headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    payload_hash = payload_hash.strip()
    _check_payload_hash(payload_hash)
    canonical_q = _canonical_as_sent(query_string, triples, True)
    if canonical_q is None:
        canonical_q = canonical_query(query_string, drop_signature=True)
    canonical = _canonical_request(method, raw_path, canonical_q, headers, signed, payload_hash)
    signature = params["X-Amz-Signature"]
    key = _verify(credential, secret, amz_date, canonical, signature)
    _reject_unsigned(headers, signed)
    return Verified(credential.access_key, key, credential.scope, amz_date, signature, payload_hash)


def _parse_expires(value: str) -> int:
    if not _EXPIRES.fullmatch(value):  # int() would also take "+5", " 5" and "5_0"
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number")
    expires = int(value)
    if expires < 0:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGN_EXPIRES:
        raise S3Error("AuthorizationQueryParametersError",
                      f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}")
    return expires
