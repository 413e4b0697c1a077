"""Segment files and the small value types that point into them."""
from __future__ import annotations

import os
import re
from typing import NamedTuple

_NAME = re.compile(r"^(\d{16})\.seg$")


class Location(NamedTuple):
    """Where a record's PAYLOAD lives. A plain tuple because the index holds
    millions of these."""

    segment: int
    offset: int
    length: int


class Recovered(NamedTuple):
    lsn: int
    type: int
    flags: int
    location: Location
    payload: bytes | None  # None for CHUNK records unless a full recovery asked for data


class CorruptRange(NamedTuple):
    """Bytes of a segment that recovery could not trust and left in place."""

    segment: int
    start: int
    end: int
    reason: str


def segment_name(number: int) -> str:
    return f"{number:016d}.seg"


def list_segments(directory: str | os.PathLike) -> list[int]:
    """Segment numbers present in `directory`, ascending; other files are ignored."""
    numbers = []
    for name in os.listdir(directory):
        match = _NAME.match(name)
        if match:
            numbers.append(int(match.group(1)))
    numbers.sort()
    return numbers
