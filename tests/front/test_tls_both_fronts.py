"""The TLS tests (tests/s3/test_tls.py: boto3 over HTTPS, aws-chunked through TLS, presigned URLs, untrusted
certificates, plain HTTP to the TLS port) against both fronts: only the ``tls`` server fixture differs."""

import pytest

from tests.s3.test_tls import *  # noqa: F401,F403
from tests.s3.test_tls import TlsServer, self_signed


@pytest.fixture(scope="module")
def tls(tmp_path_factory, front):  # noqa: F811 -- this folder's fixture: one TLS server per front
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    srv = TlsServer(tmp_path_factory.mktemp(f"cairn-tls-{front}"), cert, key)
    srv.extra += ["--http-front", front]
    srv.start()
    yield srv
    srv.stop()
