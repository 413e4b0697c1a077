import itertools

import pytest

from tests.support.server import CairnServer

_names = itertools.count()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One real 2-shard server shared by the API tests (each test uses its own bucket)."""
    srv = CairnServer(tmp_path_factory.mktemp("cairn-data"), shards=2).start()
    yield srv
    srv.stop()


@pytest.fixture
def s3(server):
    return server.client()


@pytest.fixture
def bucket(s3):
    name = f"test-bucket-{next(_names)}"
    s3.create_bucket(Bucket=name)
    return name
