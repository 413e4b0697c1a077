"""``cairn check DATA``: verify every record of every shard's log offline and print a report.

Exit status: 0 if every shard is clean, 1 if any corruption was found (a torn tail alone is not corruption: it is
what a crash leaves and recovery discards), 2 if DATA holds no shard logs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from wal.check import check_log
from wal.recovery import RecoveryReport

_SHARD = re.compile(r"^shard-(\d+)$")


def shard_logs(data_dir: str) -> list[tuple[int, str]]:
    """(shard number, wal directory) for every shard under ``data_dir``, in shard order."""
    found = []
    for name in os.listdir(data_dir):
        m = _SHARD.match(name)
        wal = os.path.join(data_dir, name, "wal")
        if m and os.path.isdir(wal):
            found.append((int(m.group(1)), wal))
    return sorted(found)


def format_report(shard: int, report: RecoveryReport) -> list[str]:
    mb = report.bytes / 1e6
    rate = mb / report.seconds if report.seconds > 0 else 0.0
    lines = [f"shard {shard}: {report.segments} segments, {report.records} records, {report.bytes} bytes, "
             f"{report.seconds:.3f} s ({rate:.0f} MB/s), "
             f"{len(report.corrupt_ranges)} corrupt ranges, torn tail {report.truncated_bytes} bytes"]
    for r in report.corrupt_ranges:
        lines.append(f"  CORRUPT segment {r.segment:016d}.seg bytes {r.start}-{r.end} ({r.end - r.start} bytes): "
                     f"{r.reason}")
    return lines


def run(data_dir: str, out=sys.stdout) -> int:
    if not os.path.isdir(data_dir):
        print(f"cairn check: {data_dir}: no such directory", file=out)
        return 2
    logs = shard_logs(data_dir)
    if not logs:
        print(f"cairn check: {data_dir}: no shard-N/wal directories", file=out)
        return 2
    corrupt = 0
    for shard, wal in logs:
        report = check_log(wal)
        corrupt += len(report.corrupt_ranges)
        for line in format_report(shard, report):
            print(line, file=out)
    print(f"cairn check: {len(logs)} shards, " + (f"{corrupt} corrupt ranges" if corrupt else "no corruption"),
          file=out)
    return 1 if corrupt else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", metavar="DATA", help="the data directory given to cairn serve (stop it first)")
