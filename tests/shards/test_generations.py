"""A shard's change generations (shards/generations.py) as a router worker sees them through shared memory."""

from shards.generations import Generations, Watcher, path_of, slot_of
from shards.index import Index


def entry(lsn, etag="e"):
    return {"vid": "null", "lsn": lsn, "etag": etag, "size": 1, "mtime": 0.0, "loc": []}


def test_a_change_to_a_key_retires_what_a_watcher_kept_of_it_and_nothing_of_keys_in_other_slots(tmp_path):
    path = path_of(str(tmp_path), 0)
    gens = Generations(path)
    watcher = Watcher(path)
    kept = {k: gens.of("b", k) for k in ("a", "b", "c")}
    assert all(watcher.current(slot_of("b", k), kept[k]) for k in kept)
    gens.bump("b", "a")
    assert not watcher.current(slot_of("b", "a"), kept["a"])
    for k in ("b", "c"):
        assert watcher.current(slot_of("b", k), kept[k]) == (slot_of("b", k) != slot_of("b", "a"))


def test_a_new_shard_process_on_the_same_file_retires_everything_kept_from_the_old_one(tmp_path):
    path = path_of(str(tmp_path), 3)
    old = Generations(path)
    kept = old.of("b", "k")
    watcher = Watcher(path)
    assert watcher.current(slot_of("b", "k"), kept)
    Generations(path)  # the restarted shard opens the same file
    assert not watcher.current(slot_of("b", "k"), kept)
    assert old.of("b", "k")[0] == kept[0] + 1


def test_a_watcher_before_the_shard_made_its_file_trusts_nothing(tmp_path):
    assert not Watcher(path_of(str(tmp_path), 0)).current(1, [0, 0])


def test_every_index_change_moves_the_generations(tmp_path):
    index = Index(tmp_path / "index")
    index.generations = gens = Generations(path_of(str(tmp_path), 0))
    before = gens.of("b", "k")
    index.put("b", "k", entry(1))
    after_put = gens.of("b", "k")
    assert after_put[1] != before[1] and after_put[0] == before[0]
    index.replace("b", "k", "null", entry(1, "changed"))
    after_replace = gens.of("b", "k")
    assert after_replace[1] != after_put[1]
    index.remove("b", "k", "null", 2)
    assert gens.of("b", "k")[1] != after_replace[1]
    index.drop_bucket("b")
    assert gens.of("b", "k")[0] == before[0] + 1
    index.reset()
    assert gens.of("b", "k")[0] == before[0] + 2
    index.close()
