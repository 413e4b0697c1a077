"""Offline verification of a log directory (`cairn check`): read every record,
verify every CRC32C, repair nothing. The server must not be running on it."""
from __future__ import annotations

from .io import ThreadPoolIO
from .recovery import RecoveryReport, recover_directory


def check_log(directory: str) -> RecoveryReport:
    """A full, read-only recovery scan. `truncated_bytes` counts the torn tail
    a real recovery would discard; `corrupt_ranges` lists everything damaged."""
    io = ThreadPoolIO()
    report = RecoveryReport()
    scan = recover_directory(io, directory, report, full=True, chunk_payloads=False, readonly=True)
    try:
        while True:
            next(scan)
    except StopIteration as done:
        state = done.value
    for fd in state.fds.values():
        io.close(fd)
    return report
