"""The I/O seam: every syscall the log makes on segment files goes through here.

This is the thread-pool backend (DESIGN §4: the fallback when io_uring can't be
used); io_uring.py is the other one, with the same methods. Writes take
explicit offsets (io_uring has no file position) and carry the LSN of the last
record they hold, so a backend that completes writes later can tell the log
how far the log is *written* (in the page cache): `written_lsn`.

Here writes and reads stay synchronous on the caller's thread: a write into
the page cache and a warm pread are cheaper inline than a hand-off to a thread
(DESIGN §8). Only fsync goes to a thread: it must never run on the event loop.
"""
from __future__ import annotations

import asyncio
import errno
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Callable, Protocol, Sequence

Buffer = bytes | bytearray | memoryview


class IOBackend(Protocol):
    """What the log and recovery need from a backend."""

    name: str
    written_lsn: int            # every record up to this LSN is in the page cache
    error: BaseException | None  # a write that failed after append() returned

    def attach(self, loop: asyncio.AbstractEventLoop, defer: Callable[[], bool]) -> None: ...
    def write(self, fd: int, buffers: Sequence[Buffer], offset: int, lsn: int) -> None: ...
    async def wait_written(self, lsn: int) -> None: ...
    def open_segment(self, path: str, *, create: bool = False, writable: bool = True) -> int: ...
    def open_dir(self, path: str) -> int: ...
    def size(self, fd: int) -> int: ...
    def close(self, fd: int) -> None: ...
    def pwritev(self, fd: int, buffers: Sequence[Buffer], offset: int) -> None: ...
    def pread(self, fd: int, n: int, offset: int) -> bytes: ...
    def preadinto(self, fd: int, buf: memoryview, offset: int) -> int: ...
    def pread_cached(self, fd: int, n: int, offset: int) -> bytearray | None: ...
    def drop_cache(self, fd: int, offset: int, length: int) -> None: ...
    def truncate(self, fd: int, size: int) -> None: ...
    def sync_blocking(self, fds: Sequence[int], dir_fd: int | None = None) -> None: ...
    async def sync(self, fds: Sequence[int], dir_fd: int | None = None) -> None: ...
    def shutdown(self) -> None: ...


class ThreadPoolIO:
    name = "threadpool"

    def __init__(self) -> None:
        # A private thread so fsyncs never queue behind unrelated work in the
        # loop's default executor; one is enough because the flusher never has
        # two syncs in flight.
        self._executor: ThreadPoolExecutor | None = None
        self.written_lsn = 0
        self.error: BaseException | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, defer: Callable[[], bool]) -> None:
        """Called once the log has an event loop; `defer()` says an fsync is
        about to be issued anyway (a backend may hold writes back to join it)."""

    # -- files ---------------------------------------------------------------

    def open_segment(self, path: str, *, create: bool = False, writable: bool = True) -> int:
        flags = os.O_CLOEXEC | (os.O_RDWR if writable or create else os.O_RDONLY)
        if create:
            flags |= os.O_CREAT | os.O_EXCL
        return os.open(path, flags, 0o644)

    def open_dir(self, path: str) -> int:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def size(self, fd: int) -> int:
        return os.fstat(fd).st_size

    def close(self, fd: int) -> None:
        os.close(fd)

    # -- data ----------------------------------------------------------------

    def pwritev(self, fd: int, buffers: Sequence[Buffer], offset: int) -> None:
        """Write every byte or raise. Regular files rarely return short, but
        ENOSPC can leave a partial write that the caller must cut off."""
        views = [memoryview(b).cast("B") for b in buffers]
        while True:
            written = os.pwritev(fd, views, offset)
            if written == 0:
                raise OSError("pwritev made no progress")
            offset += written
            while views and written >= views[0].nbytes:
                written -= views[0].nbytes
                views.pop(0)
            if not views:
                return
            views[0] = views[0][written:]

    def write(self, fd: int, buffers: Sequence[Buffer], offset: int, lsn: int) -> None:
        """Write a record (or several); here synchronously, so the log is
        written up to `lsn` when this returns or raises."""
        self.pwritev(fd, buffers, offset)
        self.written_lsn = lsn

    async def wait_written(self, lsn: int) -> None:
        return None  # writes complete inline

    def pread(self, fd: int, n: int, offset: int) -> bytes:
        data = os.pread(fd, n, offset)
        if len(data) != n:
            # A short read means the file is shorter than the caller believes:
            # callers treat that like any other corruption.
            raise EOFError(f"short read: wanted {n} bytes at {offset}, got {len(data)}")
        return data

    def preadinto(self, fd: int, buf: memoryview, offset: int) -> int:
        """Read up to len(buf) bytes at `offset` into `buf` (no allocation:
        recovery reuses one buffer); returns how many, fewer only at end of file."""
        got = 0
        while got < buf.nbytes:
            n = os.preadv(fd, [buf[got:]], offset + got)
            if n == 0:
                break
            got += n
        return got

    def pread_cached(self, fd: int, n: int, offset: int) -> bytearray | None:
        """`n` bytes at `offset` if the page cache holds all of them (RWF_NOWAIT), else None: never waits for the
        disk. A file system without RWF_NOWAIT is read as usual."""
        buf = bytearray(n)
        try:
            got = os.preadv(fd, [buf], offset, os.RWF_NOWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
            got = self.preadinto(fd, memoryview(buf), offset)
        return buf if got == n else None

    def drop_cache(self, fd: int, offset: int, length: int) -> None:
        """Hand the clean cached pages of a range back to the kernel (dirty ones stay: nothing can be lost)."""
        with suppress(OSError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    # -- durability ----------------------------------------------------------

    def sync_blocking(self, fds: Sequence[int], dir_fd: int | None = None) -> None:
        # fdatasync is enough for segments: it also flushes the file size.
        for fd in fds:
            os.fdatasync(fd)
        if dir_fd is not None:
            os.fsync(dir_fd)

    async def sync(self, fds: Sequence[int], dir_fd: int | None = None) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="wal-sync")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.sync_blocking, list(fds), dir_fd)

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
