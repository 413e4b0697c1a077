"""Raw HTTP requests to a test server, signed with botocore's own SigV4 signer (or deliberately not)."""

from __future__ import annotations

import hashlib
import http.client
from dataclasses import dataclass

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes


def send(server, method: str, path: str, *, headers: dict | None = None, body: bytes = b"",
         host: str | None = None) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    hdrs = dict(headers or {})
    if host is not None:
        hdrs["Host"] = host
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)


def signed(server, method: str, path: str, *, headers: dict | None = None, body: bytes = b"",
           host: str | None = None, secret: str | None = None, access: str | None = None,
           sign_body: bytes | None = None) -> Reply:
    """``sign_body`` signs a different payload than the one sent (to test the payload-hash check)."""
    host = host or f"127.0.0.1:{server.port}"
    url = f"http://{host}{path}"
    hdrs = dict(headers or {})
    signed_body = body if sign_body is None else sign_body
    hdrs["x-amz-content-sha256"] = hashlib.sha256(signed_body).hexdigest()
    req = AWSRequest(method=method, url=url, data=signed_body, headers=hdrs)
    creds = Credentials(access or server.access_key, secret or server.secret_key)
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    prepared = req.prepare()
    out = {k: v for k, v in prepared.headers.items()}
    return send(server, method, path, headers=out, body=body, host=host)
