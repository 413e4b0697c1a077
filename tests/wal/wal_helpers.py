"""Shared helpers for the wal tests."""
import asyncio
import os

from wal import Log, SyncPolicy


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
    log = Log(directory, sync=sync, **kwargs)
    return log, list(log.recover(full=full))


def close(log):
    asyncio.run(log.close())


def segment_path(directory, number):
    return os.path.join(directory, f"{number:016d}.seg")
