"""The shard index: versions newest first by LSN, null-version replacement, removal, and listing pages that hide
delete-marked keys (ListObjects) or show every version (ListObjectVersions).

Every case runs three ways: all changes still in the memtable, every change checkpointed into the SQLite table at
once, and checkpoints after every other change (layers mixed), since reads must merge the layers the same way."""

import itertools

import pytest

from shards import index as index_module
from shards import index_table

_lsn = itertools.count(1)
_factory = None


class _Checkpointing(index_module.Index):
    """An Index that writes a checkpoint after every ``every``-th change."""

    every = 1
    _n = 0

    def _after(self):
        self._n += 1
        if self._n % self.every == 0:
            self.checkpoint({})

    def put(self, *a):
        out = super().put(*a)
        self._after()
        return out

    def remove(self, *a, **kw):
        out = super().remove(*a, **kw)
        self._after()
        return out

    def drop_bucket(self, *a):
        super().drop_bucket(*a)
        self._after()


class _Mixed(_Checkpointing):
    every = 2


@pytest.fixture(autouse=True, params=["memtable", "checkpointed", "mixed"])
def _layers(request, tmp_path):
    global _factory
    cls = {"memtable": index_module.Index, "checkpointed": _Checkpointing, "mixed": _Mixed}[request.param]
    made = []

    def factory():
        made.append(cls(tmp_path / f"index{len(made)}"))
        return made[-1]

    _factory = factory
    yield
    for idx in made:
        idx.close()


def Index():  # noqa: N802 - reads like the class in the cases below
    return _factory()


def version(vid="null", dm=False, lsn=None):
    e = {"vid": vid, "lsn": next(_lsn) if lsn is None else lsn, "etag": "e", "size": 1, "mtime": 0.0}
    if dm:
        e = {"vid": vid, "lsn": e["lsn"], "dm": True, "mtime": 0.0, "size": 0}
    return e


def build(spec: dict) -> Index:
    """spec: key -> list of (vid, is_delete_marker), oldest first."""
    idx = Index()
    for key, versions in spec.items():
        for vid, dm in versions:
            idx.put("b", key, version(vid, dm))
    return idx


def test_versions_are_kept_newest_first():
    idx = build({"k": [("v1", False), ("v2", False), ("v3", False)]})
    assert [v["vid"] for v in idx.versions("b", "k")] == ["v3", "v2", "v1"]


def test_out_of_order_apply_still_orders_by_lsn():
    idx = Index()
    idx.put("b", "k", version("new", lsn=20))
    idx.put("b", "k", version("old", lsn=10))
    assert [v["vid"] for v in idx.versions("b", "k")] == ["new", "old"]


def test_null_write_replaces_only_the_null_version():
    idx = build({"k": [("null", False), ("v1", False)]})
    idx.put("b", "k", version("null"))
    assert [v["vid"] for v in idx.versions("b", "k")] == ["null", "v1"]
    assert len(idx.versions("b", "k")) == 2


def test_older_null_write_does_not_replace_a_newer_one():
    idx = Index()
    idx.put("b", "k", version("null", lsn=30))
    assert idx.put("b", "k", version("null", lsn=5)) is False
    assert idx.versions("b", "k")[0]["lsn"] == 30


def test_get_hides_delete_marker_latest_reveals_it():
    idx = build({"k": [("v1", False), ("d1", True)]})
    assert idx.get("b", "k") is None
    assert idx.latest("b", "k")["dm"] is True
    assert idx.version("b", "k", "v1")["vid"] == "v1"


def test_remove_takes_one_version_and_the_key_with_the_last():
    idx = build({"k": [("v1", False), ("v2", False)]})
    assert idx.remove("b", "k", "v2", lsn=10**9)["vid"] == "v2"
    assert idx.get("b", "k")["vid"] == "v1"
    idx.remove("b", "k", "v1", lsn=10**9)
    assert idx.versions("b", "k") is None and not idx.has_keys("b")


def test_remove_ignores_a_version_newer_than_the_delete():
    idx = Index()
    idx.put("b", "k", version("null", lsn=50))
    assert idx.remove("b", "k", "null", lsn=40) is None
    assert idx.get("b", "k") is not None


def test_remove_unknown_version_is_a_no_op():
    idx = build({"k": [("v1", False)]})
    assert idx.remove("b", "k", "zz", lsn=10**9) is None
    assert idx.remove("b", "missing", "v1", lsn=10**9) is None


