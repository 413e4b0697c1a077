"""What a handler gets: the parsed S3 call and the router's shared state."""

from __future__ import annotations

from dataclasses import dataclass

from shards.errors import S3Error

from .bucket_cache import BucketCache
from .read_cache import ReadCache
from .ring import Ring
from .shard_client import ShardClient


@dataclass(slots=True)
class Router:
    """State shared by every request in one router worker."""

    settings: object
    ring: Ring
    clients: list[ShardClient]
    cache: BucketCache
    credentials: dict[str, str]
    reads: ReadCache | None = None  # small objects' latest versions, kept while current (router/read_cache.py)

    def owner_of(self, bucket: str, key: str) -> ShardClient:
        return self.clients[self.ring.shard_for(bucket, key)]

    def home_of(self, bucket: str) -> ShardClient:
        return self.clients[self.ring.home_of(bucket)]


@dataclass(slots=True)
class Call:
    request: object  # the HTTP front's request (router/service.py lists what handlers may use)
    router: Router
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    access_key: str = ""
    body: object = None  # auth.Body, for calls that carry one
    op: str = "unknown"
    request_id: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def int_arg(self, name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                          ArgumentName=name, ArgumentValue=raw) from None
        if value < lo:
            raise S3Error("InvalidArgument", f"Argument {name} must be an integer between {lo} and 2147483647",
                          ArgumentName=name, ArgumentValue=raw)
        return value if hi is None else min(value, hi)
