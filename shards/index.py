"""The shard's index: (bucket, key) -> the key's versions, newest first, ordered by key for listing.

Shape (DESIGN §4): an on-disk ordered table updated in WAL order and checkpointed with the last applied LSN, so
memory stays bounded and a restart reads only the log's tail. The table is SQLite (stdlib) rather than LMDB:
LMDB caps keys at 511 bytes and an S3 key may be 1,024 bytes of UTF-8.

Three layers, newest first: the *active* memtable (every change since the last checkpoint began), the *frozen*
memtable (a checkpoint being written, still readable), and the SQLite table (the last checkpoint). A memtable
maps key -> versions, or -> None for "no versions any more" (a tombstone hiding what older layers hold); a
bucket dropped in a memtable hides everything older for that bucket. ``checkpoint`` writes the frozen layer and
the caller's extra state (the LSN it covers...) in one SQLite transaction, so the table always matches one LSN.

Besides the versions (a JSON blob), each row keeps what ListObjects shows of it in its own columns: whether
the newest version is a delete marker, and its ``<Contents>`` element (shards/listing_xml.py), rendered once
when the checkpoint writes the row. A ListObjects page is then one ``SELECT`` of (key, element) with no JSON
decode or formatting per row (decoding was most of a page's cost, formatting most of the router's). A table of
the earlier layout (versions only), or whose elements an older ``LIST_FORMAT`` rendered, is rewritten from the
versions when the index opens.

A version is a plain dict (the PUT record's entry plus its data locations and the record's LSN) carrying ``vid``
(a version id, or "null" for writes to an unversioned or suspended bucket) and ``dm: True`` for a delete
marker. Versions of a key are ordered by LSN, and a "null" write replaces the key's null version only if it is
newer, so the state depends on which records were applied, never on the order the callers raced in. Versions
handed out are never changed in place (a change replaces the dict), so a frozen layer stays as it was frozen.
"""

from __future__ import annotations

import os
import sqlite3

import orjson
from sortedcontainers import SortedDict

from .index_table import INSERT_ROW, KEEP_ON_RESET, decode_versions, list_columns, migrate, row_of

_MISS = object()


class Memtable:
    __slots__ = ("buckets", "dropped", "changes")

    def __init__(self) -> None:
        self.buckets: dict[str, SortedDict] = {}
        self.dropped: set[str] = set()  # buckets whose older layers are gone
        self.changes = 0

    def lookup(self, bucket: str, key: str):
        """The versions this layer decides (None: a tombstone), or _MISS to ask the older layers."""
        keys = self.buckets.get(bucket)
        if keys is not None:
            found = keys.get(key, _MISS)
            if found is not _MISS:
                return found
        return None if bucket in self.dropped else _MISS

    def absorb(self, newer: Memtable) -> None:
        """Take a newer memtable's changes on top of this one's (a failed checkpoint folds layers back)."""
        for bucket in newer.dropped:
            self.buckets.pop(bucket, None)
            self.dropped.add(bucket)
        for bucket, keys in newer.buckets.items():
            self.buckets.setdefault(bucket, SortedDict()).update(keys)
        self.changes += newer.changes


