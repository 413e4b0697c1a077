"""A shard's HA role and epoch (DESIGN §5), persisted in ``DATA/shard-N/role.json``.

The epoch history lists ``(epoch, first LSN written in it)``. It is what lets a primary tell a returning node
where their logs part: records up to the end of the last epoch both histories share are identical on both
(they were shipped), anything after that on the returning node was never replicated and is truncated.

The file is written atomically (temp file, fsync, rename, directory fsync) and only ever moves the epoch forward.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from dataclasses import dataclass, field

import orjson

from wal.io import ThreadPoolIO
from wal.records import HEADER_SIZE
from wal.recovery import RecoveryReport, recover_directory, zero_fill
from wal.segments import list_segments, segment_name

log = logging.getLogger("cairn.ha")

FILE = "role.json"
PRIMARY, STANDBY = "primary", "standby"


@dataclass
class Role:
    role: str = PRIMARY
    epoch: int = 1
    primary: str = ""   # a standby's primary (HOST:PORT of its S3 endpoint)
    peer: str = ""      # the other node: a standby's primary, or the last standby that followed this primary
    history: list = field(default_factory=list)  # [[epoch, first lsn], ...], ascending
    truncate_to: int | None = None  # set on demotion: drop records after this LSN before the log opens
    truncated: int = 0  # records the last such truncation dropped

    @property
    def is_primary(self) -> bool:
        return self.role == PRIMARY

    def to_wire(self) -> dict:
        return dataclasses.asdict(self)


def path_of(home: str) -> str:
    return os.path.join(home, FILE)


def load(home: str, settings: dict) -> Role:
    """The persisted role; a fresh shard directory takes the one the settings name (``--role``/``--primary``)."""
    try:
        with open(path_of(home), "rb") as f:
            return Role(**orjson.loads(f.read()))
    except FileNotFoundError:
        pass
    if (settings.get("role") or PRIMARY) == STANDBY:
        # epoch 0 with no history: the first primary it follows hands both over
        role = Role(STANDBY, 0, settings.get("primary") or "", settings.get("primary") or "", [])
    else:
        role = Role(PRIMARY, 1, "", "", [[1, 1]])
    save(home, role)
    return role


def save(home: str, role: Role) -> None:
    path = path_of(home)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(role.to_wire(), option=orjson.OPT_INDENT_2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(home, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def divergence(primary_history: list, joiner_history: list, joiner_last_lsn: int) -> int | None:
    """The LSN a node joining a primary must truncate its log to, or None if its log is a prefix of the
    primary's. Pure: both histories are ``[[epoch, first lsn], ...]``."""
    ours = {tuple(e) for e in primary_history}
    shared = [e for e, start in joiner_history if (e, start) in ours]
    last_shared = max(shared, default=0)
    # the shared epoch ends where either side started a later one
    later = [start for e, start in primary_history if e > last_shared]
    later += [start for e, start in joiner_history if e > last_shared]
    if not later:
        return None
    end = min(later) - 1
    return end if joiner_last_lsn > end else None


def truncate_log(wal_dir: str, keep_lsn: int) -> int:
    """Drop every record after ``keep_lsn`` from a closed log (zeroed in place, later segments removed), so
    the log opens ending at ``keep_lsn``. Returns how many records went."""
    if not os.path.isdir(wal_dir):
        return 0
    io = ThreadPoolIO()
    cut = None  # (segment, offset) of the first record to drop
    dropped = 0
    ends: dict[int, int] = {}
    gen = recover_directory(io, wal_dir, RecoveryReport(), full=False, chunk_payloads=False, readonly=True)
    try:
        while True:
            rec = next(gen)
            if rec.lsn > keep_lsn:
                dropped += 1
                if cut is None:
                    cut = (rec.location.segment, rec.location.offset - HEADER_SIZE)
                ends[rec.location.segment] = rec.location.offset + rec.location.length
    except StopIteration as stop:
        for fd in stop.value.fds.values():
            io.close(fd)
    if cut is None:
        return 0
    segment, offset = cut
    if offset == 0 and segment > min(list_segments(wal_dir)):
        segment -= 1  # an emptied segment goes too: the primary may have written the next record before it
    else:
        fd = os.open(os.path.join(wal_dir, segment_name(segment)), os.O_RDWR)
        try:
            zero_fill(io, fd, offset, ends.get(segment, offset))
            os.fsync(fd)
        finally:
            os.close(fd)
    for later in list_segments(wal_dir):
        if later > segment:
            os.unlink(os.path.join(wal_dir, segment_name(later)))
    fd = os.open(wal_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return dropped


def prepare(home: str, settings: dict) -> Role:
    """Load the role before the log opens and carry out a truncation a demotion asked for."""
    role = load(home, settings)
    if role.truncate_to is not None:
        n = truncate_log(os.path.join(home, "wal"), role.truncate_to)
        log.warning("%s: dropped %d log records after lsn %d that the new primary never received (%s)",
                    home, n, role.truncate_to, "acknowledged only under async replication" if n else "none")
        if n:
            # the index checkpoint may hold dropped records: rebuild it from what the log keeps
            shutil.rmtree(os.path.join(home, "index"), ignore_errors=True)
        role.truncate_to = None
        role.truncated = n
        save(home, role)
    return role
