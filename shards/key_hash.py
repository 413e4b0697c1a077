"""The one hash of a key: xxh3_64 over ``bucket \\0 key`` (DESIGN §2). The router's ring places keys by it and a
shard's change generations (shards/generations.py) pick a key's slot from it, so both agree on what a key is."""

from __future__ import annotations

import xxhash

_hash = xxhash.xxh3_64_intdigest


def key_hash(bucket: str, key: str) -> int:
    return _hash(f"{bucket}\0{key}".encode("utf-8", "surrogatepass"))