class Index:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.path = os.path.join(self.directory, "index.db")
        self.active = Memtable()
        self.frozen: Memtable | None = None
        self.generations = None  # shards/generations.py, once the shard publishes them: told of every change
        # page caches stay small (the OS page cache holds the file anyway): memory is bounded whatever the size
        self._writer = self._connect(2 << 10, check_same_thread=False)  # one checkpoint at a time, any thread
        migrate(self._writer)
        self._reader = self._connect(8 << 10)

    def _connect(self, cache_kib: int, **kw) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, **kw)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a committed checkpoint survives power loss
        db.execute(f"PRAGMA cache_size=-{cache_kib}")
        return db

    def close(self) -> None:
        self._reader.close()
        self._writer.close()

    # -- checkpoint state -----------------------------------------------------------------------------------
    @property
    def changes(self) -> int:
        return self.active.changes

    def meta(self, name: str) -> bytes | None:
        row = self._reader.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def trimmed(self) -> bool:
        """Whether compaction ever removed a segment (the log then no longer holds the whole history)."""
        return self.meta("trimmed") is not None

    def mark_trimmed(self) -> None:
        if not self.trimmed():
            self._reader.execute("INSERT OR REPLACE INTO meta VALUES ('trimmed', x'01')")

    def freeze(self) -> None:
        """Start a checkpoint: the active memtable becomes the frozen one, read-only from now on."""
        if self.frozen is not None:
            raise RuntimeError("a checkpoint is already being written")
        self.frozen, self.active = self.active, Memtable()

    def write_frozen(self, meta: dict[str, bytes]) -> None:
        """Write the frozen memtable and ``meta`` in one durable transaction. Blocking: run it in a thread (it
        only reads the frozen layer, which nobody changes)."""
        frozen = self.frozen
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            for bucket in frozen.dropped:
                db.execute("DELETE FROM objects WHERE bucket = ?", (bucket,))
            for bucket, keys in frozen.buckets.items():
                db.executemany("DELETE FROM objects WHERE bucket = ? AND key = ?",
                               ((bucket, k) for k, v in keys.items() if not v))
                db.executemany(INSERT_ROW, (row_of(bucket, k, v) for k, v in keys.items() if v))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def release_frozen(self, written: bool) -> None:
        """End a checkpoint: drop the frozen layer once written, else fold the newer changes back onto it."""
        frozen, self.frozen = self.frozen, None
        if not written and frozen is not None:
            frozen.absorb(self.active)
            self.active = frozen

    def checkpoint(self, meta: dict[str, bytes]) -> None:
        """A whole checkpoint inline (recovery, close, tests)."""
        self.freeze()
        ok = False
        try:
            self.write_frozen(meta)
            ok = True
        finally:
            self.release_frozen(ok)

    def retire_all_kept(self) -> None:
        """No router worker may answer a read from anything this shard said before now (shards/generations.py):
        for changes that cannot be named key by key, and a role change."""
        if self.generations is not None:
            self.generations.bump_all()

    def reset(self) -> None:
        """Forget everything (a rebuild from the whole log follows)."""
        self.active, self.frozen = Memtable(), None
        self.retire_all_kept()
        self._writer.execute("DELETE FROM objects")
        self._writer.execute(f"DELETE FROM meta WHERE name NOT IN {KEEP_ON_RESET}")

    # -- lookups ------------------------------------------------------------------------------------------
    def versions(self, bucket: str, key: str) -> list | None:
        found = self.active.lookup(bucket, key)
        if found is _MISS and self.frozen is not None:
            found = self.frozen.lookup(bucket, key)
        if found is not _MISS:
            return found or None
        row = self._reader.execute("SELECT versions FROM objects WHERE bucket = ? AND key = ?",
                                   (bucket, key)).fetchone()
        return None if row is None else decode_versions(row[0])

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

    def has_keys(self, bucket: str) -> bool:
        """Whether any key has a version (delete markers too: they keep a bucket from being empty)."""
        return next(self._scan(bucket, "", True), None) is not None

    # -- changes ------------------------------------------------------------------------------------------
    def _own(self, bucket: str, key: str) -> list:
        """The key's versions as a list the active memtable owns (copied from an older layer if need be)."""
        keys = self.active.buckets.get(bucket)
        if keys is None:
            keys = self.active.buckets[bucket] = SortedDict()
        versions = keys.get(key)
        if versions is None:
            versions = keys[key] = list(self.versions(bucket, key) or ())
        self.active.changes += 1
        if self.generations is not None:
            self.generations.bump(bucket, key)
        return versions

    def put(self, bucket: str, key: str, entry: dict) -> bool:
        versions = self._own(bucket, key)
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
        if not self.versions(bucket, key):
            return None
        versions = self._own(bucket, key)
        for i, old in enumerate(versions):
            if old["vid"] == vid:
                if old["lsn"] > lsn:
                    return None
                del versions[i]
                return old
        return None

    def replace(self, bucket: str, key: str, vid: str, changed: dict) -> None:
        """Swap one version's dict for a changed copy (versions are never edited in place)."""
        versions = self._own(bucket, key)
        for i, old in enumerate(versions):
            if old["vid"] == vid:
                versions[i] = changed
                return

    def drop_bucket(self, bucket: str) -> None:
        self.active.buckets.pop(bucket, None)
        self.active.dropped.add(bucket)
        self.active.changes += 1
        self.retire_all_kept()

    # -- ordered scans ----------------------------------------------------------------------------------------
    def _scan(self, bucket: str, start: str, inclusive: bool, heads: bool = False):
        """``(key, versions)`` of keys with versions, in key order, from ``start``: the three layers merged, the
        newest deciding. With ``heads``, ``(key, head)`` instead: the list columns, no versions decoded."""
        layers = []
        for mt in (self.active, self.frozen):
            if mt is None:
                continue
            keys = mt.buckets.get(bucket)
            if keys is not None:
                layers.append((_heads_from if heads else _items_from)(keys, start, inclusive))
            if bucket in mt.dropped:
                break
        else:
            where = f"WHERE bucket = ? AND key {'>=' if inclusive else '>'} ? ORDER BY key"
            if heads:
                rows = self._reader.execute(f"SELECT key, dm, contents FROM objects {where}", (bucket, start))
                layers.append((row[0], row) for row in rows)
            else:
                rows = self._reader.execute(f"SELECT key, versions FROM objects {where}", (bucket, start))
                layers.append((k, _LazyVersions(v)) for k, v in rows)
        if len(layers) == 1:
            for key, versions in layers[0]:
                if versions:
                    yield key, versions
            return
        heads = [next(it, None) for it in layers]
        while True:
            best = None
            for i, head in enumerate(heads):
                if head is not None and (best is None or head[0] < heads[best][0]):
                    best = i  # on equal keys the earlier (newer) layer stays best
            if best is None:
                return
            key, versions = heads[best]
            for i, head in enumerate(heads):
                if head is not None and head[0] == key:
                    heads[i] = next(layers[i], None)
            if versions:
                yield key, versions

    def buckets(self) -> list[str]:
        """Every bucket with keys in any layer (sorted)."""
        names = {row[0] for row in self._reader.execute("SELECT DISTINCT bucket FROM objects")}
        for mt in (self.frozen, self.active):  # oldest first, so a newer drop wins
            if mt is not None:
                names -= mt.dropped
                names.update(mt.buckets)
        return sorted(names)

    def walk(self, bucket: str):
        """Every ``(key, versions)`` of a bucket in key order (versions as a plain list)."""
        for key, versions in self._scan(bucket, "", True):
            yield key, list(versions)

    # -- listing ------------------------------------------------------------------------------------------
    def list_page(self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int) -> tuple[list, bool]:
        """One sorted page of current objects after ``marker``: ``[key, <Contents> element]`` (as stored, see
        ``list_columns``) or ``[common_prefix, None]``.

        Keys whose newest version is a delete marker are not listed, nor are common prefixes holding only such
        keys. As in S3, an entry is listed only if it sorts after the marker, so a common prefix used as the
        marker skips every key under it. Returns (entries, truncated).
        """
        if max_keys <= 0:
            return [], False
        if not delimiter and self._table_only(bucket):
            return self._table_page(bucket, prefix, marker, max_keys)
        out: list = []
        for name, head in self._walk(bucket, prefix, delimiter, marker, live_only=True):
            if len(out) == max_keys:
                return out, True
            out.append([name, None if head is None else head[2]])
        return out, False

    def _table_only(self, bucket: str) -> bool:
        """Whether the SQLite table alone holds the bucket's keys (no memtable changed or dropped it)."""
        return all(mt is None or (bucket not in mt.buckets and bucket not in mt.dropped)
                   for mt in (self.active, self.frozen))

    def _table_page(self, bucket: str, prefix: str, marker: str, max_keys: int) -> tuple[list, bool]:
        """``list_page`` without a delimiter when only the table holds the bucket: the filtering (prefix,
        marker, delete markers) and the page size are all SQLite's, one row fetched past the page to tell
        whether it is truncated."""
        start, op = (marker, ">") if marker >= prefix else (prefix, ">=")
        where, args = f"bucket = ? AND key {op} ?", [bucket, start]
        if prefix:
            where += " AND key < ?"
            args.append(_after_prefix(prefix))
        args.append(max_keys + 1)
        rows = self._reader.execute(f"SELECT key, contents FROM objects WHERE {where} AND dm = 0 ORDER BY key"
                                    " LIMIT ?", args).fetchall()
        return rows[:max_keys], len(rows) > max_keys

    def list_versions_page(self, bucket: str, prefix: str, delimiter: str, key_marker: str, vid_marker: str,
                           max_keys: int) -> tuple[list, bool]:
        """One page of versions (and delete markers) in key order, newest first within a key:
        ``[key, version, is_latest]`` or ``[common_prefix, None, False]``.

        Starts after ``key_marker``; with ``vid_marker`` too, the older versions of ``key_marker`` that follow
        that version come first. Each version and each common prefix counts toward ``max_keys``.
        """
        if max_keys <= 0:
            return [], False
        out: list = []
        if key_marker and vid_marker and key_marker.startswith(prefix) and not (
                delimiter and key_marker.find(delimiter, len(prefix)) >= 0):
            versions = self.versions(bucket, key_marker) or []
            at = next((i for i, v in enumerate(versions) if v["vid"] == vid_marker), len(versions))
            for v in versions[at + 1:]:
                if len(out) == max_keys:
                    return out, True
                out.append([key_marker, v, False])
        for name, versions in self._walk(bucket, prefix, delimiter, key_marker, live_only=False):
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

    def _walk(self, bucket: str, prefix: str, delimiter: str, marker: str, live_only: bool):
        """Yield ``(key, versions)`` and ``(common_prefix, None)`` in order, after ``marker``, under ``prefix``.
        ``live_only`` (ListObjects) skips delete-marked keys and yields heads instead of versions."""
        start, inclusive = (marker, False) if marker >= prefix else (prefix, True)
        plen = len(prefix)
        dead = _head_dead if live_only else _versions_dead
        while True:
            scan = self._scan(bucket, start, inclusive, heads=live_only)
            for key, versions in scan:
                if not key.startswith(prefix):
                    return
                if delimiter:
                    cut = key.find(delimiter, plen)
                    if cut >= 0:
                        cp = key[:cut + len(delimiter)]
                        if cp > marker and (not live_only or _any_live(key, versions, cp, scan, dead)):
                            yield cp, None
                        start, inclusive = _after_prefix(cp), True  # skip the rest under cp with a new scan
                        break
                if not (live_only and dead(versions)):
                    yield key, versions
            else:
                return
            scan.close()


