"""The io_uring backend (DESIGN §4, §8): one ring per log; writes and fsyncs
are submitted to it and completed through an eventfd the event loop watches.

* A write is queued by append() (its buffers stay referenced until the
  completion arrives); contiguous writes to one segment coalesce into one
  writev. Once per loop iteration the queue is submitted with one
  io_uring_submit -- unless an fsync is about to be issued anyway (Always with
  committers waiting): then the writes join that fsync as one link chain,
  writev -> ... -> fdatasync, so group commit is one submission.
* Completions: the ring signals an eventfd registered with loop.add_reader; the
  reader reaps every CQE (peek one, cq_advance) and, when the CQ overflowed,
  calls io_uring_get_events so the kernel flushes its overflow list (otherwise
  the eventfd stops firing and the loop hangs).
* Operations in flight are capped: past the cap a write is done inline (a
  page-cache pwritev), so memory stays bounded and nothing waits for ring room.
* A write that fails after append() returned poisons the backend (`error`):
  the log refuses further work, as after a failed fsync. Segments are
  pre-zeroed (spare.py), so these writes never allocate blocks and ENOSPC
  cannot happen here: it surfaces synchronously when a segment is created.
* Without an attached loop (recovery, tools, plain synchronous use) every call
  is synchronous, exactly as in the thread-pool backend, which this extends.

Reads stay inline preads: page-cache-warm small reads are fastest that way
(DESIGN §8), and the shard's read path is synchronous.

Binding notes (PyPI liburing 2024.5.3, see pyproject.toml for why that one):
the IOSQE_*/IORING_FSYNC_* constants are not exported, so the kernel ABI values
are spelled out below; io_uring_peek_batch_cqe must be asked for one CQE at a
time (it writes `count` pointers into a one-pointer slot); iovec() rejects
empty buffers and more than 60 of them.
"""
from __future__ import annotations

import asyncio
import errno
import itertools
import os
import time
from collections import deque
from typing import Callable, Sequence

from .io import Buffer, ThreadPoolIO

IOSQE_IO_LINK = 1 << 2          # include/uapi/linux/io_uring.h
IORING_FSYNC_DATASYNC = 1 << 0
# Buffers per coalesced writev. The kernel allows 1024, but the binding checks
# against the sysconf *name* _SC_IOV_MAX (60) instead of its value.
_MAX_IOVECS = 60

_WRITE, _FSYNC = 0, 1


class WriteFailed(OSError):
    """A write submitted to the ring failed. Like a failed fsync, this ends
    the log's life: restart and recover."""


class _Mark:
    """One queued write in LSN order: the written watermark advances over
    marks that are done, so it never passes a write still in flight."""

    __slots__ = ("lsn", "done")

    def __init__(self, lsn: int, done: bool = False) -> None:
        self.lsn = lsn
        self.done = done


class _Op:
    __slots__ = ("kind", "fd", "offset", "buffers", "nbytes", "mark", "flags", "iov", "future")

    def __init__(self, kind: int, fd: int, offset: int = 0, buffers: list | None = None, nbytes: int = 0,
                 mark: _Mark | None = None, flags: int = 0) -> None:
        self.kind, self.fd, self.offset = kind, fd, offset
        self.buffers, self.nbytes, self.mark, self.flags = buffers, nbytes, mark, flags
        self.iov = None
        self.future: asyncio.Future | None = None


def _import_liburing():
    """liburing's first import writes a name cache next to its package (dynamic_import's ``*.importer-*.pyc``);
    shards started together on a fresh install race on that file and the loser sees FileNotFoundError. It is
    written by then, so a second try succeeds, instead of that shard running the thread pool for its lifetime."""
    for attempt in range(5):
        try:
            import liburing
            return liburing
        except FileNotFoundError:
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


