"""router/ops_list.lazy_merge against a brute-force merge: shards with skewed key spreads, common prefixes
reported by several shards, keys with several versions, every page size (refills included)."""

from __future__ import annotations

import asyncio
import random

import pytest

from router.ops_list import lazy_merge
from router.ops_versions import _after_version


class FakeShard:
    """Answers list / list_versions requests from a sorted list of entries, like a shard does."""

    def __init__(self, entries: list) -> None:
        self.entries = entries
        self.calls = 0

    async def call(self, req: dict) -> dict:
        self.calls += 1
        if "vid_marker" in req:
            key, vid = req["key_marker"], req["vid_marker"]
            start = next((i + 1 for i, e in enumerate(self.entries)
                          if vid and e[0] == key and e[1] and e[1]["vid"] == vid), None)
            if start is None:
                start = next((i for i, e in enumerate(self.entries) if e[0] > key), len(self.entries))
        else:
            start = next((i for i, e in enumerate(self.entries) if e[0] > req["marker"]), len(self.entries))
        page = self.entries[start:start + req["max_keys"]]
        return {"items": page, "truncated": start + len(page) < len(self.entries)}


def shards_for(rng: random.Random, n_shards: int, versions: bool) -> tuple[list, list]:
    per: list[list] = [[] for _ in range(n_shards)]
    everything = []
    weights = [rng.random() ** 3 + 0.01 for _ in range(n_shards)]    # skewed: some shards hold most keys
    for i in range(rng.randrange(0, 400)):
        name = f"k{i:04d}"
        shard = rng.choices(range(n_shards), weights)[0]
        for v in range(rng.randrange(1, 4) if versions else 1):
            e = [name, {"vid": f"v{9 - v}"}]
            per[shard].append(e)
            everything.append(e)
    for j in range(rng.randrange(0, 30)):                               # common prefixes, on several shards
        cp = f"k{rng.randrange(400):04d}/"
        holders = rng.sample(range(n_shards), rng.randrange(1, n_shards + 1))
        for s in holders:
            if not any(e[0] == cp for e in per[s]):
                per[s].append([cp, None])
        if not any(e[0] == cp for e in everything):
            everything.append([cp, None])
    for p in per:
        p.sort(key=lambda e: e[0])          # stable: versions keep their newest-first order
    everything.sort(key=lambda e: e[0])
    return per, everything


@pytest.mark.parametrize("versions", [False, True])
def test_lazy_merge_matches_brute_force(versions):
    rng = random.Random(5 + versions)
    for _ in range(150):
        per, everything = shards_for(rng, rng.randrange(1, 5), versions)
        shards = [FakeShard(p) for p in per]
        limit = rng.choice([0, 1, 2, 5, 40, 100, 333, 1000])
        if versions:
            req = {"key_marker": "", "vid_marker": ""}
            resume = _after_version
        else:
            req = {"marker": ""}
            resume = lambda r, last: {**r, "marker": last[0]}      # noqa: E731
        out, truncated = asyncio.run(lazy_merge(shards, req, "max_keys", limit, resume))
        assert out == everything[:limit]
        assert truncated == (0 < limit < len(everything))      # max-keys=0 answers an empty, untruncated page


def test_a_refill_asks_only_for_what_the_page_still_lacks():
    """Shard A holds the first 1,000 keys, B the next 1,000: A's share (532) runs out first, and its refill asks
    for the 468 entries the page lacks, not another share."""
    a = FakeShard([[f"a{i:03d}", {}] for i in range(1000)])
    b = FakeShard([[f"z{i:03d}", {}] for i in range(1000)])
    asked = []
    for shard in (a, b):
        call = shard.call

        async def recording(req, call=call, shard=shard):
            asked.append((shard is a, req["max_keys"]))
            return await call(req)
        shard.call = recording
    out, truncated = asyncio.run(lazy_merge([a, b], {"marker": ""}, "max_keys", 1000,
                                            lambda r, last: {**r, "marker": last[0]}))
    assert [e[0] for e in out] == [f"a{i:03d}" for i in range(1000)] and truncated
    assert sorted(asked) == [(False, 532), (True, 468), (True, 532)]
