"""Write-ahead log: the storage engine under each shard (DESIGN §4).

Knows nothing of S3: it stores typed, checksummed records and hands back
their locations.
"""
from .log import Log, LogClosed
from .records import HEADER_SIZE, CorruptRecord, Header, RecordType, decode_header, encode_header, verify
from .recovery import CannotResume, RecoveryReport, ResumeAt
from .segments import CorruptRange, Location, Recovered
from .sync import PRESETS, Observer, SyncFailed, SyncPolicy, policy_for

__all__ = [
    "HEADER_SIZE", "PRESETS", "CannotResume", "CorruptRange", "CorruptRecord", "Header", "Location", "Log",
    "LogClosed", "Observer", "RecordType", "Recovered", "RecoveryReport", "ResumeAt", "SyncFailed",
    "SyncPolicy", "decode_header", "encode_header", "policy_for", "verify",
]
