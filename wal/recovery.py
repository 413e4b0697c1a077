"""Recovery: scan segment files in order, yield every valid record, repair the tail.

Rules (DESIGN §4: a torn tail is discarded; corruption elsewhere is reported
and quarantined without losing the rest):

* An invalid record anywhere is followed by a search for the next valid record
  (resynchronising on the magic, so a damaged length field can't hide what
  follows; it must carry a higher LSN than anything before it, so stale data
  is never taken for new). If one is found, the bytes in between are reported
  as a CorruptRange, left on disk, and the scan goes on from there: a damaged
  record costs only itself.
* If nothing valid follows, what remains is the end of the segment. Zeros are
  padding (segments are pre-zeroed, see spare.py). In the newest segment any
  non-zero bytes there are a torn tail: they are overwritten with zeros, so a
  later append can never run into a stale record from before the crash. In a
  sealed segment they are reported as a CorruptRange.
* Light mode trusts CHUNK payloads in sealed segments (they were fsynced when
  sealed) and skips reading them, and trusts that a zero header in a sealed
  segment starts its padding; full mode verifies every crc and every byte.
* `readonly` (cairn check) repairs nothing and opens every segment read-only.

Recovery does blocking I/O: run it before serving, or in a thread.
"""
from __future__ import annotations

import os
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Generator

from .io import IOBackend
from .records import HEADER_SIZE, MAGIC, CorruptRecord, Header, RecordType, checksum, decode_header
from .segments import CorruptRange, Location, Recovered, list_segments, segment_name

_WINDOW = 64 << 10  # read-ahead per pread while scanning: many small records, few syscalls
_BLOCK = 1 << 20    # read size when searching damaged or padded space
_ZERO_BYTES = bytes(_BLOCK)
_ZEROS = memoryview(_ZERO_BYTES)
_MAGIC_BYTES = MAGIC.to_bytes(4, "little")


@dataclass
class RecoveryReport:
    records: int = 0
    bytes: int = 0                 # bytes of valid records (headers included)
    segments: int = 0
    truncated_bytes: int = 0       # torn-tail bytes discarded (zeroed; `readonly`: would be)
    corrupt_ranges: list[CorruptRange] = field(default_factory=list)
    seconds: float = 0.0

    def damaged(self, loc: Location) -> bool:
        """Whether any byte of the record at `loc` (header included) lies in
        a corrupt range: its payload must not be served."""
        start, end = loc.offset - HEADER_SIZE, loc.offset + loc.length
        return any(r.segment == loc.segment and r.start < end and start < r.end for r in self.corrupt_ranges)


@dataclass
class RecoveredState:
    """What the log needs to resume appending."""

    fds: dict[int, int]       # segment number -> open fd (the newest is writable)
    active: int | None        # segment to append to, None if a new one is needed
    active_end: int           # append offset in `active`
    last_lsn: int


@dataclass
class _SegmentEnd:
    end: int                  # offset just past the last valid record
    last_lsn: int
    records: int
    bytes: int
    dirty_end: int            # offset just past the last non-zero byte after `end`
    error: str | None         # why the scan stopped before end of file, if it did


class _Window:
    """Buffered read over one segment into one reused buffer, so scanning
    small records costs one syscall per window instead of two per record, and
    a big record is read once, with the next window behind it, and no fresh
    allocation (a new 1 MiB bytes per record cost more than its crc32c). A
    view returned by get() is valid until the next get()."""

    def __init__(self, io: IOBackend, fd: int, size: int) -> None:
        self._io, self._fd, self._size = io, fd, size
        self._start = 0
        self._buf = memoryview(bytearray(_WINDOW))
        self._view = self._buf[:0]
        with suppress(OSError):  # a hint: the kernel reads further ahead while records are checked
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def get(self, offset: int, n: int) -> memoryview:
        rel = offset - self._start
        if 0 <= rel and rel + n <= len(self._view):
            return self._view[rel:rel + n]
        want = min(n + _WINDOW, self._size - offset)
        if want > len(self._buf):
            self._buf = memoryview(bytearray(want))
        got = self._io.preadinto(self._fd, self._buf[:max(want, 0)], offset)
        self._start, self._view = offset, self._buf[:got]
        if got < n:
            raise EOFError(f"short read: wanted {n} bytes at {offset}, got {got}")
        return self._view[:n]


def _read_header(win: _Window, pos: int, size: int) -> Header:
    if size - pos < HEADER_SIZE:
        raise CorruptRecord("short header")
    header = decode_header(win.get(pos, HEADER_SIZE))
    if header.length > size - pos - HEADER_SIZE:
        raise CorruptRecord("record runs past end of segment")
    return header


def _read_payload(win: _Window, pos: int, header: Header) -> memoryview:
    payload = win.get(pos + HEADER_SIZE, header.length)
    if checksum(header, payload) != header.crc:
        raise CorruptRecord("crc mismatch")
    return payload


