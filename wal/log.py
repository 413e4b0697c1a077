"""The segmented log: append records, make them durable, read them back.

Appends are synchronous writes into the page cache (cheap, and ordering comes
for free on one thread); durability is a separate, awaited step driven by the
sync policy (see sync.py). Segment files are named by a 16-digit number, a
record never spans two, and a record bigger than the segment size gets a
segment of its own. Segments are pre-zeroed at full size (spare.py).

Big object data (CHUNK records of 256 KiB or more) leaves the page cache once an
fsync has made it durable (`drop_synced`, on by default; see _drop_synced for
why), so a shard's big writes recycle a bounded set of pages instead of
growing the cache.

With the io_uring backend an append's write completes later, on the loop:
commit() therefore waits until the record is at least *written* (in the page
cache) under every policy, so an acknowledged record survives a killed process
whatever the preset, and reads never see a record before its write landed.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Iterator

from .io import IOBackend, ThreadPoolIO
from .records import HEADER_SIZE, CorruptRecord, RecordType, checksum, decode_header, encode_header
from .recovery import CannotResume, RecoveryReport, ResumeAt, recover_directory, zero_fill
from .segments import Location, Recovered, list_segments, segment_name
from .spare import Spares, default_fill, make_segment_file
from .sync import Flusher, Observer, SyncFailed, SyncPolicy

# Below this a verified read is one pread plus a copy; above it, two preads
# and no copy of the payload.
_SPLIT_READ = 256 << 10
# CHUNK payloads at least this big are dropped from the page cache once synced (`drop_synced`); smaller records
# (small objects, metadata) stay cached for reads.
DROP_MIN = 256 << 10
_FOLIO_MAX = 2 << 20  # the largest page-cache folio (a PMD)

logger = logging.getLogger(__name__)


class LogClosed(RuntimeError):
    """The log is not open: recover() has not finished, or close() was called."""


class Log:
    """One shard's log. Not thread-safe: append, commit and close belong to
    the thread running the owning event loop (reads may come from anywhere:
    they are plain preads). Keeps one fd per segment open for reads."""

    def __init__(self, directory: str | os.PathLike, *, segment_size: int = 64 << 20,
                 sync: SyncPolicy, observer: Observer | None = None,
                 io: IOBackend | None = None, preallocate: bool = True, fill: str | None = None,
                 drop_synced: bool = True) -> None:
        if segment_size <= HEADER_SIZE:
            raise ValueError(f"segment_size must exceed {HEADER_SIZE}")
        self.directory = os.fspath(directory)
        self.segment_size = segment_size
        self.policy = sync
        self.report = RecoveryReport()
        self._observer = observer
        self._io = io or ThreadPoolIO()
        self._spares = Spares(self._io, self.directory, segment_size, fill or default_fill(sync)) if preallocate else None
        self._state = "new"  # -> "open" once recover() is exhausted -> "closed"
        self._dir_fd: int | None = None
        self._fds: dict[int, int] = {}
        self._active = 0
        self._active_fd = -1
        self._offset = 0
        self._last_lsn = 0
        self._durable_lsn = 0
        # Sealed segments not yet fsynced, with the last LSN each holds.
        self._unsynced_seals: list[tuple[int, int]] = []
        self._dir_dirty = False
        self._flusher: Flusher | None = None
        # Two overlapping syncs could report a later LSN durable before an
        # earlier sealed segment's fsync finished; the flusher never overlaps
        # them, but sync() is callable from outside too.
        self._sync_lock = asyncio.Lock()
        self.drop_synced = drop_synced
        # [segment, start, end]: the span of big CHUNK payloads written since it was last handed to a sync
        self._unsynced_big: list[list[int]] = []
        self.dropped_bytes = 0  # page-cache bytes handed back after syncs (tests, metrics)
        self._bg: ThreadPoolExecutor | None = None  # drops synced pages and closes removed segments, off the loop
        self._readers: ThreadPoolExecutor | None = None  # reads of payloads that are not in the page cache

    @property
    def last_lsn(self) -> int:
        return self._last_lsn

    @property
    def durable_lsn(self) -> int:
        return self._durable_lsn

    @property
    def written_lsn(self) -> int:
        return self._io.written_lsn

    @property
    def io_backend(self) -> str:
        return self._io.name

    @property
    def segments(self) -> list[int]:
        return sorted(self._fds)

    # -- recovery --------------------------------------------------------------

    def recover(self, *, full: bool = False, resume: ResumeAt | None = None) -> Iterator[Recovered]:
        """Yield every valid record in LSN order, repairing the tail; the log
        accepts appends once this generator is exhausted. See recovery.py for
        what counts as damage and what happens to it. With `resume` (light
        mode), only records after that position are read. Blocking I/O."""
        if self._state != "new":
            raise RuntimeError("recover() runs once, before any append")
        os.makedirs(self.directory, exist_ok=True)
        self.report = RecoveryReport()
        dir_fd = self._io.open_dir(self.directory)
        try:
            state = yield from recover_directory(self._io, self.directory, self.report, full=full, resume=resume)
        except BaseException:
            self._io.close(dir_fd)
            raise
        self._dir_fd, self._fds = dir_fd, state.fds
        self._last_lsn = self._durable_lsn = self._io.written_lsn = state.last_lsn
        if self._spares is not None:
            self._spares.recover()
        if state.active is None:
            self._create_segment(max(self._fds, default=0) + 1)
            self._io.sync_blocking([], self._dir_fd)
            self._dir_dirty = False
        else:
            self._active, self._offset = state.active, state.active_end
            self._active_fd = self._fds[state.active]
        self._state = "open"
        if self._spares is not None:
            self._spares.prepare_soon()

    # -- writing ---------------------------------------------------------------

    def append(self, rtype: int, payload: bytes | bytearray | memoryview,
               flags: int = 0) -> tuple[int, Location]:
        """Write one record into the page cache; durable only after commit().
        The payload must not change until commit() returns: an asynchronous
        backend writes it from the caller's buffer. Raises OSError (ENOSPC)
        if a new segment can't be made, leaving the log as it was."""
        self._check_open()
        flusher = self._flusher or self._start_flusher()
        if flusher is not None and flusher.error is not None:
            raise SyncFailed("an earlier fsync failed") from flusher.error
        if self._io.error is not None:
            raise SyncFailed("an earlier write failed") from self._io.error
        lsn = self._last_lsn + 1
        header = encode_header(lsn, rtype, payload, flags)
        length = payload.nbytes if isinstance(payload, memoryview) else len(payload)
        total = HEADER_SIZE + length
        if self._offset and self._offset + total > self.segment_size:
            self._rotate(total)
        offset = self._offset
        try:
            self._io.write(self._active_fd, (header, payload), offset, lsn)
        except BaseException:
            # Wipe a partial record so the segment still ends cleanly.
            with suppress(OSError):
                if self._spares is None:
                    self._io.truncate(self._active_fd, offset)
                else:
                    zero_fill(self._io, self._active_fd, offset, offset + total)
            raise
        self._offset = offset + total
        self._last_lsn = lsn
        if length >= DROP_MIN and rtype == RecordType.CHUNK and self.drop_synced:
            self._note_big(offset + HEADER_SIZE, length)
        if flusher is not None:
            flusher.appended(total)
        return lsn, Location(self._active, offset + HEADER_SIZE, length)

    def _note_big(self, start: int, length: int) -> None:
        """Widen this segment's span of big payloads to drop after the next sync. One span from the first to the
        last, widened to whole 2 MiB blocks: the page cache holds big writes in folios of up to 2 MiB and the
        kernel drops a folio only when the range covers it whole, so ranges cut to each chunk's pages left most
        of them cached. Small records near big ones leave the cache too; dirty pages never do."""
        spans = self._unsynced_big
        first, end = start // _FOLIO_MAX * _FOLIO_MAX, -(-(start + length) // _FOLIO_MAX) * _FOLIO_MAX
        if spans and spans[-1][0] == self._active:
            spans[-1][2] = end
        else:
            spans.append([self._active, first, end])

    def append_at(self, lsn: int, rtype: int, payload: bytes | bytearray | memoryview, flags: int = 0,
                  segment: int | None = None) -> tuple[int, Location]:
        """append() of a record copied from another log (a standby mirroring
        its primary): it must carry the next LSN, and it starts `segment` if
        the source log had started it there, so both logs keep one layout and
        locations written into payloads mean the same in each."""
        self._check_open()
        if lsn != self._last_lsn + 1:
            raise ValueError(f"lsn {lsn} does not follow {self._last_lsn}")
        if segment == self._active + 1 and self._offset:
            self._rotate(HEADER_SIZE + len(payload))
        return self.append(rtype, payload, flags)

    async def commit(self, lsn: int) -> None:
        """Return once `lsn` is durable per the sync policy. Call it from the
        event loop that owns the log."""
        self._check_open()
        if not 0 <= lsn <= self._last_lsn:
            raise ValueError(f"lsn {lsn} has not been appended (last is {self._last_lsn})")
        flusher = self._flusher or self._start_flusher()
        if flusher.loop is not asyncio.get_running_loop():
            raise RuntimeError("commit() called from a loop that does not own this log")
        if lsn > self._io.written_lsn and self.policy.mode != "always":
            # Under always, durable implies written; waiting for the write
            # first would keep the write out of the fsync's chain.
            await self._io.wait_written(lsn)
        await flusher.wait_durable(lsn)

    async def close(self) -> None:
        """Final sync (under every policy), then release the files."""
        if self._state == "closed":
            return
        was_open, self._state = self._state == "open", "closed"
        try:
            if self._flusher is not None:
                await self._flusher.close()
            elif was_open:
                await self.sync(include_active=True)
        finally:
            for pool in (self._bg, self._readers):  # their work uses the fds closed below
                if pool is not None:
                    pool.shutdown(wait=True)
            self._bg = self._readers = None
            for fd in self._fds.values():
                self._io.close(fd)
            self._fds.clear()
            if self._dir_fd is not None:
                self._io.close(self._dir_fd)
                self._dir_fd = None
            if self._spares is not None:
                self._spares.shutdown()
            self._io.shutdown()

    def _check_open(self) -> None:
        if self._state != "open":
            raise LogClosed("log is closed" if self._state == "closed" else "call recover() first")

    def _start_flusher(self) -> Flusher | None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None  # plain synchronous use: rotation then syncs inline
        self._flusher = Flusher(self.policy, self)
        self._io.attach(self._flusher.loop, self._flusher.wants_writes)
        return self._flusher

    def _create_segment(self, number: int, size: int = 0) -> None:
        path = os.path.join(self.directory, segment_name(number))
        if self._spares is None:
            fd = self._io.open_segment(path, create=True)
        elif size > self.segment_size:
            fd = make_segment_file(self._io, path, size, self._spares.fill_for(size))
        else:
            fd = self._spares.take(path)
            self._spares.prepare_soon(size)
        self._fds[number] = fd
        self._active, self._active_fd, self._offset = number, fd, 0
        self._dir_dirty = True  # the new name is durable only after a directory fsync

    def _rotate(self, record_size: int) -> None:
        # The sealed segment is fsynced soon (by the flusher, off the loop) and
        # always before any later LSN is reported durable: sync() covers
        # pending seals before the active segment.
        sealed_fd, sealed_lsn = self._active_fd, self._last_lsn
        self._create_segment(self._active + 1, record_size)  # ENOSPC raises here, nothing changed yet
        self._unsynced_seals.append((sealed_fd, sealed_lsn))
        if self._flusher is not None:
            self._flusher.sealed()
        else:
            # No event loop on this thread, so blocking here stalls nobody.
            self._run_sync_blocking()

    # -- syncing (the flusher's side of the Syncable protocol) ------------------

    def seals_pending(self) -> bool:
        return bool(self._unsynced_seals) or self._dir_dirty

    def _capture(self, include_active: bool,
                 force: bool = False) -> tuple[list[int], int | None, int, list[list[int]]] | None:
        """Take the work for one sync: the fds to fdatasync, the directory fd
        if a segment was created, and the LSN that will be durable after.
        With `force` the active segment is synced even if nothing is new."""
        seals, self._unsynced_seals = self._unsynced_seals, []
        fds = [fd for fd, _ in seals]
        target = seals[-1][1] if seals else self._durable_lsn
        if include_active and (force or self._last_lsn > self._durable_lsn):
            fds.append(self._active_fd)
            target = self._last_lsn
        dir_fd = self._dir_fd if self._dir_dirty else None
        self._dir_dirty = False
        if not fds and dir_fd is None:
            return None
        # every segment but the active one is sealed, so synced by now or by this sync
        big, keep = [], []
        for r in self._unsynced_big:
            (big if include_active or r[0] != self._active else keep).append(r)
        self._unsynced_big = keep
        return fds, dir_fd, target, big

    def _synced(self, target: int, seconds: float) -> None:
        records = max(target - self._durable_lsn, 0)
        self._durable_lsn = max(self._durable_lsn, target)
        if self._observer is not None:
            try:
                self._observer.fsync(seconds, records)
            except Exception:  # a metrics bug must not poison the log
                logger.exception("wal observer failed")

    async def sync(self, include_active: bool = True, *, force: bool = False) -> None:
        """fsync what needs it now: sealed segments, the directory, and with
        `include_active` the segment being appended to (with `force` even when
        an earlier fsync covered it: group commit off, see sync.py)."""
        async with self._sync_lock:
            work = self._capture(include_active, force)
            if work is None:
                return
            fds, dir_fd, target, big = work
            started = time.perf_counter()
            await self._io.sync(fds, dir_fd)
            self._synced(target, time.perf_counter() - started)
            self._drop_synced(big)

    def _run_sync_blocking(self) -> None:
        work = self._capture(include_active=False)
        if work is not None:
            fds, dir_fd, target, big = work
            started = time.perf_counter()
            self._io.sync_blocking(fds, dir_fd)
            self._synced(target, time.perf_counter() - started)
            self._drop_synced(big)

    def _drop_synced(self, ranges: list[list[int]]) -> None:
        """Hand the pages of big payloads that an fsync just made durable (so clean) back to the kernel.

        Why: written into the page cache and left there, a stream of big PUTs makes the cache grow into memory
        nobody has touched for a while, and on a VM with free page reporting (Firecracker's
        page_reporting_order, virtio-balloon) every such page is backed by the host again on its first write:
        measured here, a buffered 1 MiB write into such pages costs 2.1-2.5 ms of system time, against
        0.15-0.19 ms when the synced range is dropped and its pages are reused within moments
        (docs/PERFORMANCE.md, "The large-PUT cost"). Big objects are rarely read right after they are written,
        and read back they come from disk, as from any cold cache; small objects and metadata stay cached.
        Dirty pages are skipped by the kernel, so this can never lose a byte."""
        todo = [(fd, start, end) for segment, start, end in ranges
                if (fd := self._fds.get(segment)) is not None]  # a segment compaction removed meanwhile: gone
        if todo:
            # freeing pages takes a few ms per 30 MiB: off the loop, on the thread that also closes removed
            # segments, so a drop always runs before its segment's close
            self._background().submit(self._drop_pages, todo)

    def _drop_pages(self, todo: list[tuple[int, int, int]]) -> None:
        for fd, start, end in todo:
            self._io.drop_cache(fd, start, end - start)
            self.dropped_bytes += end - start

    def _background(self) -> ThreadPoolExecutor:
        if self._bg is None:
            self._bg = ThreadPoolExecutor(1, thread_name_prefix="wal-bg")
        return self._bg

    # -- reading ---------------------------------------------------------------

    def fd_for(self, segment: int) -> int:
        try:
            return self._fds[segment]
        except KeyError:
            raise KeyError(f"no open segment {segment}") from None

    def first_lsn(self, segment: int) -> int | None:
        """The LSN of a segment's first record (None: no such segment, or nothing in it yet)."""
        fd = self._fds.get(segment)
        if fd is None:
            return None
        try:
            return decode_header(self._io.pread(fd, HEADER_SIZE, 0)).lsn
        except (CorruptRecord, EOFError):
            return None

    def fsync_segments_before(self, end: int) -> int:
        """fsync every segment file numbered below `end`, by name: usable while recover() runs (a recovery
        that checkpoints as it replays). Returns the last segment synced."""
        last = 0
        for number in list_segments(self.directory):
            if number >= end:
                break
            fd = os.open(os.path.join(self.directory, segment_name(number)), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            last = number
        return last

    def segment_bytes(self, segment: int) -> int:
        return os.fstat(self.fd_for(segment)).st_size

    def remove_segment(self, segment: int) -> None:
        """Delete a sealed segment whose records nobody needs any more (compaction decided that)."""
        if segment == self._active:
            raise ValueError("the active segment cannot be removed")
        fd = self._fds.pop(segment)
        os.unlink(os.path.join(self.directory, segment_name(segment)))
        self._dir_dirty = True  # the removal is durable with the next directory fsync
        # The unlink only drops the name. The last close frees the file's blocks and page cache, which took
        # 5-20 ms per 64 MiB segment on the loop (py-spy of a GET cell after a compaction): it goes to a thread.
        self._background().submit(self._io.close, fd)

    def damaged(self, loc: Location) -> bool:
        """Whether recovery found the record at `loc` inside a corrupt range
        (cheap: no I/O). Reads of a damaged record raise CorruptRecord."""
        return bool(self.report.corrupt_ranges) and self.report.damaged(loc)

    def read(self, loc: Location, *, verify: bool = True) -> bytes:
        """The payload at `loc`; with verify, its header and crc are checked
        and any mismatch raises CorruptRecord."""
        if self.damaged(loc):
            raise CorruptRecord(f"{loc}: inside a corrupt range found by recovery")
        fd = self.fd_for(loc.segment)
        try:
            if not verify:
                return self._io.pread(fd, loc.length, loc.offset)
            if loc.length < _SPLIT_READ:
                raw = self._io.pread(fd, HEADER_SIZE + loc.length, loc.offset - HEADER_SIZE)
                header_bytes, payload = raw[:HEADER_SIZE], memoryview(raw)[HEADER_SIZE:]
            else:
                header_bytes = self._io.pread(fd, HEADER_SIZE, loc.offset - HEADER_SIZE)
                payload = self._io.pread(fd, loc.length, loc.offset)
        except EOFError as exc:
            raise CorruptRecord(f"{loc}: {exc}") from None
        header = decode_header(header_bytes)
        if header.length != loc.length or checksum(header, payload) != header.crc:
            raise CorruptRecord(f"{loc}: crc mismatch")
        return payload if isinstance(payload, bytes) else bytes(payload)

    def read_cached(self, loc: Location, offset_in_payload: int, n: int) -> bytes | bytearray | None:
        """read_into() when every byte is in the page cache (a RWF_NOWAIT read), else None: the caller then reads
        off the loop (read_async). Big payloads leave the cache after their sync (_drop_synced), so a GET of one
        can meet the disk, and a pread of a MiB from it stalled every other request of the shard for milliseconds."""
        n = self._check_range(loc, offset_in_payload, n)
        return self._io.pread_cached(self.fd_for(loc.segment), n, loc.offset + offset_in_payload)

    async def read_async(self, loc: Location, offset_in_payload: int, n: int) -> bytes | bytearray:
        """read_into() that never blocks the loop on the disk: inline when cached, else in a reader thread."""
        data = self.read_cached(loc, offset_in_payload, n)
        if data is not None:
            return data
        if self._readers is None:
            self._readers = ThreadPoolExecutor(4, thread_name_prefix="wal-read")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self.read_into, loc,
                                                                offset_in_payload, n)

    def _check_range(self, loc: Location, offset_in_payload: int, n: int) -> int:
        """Refuse a range outside the payload or a damaged record; -> `n` cut to the payload's end."""
        if not 0 <= offset_in_payload <= loc.length or n < 0:
            raise ValueError(f"range {offset_in_payload}+{n} outside payload of {loc.length}")
        if self.damaged(loc):
            raise CorruptRecord(f"{loc}: inside a corrupt range found by recovery")
        return min(n, loc.length - offset_in_payload)

    def read_into(self, loc: Location, offset_in_payload: int, n: int) -> bytes:
        """Up to `n` bytes of the payload starting at `offset_in_payload`, for
        ranged reads of big chunks. No crc check (the crc covers whole
        records), but a record recovery found damaged raises CorruptRecord."""
        n = self._check_range(loc, offset_in_payload, n)
        try:
            return self._io.pread(self.fd_for(loc.segment), n, loc.offset + offset_in_payload)
        except EOFError as exc:
            raise CorruptRecord(f"{loc}: {exc}") from None
