"""Pre-zeroed segment files, so appends never allocate disk blocks.

Every segment is created at its full size, filled with real zeros and fsynced
before the first record goes in. Appends then only overwrite allocated blocks:

* fdatasync has no metadata (size, extents) to flush: measured on this
  machine kind, 4 KiB write + fdatasync 0.10-0.17 ms vs 0.20-0.42 ms when each
  write extends the file (bench in docs/DURABILITY.md); DESIGN §8 saw 1.5x
  records/s with group commit.
* A write into the page cache can't fail with ENOSPC, so a write the io_uring
  backend completes later never does either: a full disk shows up here,
  synchronously, when a segment is created, and append() raises it cleanly.

One spare segment is prepared in a background thread while the active one
fills, so rotation is a rename. It is named `spare` (list_segments ignores it)
and only gets that name once complete and fsynced; a half-made `spare.tmp` left
by a crash is deleted on recovery. The price is one segment of disk space held
in advance, and the recovery scan reads the zero padding of the newest segment.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

from .io import IOBackend
from .recovery import zero_fill

SPARE = "spare"
SPARE_TMP = "spare.tmp"


def make_segment_file(io: IOBackend, path: str, size: int) -> int:
    """Create `path` holding `size` zero bytes, fsynced, and return an open fd.
    On failure (ENOSPC) nothing is left behind."""
    fd = io.open_segment(path, create=True)
    try:
        zero_fill(io, fd, 0, size)
        io.sync_blocking([fd])
    except BaseException:
        io.close(fd)
        with suppress(OSError):
            os.unlink(path)
        raise
    return fd


class Spares:
    """Keeps one pre-zeroed segment of `size` bytes ready in `directory`."""

    def __init__(self, io: IOBackend, directory: str, size: int) -> None:
        self._io, self._size = io, size
        self._spare = os.path.join(directory, SPARE)
        self._tmp = os.path.join(directory, SPARE_TMP)
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future | None = None
        self.last_error: BaseException | None = None

    def recover(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self._tmp)
        with suppress(FileNotFoundError):
            if os.path.getsize(self._spare) != self._size:  # made for another segment_size
                os.unlink(self._spare)

    def take(self, path: str) -> int:
        """Move the spare to `path` and return it open; with none ready, make
        one now (blocking; raises ENOSPC when the disk is full)."""
        self._wait()
        try:
            os.rename(self._spare, path)
        except FileNotFoundError:
            return make_segment_file(self._io, path, self._size)
        return self._io.open_segment(path)

    def prepare_soon(self) -> None:
        """Start making the next spare in the background, unless one is ready
        or on its way."""
        if (self._future is not None and not self._future.done()) or os.path.exists(self._spare):
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="wal-spare")
        self._future = self._executor.submit(self._prepare)

    def _prepare(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self._tmp)
        self._io.close(make_segment_file(self._io, self._tmp, self._size))
        os.rename(self._tmp, self._spare)

    def _wait(self) -> None:
        future, self._future = self._future, None
        if future is not None:
            try:
                future.result()
                self.last_error = None
            except OSError as exc:  # e.g. ENOSPC: take() tries again in the foreground
                self.last_error = exc

    def shutdown(self) -> None:
        self._wait()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
