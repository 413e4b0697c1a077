"""Both HTTP fronts (``--http-front sanic`` and ``raw``), so the one that is not the default stays tested: the
``server`` fixture of this folder is one real 2-shard server per front, and the S3 modules re-run here
(test_s3_both_fronts.py) and the HTTP/1.1 behaviour tests (test_http1.py) run against each."""

import pytest

from tests.support.server import CairnServer

FRONTS = ["raw", "sanic"]


@pytest.fixture(scope="session", params=FRONTS)
def front(request):
    return request.param


@pytest.fixture(scope="session")
def server(tmp_path_factory, front):
    srv = CairnServer(tmp_path_factory.mktemp(f"cairn-{front}"), shards=2, extra=["--http-front", front]).start()
    yield srv
    srv.stop()
