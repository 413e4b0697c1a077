"""Every log test runs against both I/O backends (DESIGN §4: both pass the same suite)."""
import pytest

from tests.wal import wal_helpers


@pytest.fixture(params=["threadpool", "io_uring"])
def backend(request):
    """Selects the backend open_log() and make_io() build for this test."""
    wal_helpers.BACKEND = request.param
    yield request.param
    wal_helpers.BACKEND = "threadpool"
