from collections import Counter

from router.ring import Ring


def test_keys_spread_within_ten_percent_across_shards_with_default_vnodes():
    for n in (2, 4, 8):
        ring = Ring(list(range(n)))
        counts = Counter(ring.shard_for("bucket", f"key-{i}") for i in range(200_000))
        mean = 200_000 / n
        assert set(counts) == set(range(n))
        assert all(abs(c - mean) / mean < 0.10 for c in counts.values()), counts


def test_adding_a_shard_moves_only_about_one_over_n_of_the_keys():
    before, after = Ring([0, 1, 2, 3]), Ring([0, 1, 2, 3, 4])
    keys = [f"k{i}" for i in range(100_000)]
    moved = [k for k in keys if before.shard_for("b", k) != after.shard_for("b", k)]
    assert 0.15 < len(moved) / len(keys) < 0.25
    # every key that moved went to the new shard: nothing reshuffles between old shards
    assert all(after.shard_for("b", k) == 4 for k in moved)


def test_placement_is_deterministic_and_depends_on_bucket_and_key():
    ring = Ring([0, 1, 2, 3])
    assert ring.shard_for("b", "k") == Ring([0, 1, 2, 3]).shard_for("b", "k")
    spread = {ring.shard_for(f"bucket{i}", "same-key") for i in range(100)}
    assert len(spread) == 4


def test_weights_shift_load_proportionally():
    ring = Ring({0: 1.0, 1: 3.0})
    counts = Counter(ring.shard_for("b", f"k{i}") for i in range(100_000))
    assert 0.2 < counts[0] / 100_000 < 0.3
