"""Shared helpers for the wal tests."""
import asyncio
import os

from wal import Log, SyncPolicy
from wal.io import ThreadPoolIO

BACKEND = "threadpool"  # set per test by the `backend` fixture (conftest.py)
TEST_SEGMENT_SIZE = 1 << 20  # segments are pre-zeroed: keep them small in tests


def backend_class():
    if BACKEND == "io_uring":
        # Never the `auto` fallback here: if io_uring can't be set up, these tests must fail, not pass on the pool.
        from wal.io_uring import UringIO
        return UringIO
    return ThreadPoolIO


def make_io(**kwargs):
    return backend_class()(**kwargs)


class CountingObserver:
    def __init__(self):
        self.calls: list[tuple[float, int]] = []

    def fsync(self, seconds, records):
        self.calls.append((seconds, records))

    @property
    def records(self):
        return sum(r for _, r in self.calls)


def open_log(directory, *, full=False, sync=SyncPolicy("none"), **kwargs):
    """A recovered log and what recovery yielded."""
    kwargs.setdefault("segment_size", TEST_SEGMENT_SIZE)
    if "io" not in kwargs:
        kwargs["io"] = make_io()
    log = Log(directory, sync=sync, **kwargs)
    return log, list(log.recover(full=full))


def close(log):
    asyncio.run(log.close())


def segment_path(directory, number):
    return os.path.join(directory, f"{number:016d}.seg")
