"""Preallocated segment files, so appends never allocate disk blocks.

Every segment is created at its full size and fsynced before the first record
goes in, in one of two ways (`fill`, chosen per spare):

* `zeros`: filled with real zeros. Appends then only overwrite written blocks,
  so fdatasync has no metadata (size, extents) to flush: measured on this
  machine kind, 4 KiB write + fdatasync 0.10-0.17 ms vs 0.20-0.42 ms when each
  write extends the file (docs/DURABILITY.md); group commit of 4 KiB records
  1.2-1.5x the records/s of `fallocate`. The price: every segment is written
  twice, which halves the disk bandwidth left for big records.
* `fallocate`: blocks reserved as unwritten extents (they read as zeros,
  nothing is written). An fdatasync then also commits the extents' conversion
  (a journal write), but the data is written once: 1 MiB appends run at the
  disk's sequential speed (bench/wal_append.py, docs/ENGINE.md).

`adaptive` (what `default_fill` picks under `always`; fallocate otherwise)
chooses per spare, from the record that started the current segment:
fallocate after a big one (>= 256 KiB, e.g. the shard's 1 MiB data chunks:
0.82-0.99 of `dd oflag=dsync` against 0.63-0.73 on zeros), zeros otherwise.
Either way:

* A write into the page cache can't fail with ENOSPC, so a write the io_uring
  backend completes later never does either: a full disk shows up here,
  synchronously, when a segment is created, and append() raises it cleanly.

One spare segment is prepared in a background thread while the active one
fills, so rotation is a rename. It is named `spare` (list_segments ignores it)
and only gets that name once complete and fsynced; a half-made `spare.tmp` left
by a crash is deleted on recovery. The price is one segment of disk space held
in advance, and the recovery scan reads the padding of the newest segment.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

from .io import IOBackend
from .recovery import zero_fill
from .sync import SyncPolicy

SPARE = "spare"
SPARE_TMP = "spare.tmp"
FILLS = ("zeros", "fallocate", "adaptive")
BIG_RECORD = 256 << 10  # adaptive: a record this big makes the next spare fallocated


def make_segment_file(io: IOBackend, path: str, size: int, fill: str = "zeros") -> int:
    """Create `path` holding `size` zero bytes, fsynced, and return an open fd:
    written zeros, or with `fallocate` blocks reserved as unwritten extents
    (they read as zeros; nothing is written). On failure (ENOSPC) nothing is
    left behind."""
    fd = io.open_segment(path, create=True)
    try:
        if fill == "fallocate":
            os.posix_fallocate(fd, 0, size)
            os.fsync(fd)  # the size and the extents are metadata: fdatasync may skip them
        else:
            zero_fill(io, fd, 0, size)
            io.sync_blocking([fd])
    except BaseException:
        io.close(fd)
        with suppress(OSError):
            os.unlink(path)
        raise
    return fd


class Spares:
    """Keeps one preallocated segment of `size` bytes ready in `directory`."""

    def __init__(self, io: IOBackend, directory: str, size: int, fill: str = "zeros") -> None:
        if fill not in FILLS:
            raise ValueError(f"segment fill must be one of {FILLS}, got {fill!r}")
        self._io, self._size, self.fill = io, size, fill
        self._next = "zeros" if fill == "adaptive" else fill  # how the next spare is made
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
            return make_segment_file(self._io, path, self._size, self._next)
        return self._io.open_segment(path)

    def fill_for(self, record_size: int) -> str:
        """The fill for a segment whose first record has `record_size` bytes."""
        if self.fill != "adaptive":
            return self.fill
        return "fallocate" if record_size >= BIG_RECORD else "zeros"

    def prepare_soon(self, record_size: int = 0) -> None:
        """Start making the next spare in the background, unless one is ready
        or on its way. `record_size`: the record that just started a segment
        (adaptive fill follows it)."""
        if record_size:
            self._next = self.fill_for(record_size)
        if (self._future is not None and not self._future.done()) or os.path.exists(self._spare):
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="wal-spare")
        self._future = self._executor.submit(self._prepare, self._next)

    def _prepare(self, fill: str) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self._tmp)
        self._io.close(make_segment_file(self._io, self._tmp, self._size, fill))
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


def default_fill(policy: SyncPolicy) -> str:
    """Written zeros where fsyncs are small and frequent (`always` with small
    records: an fdatasync into unwritten extents also commits their
    conversion, which cost group commit of 4 KiB records 15-35% here), so
    `adaptive` there; reserved extents elsewhere, where fsyncs are rare and
    writing every segment twice would halve the disk bandwidth left for data
    (bench/wal_append.py, docs/ENGINE.md)."""
    return "adaptive" if policy.mode == "always" else "fallocate"