class UringIO(ThreadPoolIO):
    name = "io_uring"

    def __init__(self, *, entries: int = 512, max_in_flight: int = 256, batch_bytes: int = 4 << 20) -> None:
        super().__init__()
        if max_in_flight + 16 > entries:
            raise ValueError("the ring needs room for a full batch plus its fsyncs")
        liburing = _import_liburing()  # ImportError: the caller falls back to the thread pool
        self._L = liburing
        ring = liburing.io_uring()
        liburing.io_uring_queue_init(entries, ring, 0)  # OSError where the kernel refuses (seccomp, old kernel)
        efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        try:
            liburing.io_uring_register_eventfd(ring, efd)
        except BaseException:
            os.close(efd)
            liburing.io_uring_queue_exit(ring)
            raise
        self._ring, self._efd = ring, efd
        self._cqe = liburing.io_uring_cqe()
        self.max_in_flight = max_in_flight
        self.batch_bytes = batch_bytes
        self._ids = itertools.count(1)      # user_data 0 is never used
        self._ops: dict[int, _Op] = {}      # submitted, not completed: holds the buffers alive
        self._pending: list[_Op] = []       # queued, not submitted
        self._pending_bytes = 0
        self._marks: deque[_Mark] = deque()
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._submitted_lsn = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._defer: Callable[[], bool] = lambda: False
        self._kick_due = False
        self.submissions = 0  # io_uring_submit calls, for tests and benchmarks

    # -- wiring ----------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop, defer: Callable[[], bool]) -> None:
        if self._loop is None:
            self._loop, self._defer = loop, defer
            loop.add_reader(self._efd, self._on_ready)

    def shutdown(self) -> None:
        if self._ring is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._efd)
        self._loop = None
        self._L.io_uring_queue_exit(self._ring)  # waits for anything still in flight
        os.close(self._efd)
        self._ring = None
        self._ops.clear()  # only now may the buffers go
        super().shutdown()

    # -- writes ----------------------------------------------------------------

    def write(self, fd: int, buffers: Sequence[Buffer], offset: int, lsn: int) -> None:
        if self.error is not None:
            raise WriteFailed(errno.EIO, "an earlier write failed") from self.error
        loop = self._loop
        if loop is None or len(self._ops) + len(self._pending) >= self.max_in_flight:
            self.pwritev(fd, buffers, offset)
            self._marks.append(_Mark(lsn, True))
            self._advance()
            return
        views = [v for v in (memoryview(b).cast("B") for b in buffers) if v.nbytes]
        nbytes = sum(v.nbytes for v in views)
        last = self._pending[-1] if self._pending else None
        if (last is not None and last.fd == fd and last.offset + last.nbytes == offset
                and len(last.buffers) + len(views) <= _MAX_IOVECS):
            last.buffers.extend(views)
            last.nbytes += nbytes
            last.mark.lsn = lsn
        else:
            mark = _Mark(lsn)
            self._marks.append(mark)
            self._pending.append(_Op(_WRITE, fd, offset, views, nbytes, mark))
        self._pending_bytes += nbytes
        if not self._kick_due:
            self._kick_due = True
            loop.call_soon(self._kick)

    def _kick(self) -> None:
        """End of the loop iteration that queued writes: submit them, unless
        an fsync that will carry them in its chain is coming anyway."""
        self._kick_due = False
        if self._pending and (self._pending_bytes >= self.batch_bytes or not self._defer()):
            self._submit([])

    def _submit(self, tail: list[_Op]) -> None:
        """One io_uring_submit for the queued writes plus `tail` (fsyncs); with
        a tail, everything is one link chain so the fsyncs start only after
        every write in it completed."""
        L, ring = self._L, self._ring
        ops = self._pending + tail
        self._pending, self._pending_bytes = [], 0
        if not ops:
            return
        linked = len(ops) - 1 if tail else 0
        for i, op in enumerate(ops):
            sqe = L.io_uring_get_sqe(ring)
            if op.kind == _WRITE:
                op.iov = L.iovec(op.buffers)
                L.io_uring_prep_writev(sqe, op.fd, op.iov, len(op.buffers), op.offset)
                self._submitted_lsn = op.mark.lsn
            else:
                L.io_uring_prep_fsync(sqe, op.fd, op.flags)
            uid = next(self._ids)
            self._ops[uid] = op
            L.io_uring_sqe_set_data64(sqe, uid)
            if i < linked:
                L.io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK)
        L.io_uring_submit(ring)
        self.submissions += 1

    async def wait_written(self, lsn: int) -> None:
        if self.error is not None:
            raise WriteFailed(errno.EIO, "an earlier write failed") from self.error
        if lsn <= self.written_lsn:
            return
        future = self._loop.create_future()
        self._waiters.append((lsn, future))
        await future

    # -- fsync -----------------------------------------------------------------

    async def sync(self, fds: Sequence[int], dir_fd: int | None = None) -> None:
        if self._loop is None:
            return await super().sync(fds, dir_fd)
        if self.error is not None:
            raise WriteFailed(errno.EIO, "an earlier write failed") from self.error
        # Writes already in flight are not in the chain: an fsync only covers
        # writes that completed before it started.
        await self.wait_written(self._submitted_lsn)
        tail = [_Op(_FSYNC, fd, flags=IORING_FSYNC_DATASYNC) for fd in fds]
        if dir_fd is not None:
            tail.append(_Op(_FSYNC, dir_fd))
        if len(self._pending) + len(tail) > self._L.io_uring_sq_space_left(self._ring):
            # A chain must go in one submission: too long, so writes first.
            self._submit([])
            await self.wait_written(self._submitted_lsn)
        for op in tail:
            op.future = self._loop.create_future()
        self._submit(tail)
        for op in tail:
            res = await op.future
            if res == -errno.ECANCELED and self.error is None:
                res = await self._fsync_alone(op)  # a short write broke the chain, then completed inline
            if res < 0:
                raise OSError(-res, f"fsync: {os.strerror(-res)}")
        if self.error is not None:
            raise WriteFailed(errno.EIO, "a write in the chain failed") from self.error

    async def _fsync_alone(self, op: _Op) -> int:
        again = _Op(_FSYNC, op.fd, flags=op.flags)
        again.future = self._loop.create_future()
        saved, self._pending = self._pending, []
        self._submit([again])
        self._pending = saved
        return await again.future

    # -- completions -----------------------------------------------------------

    def _on_ready(self) -> None:
        try:
            os.eventfd_read(self._efd)
        except BlockingIOError:
            pass
        self.reap()

    def reap(self) -> None:
        L, ring, cqe = self._L, self._ring, self._cqe
        while True:
            while L.io_uring_peek_batch_cqe(ring, cqe, 1):
                uid, res = cqe.user_data, cqe.res
                L.io_uring_cq_advance(ring, 1)
                op = self._ops.pop(uid, None)
                if op is not None:
                    self._complete(op, res)
            if not L.io_uring_cq_has_overflow(ring):
                break
            L.io_uring_get_events(ring)  # moves overflowed CQEs into the ring
        self._advance()

    def _complete(self, op: _Op, res: int) -> None:
        if op.kind == _FSYNC:
            if not op.future.done():
                op.future.set_result(res)
            return
        if res < 0:
            self._fail(OSError(-res, f"write at {op.offset}: {os.strerror(-res)}"))
            return
        if res < op.nbytes:
            # Short: finish inline. Any fsync linked after it was cancelled
            # and is reissued by sync().
            try:
                self.pwritev(op.fd, _skip(op.buffers, res), op.offset + res)
            except OSError as exc:
                self._fail(exc)
                return
        op.mark.done = True

    def _advance(self) -> None:
        marks = self._marks
        while marks and marks[0].done:
            self.written_lsn = marks.popleft().lsn
        if self._waiters:
            written = self.written_lsn
            keep = []
            for lsn, future in self._waiters:
                if future.done():
                    continue
                if lsn <= written:
                    future.set_result(None)
                else:
                    keep.append((lsn, future))
            self._waiters = keep

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        waiting, self._waiters = self._waiters, []
        for _, future in waiting:
            if not future.done():
                err = WriteFailed(errno.EIO, f"write failed: {exc}")
                err.__cause__ = exc
                future.set_exception(err)


def _skip(buffers: list[memoryview], n: int) -> list[memoryview]:
    """The buffers minus their first n bytes."""
    out = []
    for b in buffers:
        if n >= b.nbytes:
            n -= b.nbytes
            continue
        out.append(b[n:])
        n = 0
    return out