def _items_from(keys: SortedDict, start: str, inclusive: bool):
    for k in keys.irange(start, inclusive=(inclusive, True)):
        yield k, keys[k]


def _heads_from(keys: SortedDict, start: str, inclusive: bool):
    """A memtable's keys as ``(key, (key, dm, element))``, like the table's list columns (None: a tombstone)."""
    for k in keys.irange(start, inclusive=(inclusive, True)):
        versions = keys[k]
        yield k, (k, *list_columns(k, versions[0])) if versions else None


def _head_dead(head: tuple) -> bool:
    return head[1]


def _versions_dead(versions) -> bool:
    return versions[0].get("dm")


class _LazyVersions:
    """A row's versions, decoded on first use: a listing that skips most keys never decodes them."""

    __slots__ = ("_blob", "_list")

    def __init__(self, blob: bytes) -> None:
        self._blob, self._list = blob, None

    def _get(self) -> list:
        if self._list is None:
            self._list = orjson.loads(self._blob)
        return self._list

    def __bool__(self) -> bool:
        return True  # only keys with versions are stored

    def __getitem__(self, i):
        return self._get()[i]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _any_live(key: str, value, cp: str, scan, dead) -> bool:
    """Whether any key under the common prefix ``cp`` (``key`` first, then the rest of ``scan``) is live."""
    if not dead(value):
        return True
    for key, value in scan:
        if not key.startswith(cp):
            return False
        if not dead(value):
            return True
    return False


def _after_prefix(prefix: str) -> str:
    """A bound above every string that starts with ``prefix``: its last character bumped by one (appending
    U+10FFFF would not do: a key may hold that code point right after the prefix)."""
    head = prefix.rstrip("\U0010ffff")
    if not head:  # a prefix of nothing but U+10FFFF (absurd, but keys are arbitrary): no key is that long
        return prefix + "\U0010ffff" * 1024
    return head[:-1] + chr(ord(head[-1]) + 1)