def _scan(io: IOBackend, fd: int, number: int, size: int, *, prev_lsn: int, verify_chunks: bool,
          chunk_payloads: bool, trust_padding: bool, report: RecoveryReport,
          start: int = 0) -> Generator[Recovered, None, _SegmentEnd]:
    win = _Window(io, fd, size)
    pos, last, count, nbytes = start, prev_lsn, 0, 0
    while pos < size:
        try:
            header = _read_header(win, pos, size)
            is_chunk = header.type == RecordType.CHUNK
            # Light mode never touches trusted CHUNK payloads: that is most of
            # the bytes on disk.
            skip = is_chunk and not (verify_chunks or chunk_payloads)
            payload = None if skip else _read_payload(win, pos, header)
            # Within a run of records LSNs are consecutive; across a segment
            # boundary or a quarantined range they may jump, but never go back.
            if header.lsn <= last or (count and header.lsn != last + 1):
                raise CorruptRecord(f"lsn {header.lsn} out of sequence after {last}")
        except (CorruptRecord, EOFError) as exc:
            reason = str(exc) or type(exc).__name__
            if trust_padding and _is_zero(win.get(pos, min(HEADER_SIZE, size - pos))):
                return _SegmentEnd(pos, last, count, nbytes, pos, None)
            found, dirty_end = _look_past(io, fd, pos, size, last)
            if found is None:
                return _SegmentEnd(pos, last, count, nbytes, dirty_end, reason if dirty_end > pos else None)
            report.corrupt_ranges.append(CorruptRange(number, pos, found, reason))
            pos, count = found, 0
            continue
        data = None if payload is None or (is_chunk and not chunk_payloads) else bytes(payload)
        yield Recovered(header.lsn, header.type, header.flags,
                        Location(number, pos + HEADER_SIZE, header.length), data)
        pos += HEADER_SIZE + header.length
        nbytes += HEADER_SIZE + header.length
        last, count = header.lsn, count + 1
    return _SegmentEnd(pos, last, count, nbytes, pos, None)


def _is_zero(view: memoryview | bytes) -> bool:
    # startswith compares with memcmp; == on a memoryview goes item by item (0.13 GB/s).
    return len(view) <= _BLOCK and _ZERO_BYTES.startswith(view)


def _look_past(io: IOBackend, fd: int, start: int, size: int, last_lsn: int) -> tuple[int | None, int]:
    """After an invalid record at `start`: the offset of the next fully valid
    record with an LSN above `last_lsn` (None if there is none), and the end of
    the non-zero bytes seen on the way."""
    win = _Window(io, fd, size)
    offset, dirty_end = start, start
    while offset < size:
        n = min(_BLOCK, size - offset)
        block = io.pread(fd, n, offset)
        if not _is_zero(block):
            dirty_end = max(dirty_end, offset + len(block.rstrip(b"\0")))
            hit = block.find(_MAGIC_BYTES, 4)
            while hit != -1:
                candidate = offset + hit - 4
                if candidate > start and _valid_after(win, candidate, size, last_lsn):
                    return candidate, dirty_end
                hit = block.find(_MAGIC_BYTES, hit + 1)
        if offset + n >= size:
            break
        # Overlap so a header straddling two blocks is still seen.
        offset += n - HEADER_SIZE
    return None, dirty_end


def _valid_after(win: _Window, pos: int, size: int, last_lsn: int) -> bool:
    try:
        header = _read_header(win, pos, size)
        _read_payload(win, pos, header)
    except (CorruptRecord, EOFError):
        return False
    return header.lsn > last_lsn


@dataclass(frozen=True)
class ResumeAt:
    """Where a light recovery may start: just past the record with LSN `lsn`, at `offset` of `segment` (an
    index checkpoint holds everything up to it, so nothing before needs reading)."""

    segment: int
    offset: int
    lsn: int


class CannotResume(Exception):
    """The log does not hold the position a checkpoint names (its segment is gone, or what follows it is not
    the next LSN): the caller must rebuild from the whole log instead."""


def recover_directory(io: IOBackend, directory: str, report: RecoveryReport, *, full: bool,
                      chunk_payloads: bool | None = None, readonly: bool = False,
                      resume: ResumeAt | None = None) -> Generator[Recovered, None, RecoveredState]:
    started = time.monotonic()
    numbers = list_segments(directory)
    if resume is not None and resume.segment not in numbers:
        raise CannotResume(f"segment {resume.segment} named by the checkpoint is missing")
    fds: dict[int, int] = {}
    state = RecoveredState(fds, None, 0, resume.lsn if resume is not None and not full else 0)
    try:
        for i, number in enumerate(numbers):
            newest = i == len(numbers) - 1
            fd = io.open_segment(os.path.join(directory, segment_name(number)), writable=newest and not readonly)
            fds[number] = fd
            if resume is not None and number < resume.segment and not full:
                report.segments += 1  # wholly before the checkpoint: kept open for reads, never scanned
                continue
            size = io.size(fd)
            start = resume.offset if resume is not None and number == resume.segment and not full else 0
            if start > size:
                raise CannotResume(f"segment {number} is shorter than the checkpoint's offset {start}")
            seg = yield from _scan(io, fd, number, size, prev_lsn=state.last_lsn,
                                   verify_chunks=full or newest,
                                   chunk_payloads=full if chunk_payloads is None else chunk_payloads,
                                   trust_padding=not (full or newest), report=report, start=start)
            report.segments += 1
            report.records += seg.records
            report.bytes += seg.bytes
            state.last_lsn = seg.last_lsn
            if not newest:
                if seg.error:
                    report.corrupt_ranges.append(CorruptRange(number, seg.end, seg.dirty_end, seg.error))
                continue
            if seg.dirty_end > seg.end:
                report.truncated_bytes += seg.dirty_end - seg.end
                if not readonly:
                    zero_fill(io, fd, seg.end, seg.dirty_end)
            state.active, state.active_end = number, seg.end
        if not readonly:
            # Make everything recovered durable now, so durable_lsn == last_lsn
            # and light recovery's "sealed means fsynced" holds even if the
            # previous process died before sealing. Clean files sync almost
            # for free.
            io.sync_blocking(list(fds.values()))
    except BaseException:
        for fd in fds.values():
            io.close(fd)
        raise
    report.seconds = time.monotonic() - started
    return state


def zero_fill(io: IOBackend, fd: int, start: int, end: int) -> None:
    """Overwrite [start, end) with zeros (blocking)."""
    while start < end:
        n = min(_BLOCK, end - start)
        io.pwritev(fd, (_ZEROS[:n],), start)
        start += n
