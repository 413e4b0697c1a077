"""Shared helpers for the SigV4 specification tests: AWS example constants and botocore round trips."""

from __future__ import annotations

import calendar
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shards.errors import S3Error

# The credentials, date and region every example in the S3 API reference uses.
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
EXAMPLE_TIME = calendar.timegm((2013, 5, 24, 0, 0, 0))
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HOST = "examplebucket.s3.amazonaws.com"


def secrets(table: dict[str, str]):
    return table.get


def aws_error(code: str):
    return pytest.raises(S3Error, match=f"^{code}:")


# --- round trips through botocore's own signer --------------------------------------------------------------------

BOTO_AK, BOTO_SK = "AKIDCAIRNTEST", "cairn/secret+key=="
ENDPOINT = "http://127.0.0.1:9000"


def signed_by_botocore(method: str, path: str, query: str = "", headers: dict | None = None, body: bytes = b"",
                       secret: str = BOTO_SK, date_header: bool = False):
    """Sign like botocore's S3 client does; return what the server would see plus the signing time."""
    url = ENDPOINT + path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    if date_header:
        request.headers["Date"] = "placeholder: botocore rewrites it"
    S3SigV4Auth(Credentials(BOTO_AK, secret), "s3", "us-east-1").add_auth(request)
    split = urlsplit(request.url)
    received = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    received["host"] = split.netloc  # http.client adds Host; botocore signs it from the URL
    when = calendar.timegm(time.strptime(request.context["timestamp"], "%Y%m%dT%H%M%SZ"))
    return split.path, split.query, received, when


def presigned_by_botocore(method: str, path: str, query: str = "", expires: int = 3600, headers: dict | None = None):
    url = ENDPOINT + path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    S3SigV4QueryAuth(Credentials(BOTO_AK, BOTO_SK), "s3", "us-east-1", expires=expires).add_auth(request)
    split = urlsplit(request.url)
    received = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    received["host"] = split.netloc
    when = calendar.timegm(time.strptime(request.context["timestamp"], "%Y%m%dT%H%M%SZ"))
    return split.path, split.query, received, when


KEYS = ["plain.txt", "with space.txt", "ünïcødé/日本語.bin", "a+b.txt", "100%.txt", "~tilde~", "k=v&x=y",
        "dir//double/./dot/../x", "!$'()*,;:@", "emoji-😀"]
