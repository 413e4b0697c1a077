"""The shard's index: (bucket, key) -> the key's versions, newest first, kept sorted per bucket for listing.

A version is a plain dict (the PUT record's entry plus its data locations and the record's LSN) carrying ``vid``
(a version id, or "null" for writes to an unversioned or suspended bucket) and ``dm: True`` for a delete
marker. Versions of a key are ordered by LSN, and a "null" write replaces the key's null version only if it is
newer, so the state depends on which records were applied, never on the order the callers raced in.
"""

from __future__ import annotations

from sortedcontainers import SortedDict


class Index:
    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[str, SortedDict] = {}

    # -- lookups ------------------------------------------------------------------------------------------
    def versions(self, bucket: str, key: str) -> list | None:
        keys = self._buckets.get(bucket)
        return None if keys is None else keys.get(key)

    def latest(self, bucket: str, key: str) -> dict | None:
        """The key's newest version, which may be a delete marker."""
        versions = self.versions(bucket, key)
        return None if not versions else versions[0]

    def get(self, bucket: str, key: str) -> dict | None:
        """The current object: the newest version unless that is a delete marker."""
        e = self.latest(bucket, key)
        return None if e is None or e.get("dm") else e

    def version(self, bucket: str, key: str, vid: str) -> dict | None:
        for e in self.versions(bucket, key) or ():
            if e["vid"] == vid:
                return e
        return None

    def count(self, bucket: str) -> int:
        """Keys with at least one version (delete markers too: they keep a bucket from being empty)."""
        keys = self._buckets.get(bucket)
        return 0 if keys is None else len(keys)

    # -- changes ------------------------------------------------------------------------------------------
    def put(self, bucket: str, key: str, entry: dict) -> bool:
        keys = self._buckets.get(bucket)
        if keys is None:
            keys = self._buckets[bucket] = SortedDict()
        versions = keys.get(key)
        if versions is None:
            keys[key] = [entry]
            return True
        lsn = entry["lsn"]
        if entry["vid"] == "null":
            for i, old in enumerate(versions):
                if old["vid"] == "null":
                    if old["lsn"] > lsn:
                        return False
                    del versions[i]
                    break
        i = 0
        while i < len(versions) and versions[i]["lsn"] > lsn:
            i += 1
        versions.insert(i, entry)
        return True

    def remove(self, bucket: str, key: str, vid: str, lsn: int) -> dict | None:
        """Permanently remove one version (if older than ``lsn``); returns it."""
        keys = self._buckets.get(bucket)
        versions = None if keys is None else keys.get(key)
        if not versions:
            return None
        for i, old in enumerate(versions):
            if old["vid"] == vid:
                if old["lsn"] > lsn:
                    return None
                del versions[i]
                if not versions:
                    del keys[key]
                    if not keys:
                        del self._buckets[bucket]
                return old
        return None

    def drop_bucket(self, bucket: str) -> None:
        self._buckets.pop(bucket, None)

    # -- listing ------------------------------------------------------------------------------------------
    def list_page(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> tuple[list, bool]:
        """One sorted page of current objects after ``marker``: ``[key, entry]`` or ``[common_prefix, None]``.

        Keys whose newest version is a delete marker are not listed, nor are common prefixes holding only such
        keys. As in S3, an entry is listed only if it sorts after the marker, so a common prefix used as the
        marker skips every key under it. Returns (entries, truncated).
        """
        keys = self._buckets.get(bucket)
        if keys is None or max_keys <= 0:
            return [], False
        out: list = []
        for name, versions in _walk(keys, prefix, delimiter, marker, live_only=True):
            if len(out) == max_keys:
                return out, True
            out.append([name, None if versions is None else versions[0]])
        return out, False

    def list_versions_page(self, bucket: str, prefix: str, delimiter: str, key_marker: str, vid_marker: str,
                           max_keys: int) -> tuple[list, bool]:
        """One page of versions (and delete markers) in key order, newest first within a key:
        ``[key, version, is_latest]`` or ``[common_prefix, None, False]``.

        Starts after ``key_marker``; with ``vid_marker`` too, the older versions of ``key_marker`` that follow
        that version come first. Each version and each common prefix counts toward ``max_keys``.
        """
        keys = self._buckets.get(bucket)
        if keys is None or max_keys <= 0:
            return [], False
        out: list = []
        if key_marker and vid_marker and key_marker.startswith(prefix) and not (
                delimiter and key_marker.find(delimiter, len(prefix)) >= 0):
            versions = keys.get(key_marker) or []
            at = next((i for i, v in enumerate(versions) if v["vid"] == vid_marker), len(versions))
            for v in versions[at + 1:]:
                if len(out) == max_keys:
                    return out, True
                out.append([key_marker, v, False])
        for name, versions in _walk(keys, prefix, delimiter, key_marker, live_only=False):
            if versions is None:
                if len(out) == max_keys:
                    return out, True
                out.append([name, None, False])
                continue
            for i, v in enumerate(versions):
                if len(out) == max_keys:
                    return out, True
                out.append([name, v, i == 0])
        return out, False


def _walk(keys: SortedDict, prefix: str, delimiter: str, marker: str, live_only: bool):
    """Yield ``(key, versions)`` and ``(common_prefix, None)`` in order, after ``marker``, under ``prefix``."""
    skeys = keys.keys()
    i = keys.bisect_right(marker) if marker >= prefix else keys.bisect_left(prefix)
    n = len(skeys)
    plen = len(prefix)
    while i < n:
        key = skeys[i]
        if not key.startswith(prefix):
            return
        if delimiter:
            cut = key.find(delimiter, plen)
            if cut >= 0:
                cp = key[:cut + len(delimiter)]
                end = keys.bisect_left(_after_prefix(cp))
                if cp > marker and (not live_only or _any_live(keys, skeys, i, end)):
                    yield cp, None
                i = end
                continue
        versions = keys[key]
        if not (live_only and versions[0].get("dm")):
            yield key, versions
        i += 1


def _any_live(keys: SortedDict, skeys, start: int, end: int) -> bool:
    return any(not keys[skeys[j]][0].get("dm") for j in range(start, end))


def _after_prefix(prefix: str) -> str:
    """A bound above every string that starts with ``prefix``: its last character bumped by one (appending
    U+10FFFF would not do: a key may hold that code point right after the prefix)."""
    head = prefix.rstrip("\U0010ffff")
    if not head:  # a prefix of nothing but U+10FFFF (absurd, but keys are arbitrary): no key is that long
        return prefix + "\U0010ffff" * 1024
    return head[:-1] + chr(ord(head[-1]) + 1)
