"""The router's copy of bucket configurations, filled from each home shard's snapshot on connect and kept
current by the shards' pushes (DESIGN §2)."""

from __future__ import annotations

from shards.errors import S3Error


class BucketCache:
    def __init__(self, shard_count: int) -> None:
        self.configs: dict[str, dict] = {}
        self._home: dict[str, int] = {}
        self._loaded: set[int] = set()
        self.shard_count = shard_count

    def load(self, shard: int, configs: list[dict]) -> None:
        for name in [n for n, s in self._home.items() if s == shard]:
            del self.configs[name]
            del self._home[name]
        for cfg in configs:
            self.configs[cfg["name"]] = cfg
            self._home[cfg["name"]] = shard
        self._loaded.add(shard)

    def update(self, shard: int, name: str, cfg: dict | None) -> None:
        if cfg is None:
            self.configs.pop(name, None)
            self._home.pop(name, None)
        else:
            self.configs[name] = cfg
            self._home[name] = shard

    @property
    def complete(self) -> bool:
        return len(self._loaded) == self.shard_count

    def require(self, name: str) -> dict:
        cfg = self.configs.get(name)
        if cfg is None:
            if not self.complete:
                # A home shard we have not heard from yet may hold it: don't claim it is missing.
                raise S3Error("ServiceUnavailable", "Bucket configuration is still loading; retry.")
            raise S3Error("NoSuchBucket", BucketName=name)
        return cfg
