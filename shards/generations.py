"""Change generations a shard publishes in shared memory, so a router worker can tell, without asking the shard,
whether what the shard last told it about a key is still current (router/read_cache.py).

The file holds 64-bit counters: an *epoch* (word 0) and one counter per key slot (words 1..SLOTS). The shard is
the only writer. It bumps the slot of (bucket, key) in the same event-loop step as every change to that key's
versions in its index (shards/index.py ``_own``), and bumps the epoch when a change touches keys it cannot name
one by one (a dropped bucket, an index reset) and each time a shard process opens the file, before it accepts
a connection. So a (epoch, slot counter) pair read together with a key's state in one shard step stays equal
exactly as long as no change to that key can have been made: the shard is single-threaded, and a change is
acknowledged only after its bump, so a read that checks the pair after an acknowledged write sees it differ.

Slots are shared by many keys (a hash modulo SLOTS): a change to one key also retires the others in its slot,
which costs a refetch, never a stale answer. The file lives in the supervisor's run directory (tmpfs): it is
per server start, and a restarted shard reuses it, moving the epoch on.
"""

from __future__ import annotations

import mmap
import os

from .key_hash import key_hash

SLOTS = 1 << 16
SIZE = (SLOTS + 1) * 8
_MASK = SLOTS - 1


def slot_of(bucket: str, key: str) -> int:
    """The counter index of a key (1..SLOTS; 0 is the epoch)."""
    return (key_hash(bucket, key) & _MASK) + 1


def path_of(run_dir: str, number: int) -> str:
    return os.path.join(run_dir, f"shard-{number}.gen")


def _map(path: str, writable: bool):
    fd = os.open(path, (os.O_RDWR | os.O_CREAT) if writable else os.O_RDONLY, 0o600)
    try:
        if writable and os.fstat(fd).st_size != SIZE:
            os.ftruncate(fd, SIZE)
        m = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0))
    finally:
        os.close(fd)
    return m, memoryview(m).cast("Q")


class Generations:
    """The shard's side: bump on change, read with a reply."""

    __slots__ = ("_mmap", "words")

    def __init__(self, path: str) -> None:
        self._mmap, self.words = _map(path, writable=True)
        self.bump_all()  # whatever a router kept from an earlier process of this shard is retired

    def bump(self, bucket: str, key: str) -> None:
        words = self.words
        i = slot_of(bucket, key)
        words[i] = (words[i] + 1) & 0xFFFFFFFFFFFFFFFF

    def bump_all(self) -> None:
        self.words[0] = (self.words[0] + 1) & 0xFFFFFFFFFFFFFFFF

    def of(self, bucket: str, key: str) -> list[int]:
        """[epoch, slot counter] for a reply about this key."""
        words = self.words
        return [words[0], words[slot_of(bucket, key)]]


class Watcher:
    """A router worker's read-only view of one shard's generations (None until the shard has created them)."""

    __slots__ = ("path", "words")

    def __init__(self, path: str) -> None:
        self.path = path
        self.words = None

    def current(self, slot: int, seen: list) -> bool:
        """Whether ``seen`` (a reply's [epoch, counter] for a key in ``slot``) is still what the shard has."""
        words = self.words
        if words is None:
            try:
                words = self.words = _map(self.path, writable=False)[1]
            except (OSError, ValueError):
                return False
        return words[0] == seen[0] and words[slot] == seen[1]
