"""Recovery: scan segment files in order, yield every valid record, repair the tail.

Rules (DESIGN §4: a torn tail is truncated; corruption elsewhere is reported
and quarantined without losing the rest):

* A sealed segment (any but the newest) is read up to its first invalid
  record; the rest of it is reported as a CorruptRange and left on disk, and
  the scan goes on with the next segment.
* In the newest segment, an invalid record is normally a torn tail: the file is
  cut back to the last valid record. But if valid records follow the damage,
  the damage is not a tear (a crash only ever loses a suffix of what was
  written) and truncating would throw away acknowledged data. That segment is
  then quarantined like a sealed one and appends move to a fresh segment.
  Being wrong in that direction only costs a spurious report, never data.
* Light mode trusts CHUNK payloads in sealed segments (they were fsynced when
  sealed) and skips reading them; full mode verifies every crc.

Recovery does blocking I/O: run it before serving, or in a thread.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Generator

from .io import IOBackend
from .records import HEADER_SIZE, MAGIC, CorruptRecord, Header, RecordType, checksum, decode_header
from .segments import CorruptRange, Location, Recovered, list_segments, segment_name

_WINDOW = 64 << 10  # read-ahead per pread while scanning: many small records, few syscalls
_MAGIC_BYTES = MAGIC.to_bytes(4, "little")


@dataclass
class RecoveryReport:
    records: int = 0
    bytes: int = 0
    segments: int = 0
    truncated_bytes: int = 0
    corrupt_ranges: list[CorruptRange] = field(default_factory=list)
    seconds: float = 0.0


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
    error: str | None         # why the scan stopped before end of file


class _Window:
    """Buffered pread over one segment, so scanning small records costs one
    syscall per window instead of two per record."""

    def __init__(self, io: IOBackend, fd: int, size: int) -> None:
        self._io, self._fd, self._size = io, fd, size
        self._start = 0
        self._view = memoryview(b"")

    def get(self, offset: int, n: int) -> memoryview:
        rel = offset - self._start
        if 0 <= rel and rel + n <= len(self._view):
            return self._view[rel:rel + n]
        if n >= _WINDOW:
            return memoryview(self._io.pread(self._fd, n, offset))
        self._view = memoryview(self._io.pread(self._fd, min(_WINDOW, self._size - offset), offset))
        self._start = offset
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


def _scan(io: IOBackend, fd: int, number: int, size: int, *, prev_lsn: int,
          verify_chunks: bool, chunk_payloads: bool) -> Generator[Recovered, None, _SegmentEnd]:
    win = _Window(io, fd, size)
    pos, last, count = 0, prev_lsn, 0
    error = None
    while pos < size:
        try:
            header = _read_header(win, pos, size)
            is_chunk = header.type == RecordType.CHUNK
            # Light mode never touches trusted CHUNK payloads: that is most of
            # the bytes on disk.
            skip = is_chunk and not (verify_chunks or chunk_payloads)
            payload = None if skip else _read_payload(win, pos, header)
            # Within a segment LSNs are consecutive; across a quarantined range
            # they may jump, but never go back.
            if header.lsn <= last or (count and header.lsn != last + 1):
                raise CorruptRecord(f"lsn {header.lsn} out of sequence after {last}")
        except (CorruptRecord, EOFError) as exc:
            error = str(exc) or type(exc).__name__
            break
        data = None if payload is None or (is_chunk and not chunk_payloads) else bytes(payload)
        yield Recovered(header.lsn, header.type, header.flags,
                        Location(number, pos + HEADER_SIZE, header.length), data)
        pos += HEADER_SIZE + header.length
        last, count = header.lsn, count + 1
    return _SegmentEnd(pos, last, count, error)


def _valid_records_after(io: IOBackend, fd: int, start: int, size: int, last_lsn: int) -> int | None:
    """Highest LSN among fully valid records found after a damaged spot, or
    None if there are none (the damage is a torn tail). Resynchronises on the
    magic, so a damaged length field can't hide what follows."""
    win = _Window(io, fd, size)
    offset = start + 1
    while offset + HEADER_SIZE <= size:
        block = io.pread(fd, min(1 << 20, size - offset), offset)
        hit = block.find(_MAGIC_BYTES, 4)
        while hit != -1:
            candidate = offset + hit - 4
            try:
                header = _read_header(win, candidate, size)
                _read_payload(win, candidate, header)
            except (CorruptRecord, EOFError):
                header = None
            if header is not None and header.lsn > last_lsn:
                return _walk(win, candidate, size)
            hit = block.find(_MAGIC_BYTES, hit + 1)
        # Overlap so a header straddling two blocks is still seen.
        offset += max(len(block) - HEADER_SIZE, 1)
    return None


def _walk(win: _Window, pos: int, size: int) -> int:
    highest = 0
    while True:
        try:
            header = _read_header(win, pos, size)
            _read_payload(win, pos, header)
        except (CorruptRecord, EOFError):
            return highest
        highest = max(highest, header.lsn)
        pos += HEADER_SIZE + header.length


def recover_directory(io: IOBackend, directory: str, report: RecoveryReport, *,
                      full: bool) -> Generator[Recovered, None, RecoveredState]:
    started = time.monotonic()
    numbers = list_segments(directory)
    fds: dict[int, int] = {}
    state = RecoveredState(fds, None, 0, 0)
    try:
        for i, number in enumerate(numbers):
            newest = i == len(numbers) - 1
            fd = io.open_segment(os.path.join(directory, segment_name(number)), writable=newest)
            fds[number] = fd
            size = io.size(fd)
            seg = yield from _scan(io, fd, number, size, prev_lsn=state.last_lsn,
                                   verify_chunks=full or newest, chunk_payloads=full)
            report.segments += 1
            report.records += seg.records
            report.bytes += seg.end
            state.last_lsn = seg.last_lsn
            if not newest:
                if seg.error:
                    report.corrupt_ranges.append(CorruptRange(number, seg.end, size, seg.error))
                continue
            beyond = _valid_records_after(io, fd, seg.end, size, seg.last_lsn) if seg.error else None
            if beyond is None:
                if seg.error:
                    io.truncate(fd, seg.end)
                    report.truncated_bytes += size - seg.end
                state.active, state.active_end = number, seg.end
            else:
                report.corrupt_ranges.append(CorruptRange(number, seg.end, size, seg.error))
                # LSNs in the quarantined bytes must never be reused.
                state.last_lsn = max(state.last_lsn, beyond)
        # Make everything recovered durable now, so durable_lsn == last_lsn and
        # light recovery's "sealed means fsynced" holds even if the previous
        # process died before sealing. Clean files sync almost for free.
        io.sync_blocking(list(fds.values()))
    except BaseException:
        for fd in fds.values():
            io.close(fd)
        raise
    report.seconds = time.monotonic() - started
    return state
