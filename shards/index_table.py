"""The index's SQLite table: its layout, how a key's row is encoded and decoded, and the rewrite of a table an
earlier layout or ``LIST_FORMAT`` wrote (shards/index.py has the layers above it and the queries)."""

from __future__ import annotations

import sqlite3

import orjson

from wal.segments import Location

from .listing_xml import LIST_FORMAT, element

OBJECTS_DDL = ("CREATE TABLE IF NOT EXISTS objects (bucket TEXT NOT NULL, key TEXT NOT NULL, dm INTEGER NOT NULL,"
            " contents TEXT, versions BLOB NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID")
META_DDL = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
INSERT_ROW = "INSERT OR REPLACE INTO objects (bucket, key, dm, contents, versions) VALUES (?, ?, ?, ?, ?)"
KEEP_ON_RESET = ("trimmed", "list_format")


def _plain(obj):
    if isinstance(obj, tuple):  # Location and other named tuples
        return list(obj)
    raise TypeError(f"cannot store {type(obj).__name__}")


def encode(obj) -> bytes:
    return orjson.dumps(obj, default=_plain)


def list_columns(key: str, newest: dict) -> tuple:
    """What ListObjects reads of a key whose newest version is ``newest``: (dm, its ``<Contents>`` or None)."""
    return (1, None) if newest.get("dm") else (0, element(key, newest))


def row_of(bucket: str, key: str, versions: list) -> tuple:
    return (bucket, key, *list_columns(key, versions[0]), encode(versions))


def migrate(db: sqlite3.Connection) -> None:
    """Create the tables, or rewrite ``objects`` from its versions when its list columns are missing (the
    earlier, versions-only layout) or were rendered by another ``LIST_FORMAT``: one transaction, so a crash
    leaves the table as it was or rewritten whole."""
    db.execute(META_DDL)
    columns = [row[1] for row in db.execute("PRAGMA table_info(objects)")]
    row = db.execute("SELECT value FROM meta WHERE name = 'list_format'").fetchone()
    if columns and ("contents" not in columns or row is None or row[0] != LIST_FORMAT):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("ALTER TABLE objects RENAME TO objects_before")
            db.execute(OBJECTS_DDL)
            rows = db.execute("SELECT bucket, key, versions FROM objects_before")
            db.executemany(INSERT_ROW, ((b, k, *list_columns(k, orjson.loads(v)[0]), v) for b, k, v in rows))
            db.execute("DROP TABLE objects_before")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('list_format', ?)", (LIST_FORMAT,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    elif not columns:
        db.execute(OBJECTS_DDL)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('list_format', ?)", (LIST_FORMAT,))


def decode_versions(blob: bytes) -> list:
    versions = orjson.loads(blob)
    for v in versions:
        loc = v.get("loc")
        if loc:
            v["loc"] = [Location(*c) for c in loc]
    return versions
