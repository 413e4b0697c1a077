"""Presigned SigV4 URLs for path-style S3 requests."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse

from bench.peerbench.config import REGION


def _enc(s: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(s, safe=safe)


class Signer:
    """Presigned SigV4 (query form, UNSIGNED-PAYLOAD, only `host` signed) for path-style S3 requests."""

    def __init__(self, access_key: str, secret_key: str, host: str, region: str = REGION) -> None:
        self.ak, self.sk, self.host, self.region = access_key, secret_key, host, region
        self._keys: dict[str, bytes] = {}

    def _key(self, date: str) -> bytes:
        key = self._keys.get(date)
        if key is None:
            key = ("AWS4" + self.sk).encode()
            for part in (date, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys[date] = key
        return key

    def sign_all(self, method: str, paths, params=()) -> list[str]:
        """Presigned targets ('path?query') for many paths sharing one timestamp and query."""
        amz = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        scope = f"{amz[:8]}/{self.region}/s3/aws4_request"
        query = sorted([(_enc(k), _enc(v)) for k, v in params] + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", _enc(f"{self.ak}/{scope}")),
            ("X-Amz-Date", amz), ("X-Amz-Expires", "3600"), ("X-Amz-SignedHeaders", "host")])
        canonical_query = "&".join(f"{k}={v}" for k, v in query)
        tail = f"\n{canonical_query}\nhost:{self.host}\n\nhost\nUNSIGNED-PAYLOAD".encode()
        head = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n".encode()
        key, sha = self._key(amz[:8]), hashlib.sha256
        out = []
        for path in paths:
            uri = _enc(path, "/-_.~")
            digest = sha(f"{method}\n{uri}".encode() + tail).hexdigest().encode()
            out.append(f"{uri}?{canonical_query}&X-Amz-Signature={hmac.new(key, head + digest, sha).hexdigest()}")
        return out

    def sign(self, method: str, path: str, params=()) -> str:
        return self.sign_all(method, [path], params)[0]