def test_a_key_with_only_a_delete_marker_keeps_the_bucket_non_empty():
    idx = build({"b": [("d", True)]})
    assert idx.has_keys("b")
    idx.remove("b", "b", "d", lsn=10**9)
    assert not idx.has_keys("b")


def names(page):
    return [name for name, _ in page[0]]


@pytest.mark.parametrize("prefix, delimiter, marker, expected", [
    ("", "", "", ["a", "c/1", "e"]),
    ("", "/", "", ["a", "c/", "e"]),
    ("c/", "", "", ["c/1"]),
    ("", "/", "c/", ["e"]),
    ("", "", "a", ["c/1", "e"]),
])
def test_list_page_hides_delete_marked_keys_and_prefixes(prefix, delimiter, marker, expected):
    idx = build({"a": [("v", False)], "b": [("v", False), ("d", True)], "c/1": [("v", False)],
                 "c/2": [("d", True)], "d/x": [("d", True)], "e": [("v", False)]})
    assert names(idx.list_page("b", prefix, delimiter, marker, 100)) == expected


def test_list_page_truncates_only_when_a_live_entry_follows():
    idx = build({"a": [("v", False)], "b": [("d", True)], "c": [("d", True)]})
    page, truncated = idx.list_page("b", "", "", "", 1)
    assert [n for n, _ in page] == ["a"] and truncated is False
    idx.put("b", "d", version())
    assert idx.list_page("b", "", "", "", 1)[1] is True


def test_list_page_entry_is_the_latest_versions_contents_element():
    idx = Index()
    idx.put("b", "k&", {**version("v1"), "etag": "old", "size": 1, "mtime": 1.0})
    idx.put("b", "k&", {**version("v2"), "etag": "new", "size": 22, "mtime": 1700000000.5, "sc": "GLACIER"})
    (entry,), _ = idx.list_page("b", "", "", "", 10)
    assert list(entry) == ["k&", "<Contents><Key>k&amp;</Key><LastModified>2023-11-14T22:13:20.500Z</LastModified>"
                                 "<ETag>&quot;new&quot;</ETag><Size>22</Size><StorageClass>GLACIER</StorageClass>"
                                 "</Contents>"]


def test_an_index_of_the_versions_only_layout_opens_with_its_list_columns(tmp_path):
    """A data dir checkpointed before the list columns existed: the table is rewritten when the index opens."""
    import sqlite3
    db = sqlite3.connect(tmp_path / "index.db")
    db.execute("CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, versions BLOB NOT NULL,"
               " PRIMARY KEY (bucket, key)) WITHOUT ROWID")
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
    old = [{"vid": "null", "lsn": 1, "etag": "e1", "size": 5, "mtime": 0.25, "loc": [[1, 2, 3]]}]
    gone = [{"vid": "v", "lsn": 2, "dm": True, "mtime": 0.0}]
    db.executemany("INSERT INTO objects VALUES (?, ?, ?)",
                   [("b", "live", index_table.encode(old)), ("b", "marked", index_table.encode(gone))])
    db.execute("INSERT INTO meta VALUES ('applied', x'01')")
    db.commit()
    db.close()
    idx = index_module.Index(tmp_path)
    (entry,), truncated = idx.list_page("b", "", "", "", 10)
    assert entry[0] == "live" and "<LastModified>1970-01-01T00:00:00.250Z</LastModified>" in entry[1]
    assert idx.versions("b", "live")[0]["loc"] == [(1, 2, 3)] and idx.latest("b", "marked")["dm"]
    assert idx.meta("applied") == b"\x01"
    idx.close()
    idx = index_module.Index(tmp_path)      # and opens again as it is
    assert [n for n, _ in idx.list_page("b", "", "", "", 10)[0]] == ["live"]
    idx.close()


def test_list_page_of_unknown_bucket_or_zero_max_keys_is_empty():
    idx = build({"k": [("v", False)]})
    assert idx.list_page("nope", "", "", "", 10) == ([], False)
    assert idx.list_page("b", "", "", "", 0) == ([], False)


def vnames(page):
    return [(n, v["vid"] if v else None, latest) for n, v, latest in page[0]]


def test_list_versions_page_shows_every_version_and_marker_in_order():
    idx = build({"a": [("a1", False), ("a2", False)], "b": [("b1", False), ("bd", True)]})
    page = idx.list_versions_page("b", "", "", "", "", 100)
    assert vnames(page) == [("a", "a2", True), ("a", "a1", False), ("b", "bd", True), ("b", "b1", False)]
    assert page[1] is False


