"""The shard's index: (bucket, key) -> current object entry, kept sorted per bucket for listing.

Entries are plain dicts (the PUT record's metadata plus the data locations and the record's LSN). An update
only lands if its LSN is newer than what the index holds, so applying records in commit-completion order or
replaying the log in LSN order give the same state.
"""

from __future__ import annotations

from sortedcontainers import SortedDict


class Index:
    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[str, SortedDict] = {}

    def get(self, bucket: str, key: str) -> dict | None:
        keys = self._buckets.get(bucket)
        return None if keys is None else keys.get(key)

    def put(self, bucket: str, key: str, entry: dict) -> bool:
        keys = self._buckets.get(bucket)
        if keys is None:
            keys = self._buckets[bucket] = SortedDict()
        old = keys.get(key)
        if old is not None and old["lsn"] > entry["lsn"]:
            return False
        keys[key] = entry
        return True

    def delete(self, bucket: str, key: str, lsn: int) -> bool:
        keys = self._buckets.get(bucket)
        if keys is None:
            return False
        old = keys.get(key)
        if old is None or old["lsn"] > lsn:
            return False
        del keys[key]
        if not keys:
            del self._buckets[bucket]
        return True

    def count(self, bucket: str) -> int:
        keys = self._buckets.get(bucket)
        return 0 if keys is None else len(keys)

    def drop_bucket(self, bucket: str) -> None:
        self._buckets.pop(bucket, None)

    def list_page(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> tuple[list, bool]:
        """One sorted page after ``marker``: entries are ``[key, entry]`` or ``[common_prefix, None]``.

        Returns (entries, truncated). As in S3, an entry is listed only if it sorts after the marker, so a
        common prefix used as the marker skips every key under it.
        """
        keys = self._buckets.get(bucket)
        if keys is None or max_keys <= 0:
            return [], False
        skeys = keys.keys()
        i = keys.bisect_right(marker) if marker >= prefix else keys.bisect_left(prefix)
        n = len(skeys)
        out: list = []
        plen = len(prefix)
        while i < n:
            key = skeys[i]
            if not key.startswith(prefix):
                break
            if delimiter:
                cut = key.find(delimiter, plen)
                if cut >= 0:
                    cp = key[:cut + len(delimiter)]
                    i = keys.bisect_left(_after_prefix(cp))
                    if cp <= marker:
                        continue
                    if len(out) == max_keys:
                        return out, True
                    out.append([cp, None])
                    continue
            if len(out) == max_keys:
                return out, True
            out.append([key, keys[key]])
            i += 1
        return out, False


def _after_prefix(prefix: str) -> str:
    # Every string that starts with ``prefix`` sorts before prefix + the largest code point.
    return prefix + "\U0010ffff"
