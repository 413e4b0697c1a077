"""Small objects' latest versions as their shard last served them to this router worker, answered again without
a trip to the shard while the shard's change generation for the key (shards/generations.py) is unchanged.

A GET or HEAD of a hot small object is most of a read-heavy load, and the trip to the shard (two wake-ups, a
frame each way, the shard's lookup) is half of what such a request costs. The shard still owns every key: this
only keeps what it said, with the generation it read in the same step, and drops it the moment that generation
moves, so an answer from here is one the shard would give at the instant of the check.

Only plain requests use it (no versionId, range, partNumber or conditions), only while the worker's link to the
shard is up (a shard that is down answers 503 here as before), and only objects up to MAX_ITEM bytes. Memory is
bounded by ``max_bytes`` per worker; the oldest entries go first.
"""

from __future__ import annotations

import os

from shards.generations import Watcher, path_of, slot_of

from .metrics import READ_HITS, READ_MISSES

MAX_ITEM = 64 << 10
_OVERHEAD = 512  # what an entry's dict and key cost beside the body, roughly


class ReadCache:
    __slots__ = ("max_bytes", "items", "size", "watchers")

    def __init__(self, run_dir: str, shards: int, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: dict[tuple[str, str], tuple] = {}  # (bucket, key) -> (shard, slot, gen, entry, body or None)
        self.size = 0
        self.watchers = [Watcher(path_of(run_dir, n)) for n in range(shards)]

    @classmethod
    def from_env(cls, shards: int, max_bytes: int) -> ReadCache | None:
        """The worker's cache, or None when it is off (0 bytes) or shards publish no generations (no run dir)."""
        run_dir = os.environ.get("CAIRN_RUN_DIR", "")
        return cls(run_dir, shards, max_bytes) if run_dir and max_bytes > 0 else None

    def get(self, bucket: str, key: str, with_body: bool):
        """(entry, body) if still current (body None for a HEAD-only entry), else None."""
        item = self.items.get((bucket, key))
        if item is not None and (item[4] is not None or not with_body):  # a HEAD's entry cannot answer a GET
            shard, slot, gen, entry, body = item
            if self.watchers[shard].current(slot, gen):
                READ_HITS.inc()
                return entry, body
            self._drop((bucket, key))
        READ_MISSES.inc()
        return None

    def keep(self, shard: int, bucket: str, key: str, gen: list, entry: dict, body: bytes | None) -> None:
        """Remember a shard's answer about (bucket, key) with the generation it came with."""
        if entry["size"] > MAX_ITEM:
            return
        ident = (bucket, key)
        if ident in self.items:
            self._drop(ident)
        cost = _OVERHEAD + len(key) + (len(body) if body is not None else 0)
        while self.items and self.size + cost > self.max_bytes:
            self._drop(next(iter(self.items)))
        self.items[ident] = (shard, slot_of(bucket, key), gen, entry, body)
        self.size += cost

    def _drop(self, ident: tuple[str, str]) -> None:
        item = self.items.pop(ident)
        self.size -= _OVERHEAD + len(ident[1]) + (len(item[4]) if item[4] is not None else 0)