def test_list_versions_page_truncates_inside_a_key_and_resumes_from_the_version_marker():
    idx = build({"a": [("a1", False), ("a2", False), ("a3", False)], "b": [("b1", False)]})
    first = idx.list_versions_page("b", "", "", "", "", 2)
    assert vnames(first) == [("a", "a3", True), ("a", "a2", False)] and first[1] is True
    rest = idx.list_versions_page("b", "", "", "a", "a2", 10)
    assert vnames(rest) == [("a", "a1", False), ("b", "b1", True)]


def test_list_versions_page_key_marker_alone_skips_the_whole_key():
    idx = build({"a": [("a1", False), ("a2", False)], "b": [("b1", False)]})
    assert vnames(idx.list_versions_page("b", "", "", "a", "", 10)) == [("b", "b1", True)]


def test_list_versions_page_unknown_version_marker_moves_to_the_next_key():
    idx = build({"a": [("a1", False)], "b": [("b1", False)]})
    assert vnames(idx.list_versions_page("b", "", "", "a", "gone", 10)) == [("b", "b1", True)]


def test_list_versions_page_rolls_up_prefixes_even_of_deleted_keys():
    idx = build({"d/x": [("d", True)], "d/y": [("v", False)], "top": [("t", False)]})
    page = idx.list_versions_page("b", "", "/", "", "", 10)
    assert vnames(page) == [("d/", None, False), ("top", "t", True)]


def test_list_versions_page_counts_prefixes_and_versions_toward_max_keys():
    idx = build({"d/x": [("v", False)], "k": [("k1", False), ("k2", False)]})
    page = idx.list_versions_page("b", "", "/", "", "", 2)
    assert vnames(page) == [("d/", None, False), ("k", "k2", True)] and page[1] is True


def test_list_versions_page_version_marker_inside_a_rolled_up_prefix_is_ignored():
    idx = build({"d/x": [("x1", False), ("x2", False)], "z": [("z1", False)]})
    page = idx.list_versions_page("b", "", "/", "d/x", "x2", 10)
    assert vnames(page) == [("z", "z1", True)]


def test_drop_bucket_forgets_every_version():
    idx = build({"a": [("v", False), ("d", True)]})
    idx.drop_bucket("b")
    assert not idx.has_keys("b") and idx.latest("b", "a") is None


def test_listing_merges_a_key_from_every_layer_in_order(tmp_path):
    idx = index_module.Index(tmp_path / "layers")
    idx.put("b", "a", version())
    idx.put("b", "d", version())
    idx.checkpoint({})                      # a, d in the table
    idx.put("b", "c", version())
    idx.freeze()                            # c frozen
    idx.put("b", "b", version())            # b active
    idx.remove("b", "d", "null", lsn=10**9)  # d hidden by a tombstone
    assert names(idx.list_page("b", "", "", "", 10)) == ["a", "b", "c"]
    idx.release_frozen(written=False)       # a failed checkpoint folds the layers back together
    assert names(idx.list_page("b", "", "", "", 10)) == ["a", "b", "c"]
    idx.close()


def test_dropped_bucket_hides_the_checkpointed_keys(tmp_path):
    idx = index_module.Index(tmp_path / "drop")
    idx.put("b", "old", version())
    idx.checkpoint({})
    idx.drop_bucket("b")
    idx.put("b", "new", version())
    assert idx.versions("b", "old") is None
    assert names(idx.list_page("b", "", "", "", 10)) == ["new"]
    idx.checkpoint({})
    assert names(idx.list_page("b", "", "", "", 10)) == ["new"]
    idx.close()


def test_stored_elements_of_another_list_format_are_rewritten_when_the_index_opens(tmp_path, monkeypatch):
    idx = index_module.Index(tmp_path)
    idx.put("b", "k", {**version(), "etag": "e", "size": 3, "mtime": 0.0})
    idx.checkpoint({})
    idx.close()
    monkeypatch.setattr(index_table, "LIST_FORMAT", b"next")
    monkeypatch.setattr(index_table, "element", lambda key, newest: f"<Contents>{key} {newest['size']}</Contents>")
    idx = index_module.Index(tmp_path)
    assert idx.list_page("b", "", "", "", 10)[0] == [("k", "<Contents>k 3</Contents>")]
    assert idx.meta("list_format") == b"next"
    idx.reset()                             # a rebuild keeps the format: the rows it writes are of this one
    assert idx.meta("list_format") == b"next"
    idx.close()
