"""Settings for ``cairn serve``: defaults, then conf/cairn.toml (or --config FILE), then CAIRN_<NAME> env vars,
then command-line flags — each later source overrides the earlier ones."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field

DEFAULT_ACCESS_KEY = "cairn"
DEFAULT_SECRET_KEY = "cairn-dev-secret"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 9000
    data_dir: str = "./data"
    shards: int = 0  # 0 = one per core
    routers: int = 0  # 0 = one per core: a router process is the ceiling for small requests (docs/PERFORMANCE.md)
    preset: str = "balanced"
    sync: str = ""  # overrides the preset's sync strategy: none, periodic, threshold, always
    interval_ms: int = 0
    threshold_bytes: int = 0
    recovery: str = "light"
    io_backend: str = "auto"  # auto (io_uring, else thread pool), io_uring, threadpool
    group_commit: str = "on"  # sync always: concurrent commits share one fsync (on) or each waits for its own (off)
    segment_size: int = 64 << 20  # bytes per WAL segment file (pre-zeroed at this size)
    checkpoint_records: int = 20_000  # index checkpoint after this many log records (bounds a restart's replay)
    checkpoint_seconds: float = 5.0  # ...or this long after the first change since the last one
    compact_live_ratio: float = 0.5  # a sealed segment whose live bytes fall under this share is rewritten
    compact_mib_s: float = 32.0  # compaction's I/O budget (MiB/s of copying), so it never starves requests
    keep_big_writes_cached: bool = False  # big object data stays in the page cache after its fsync (wal/log.py)
    heap_trim_seconds: float = 5.0  # a shard hands freed heap pages back to the kernel this often (0: never)
    read_cache_mib: float = 16.0  # per router worker: small objects answered again while current (0: off)
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = DEFAULT_SECRET_KEY
    region: str = "us-east-1"
    domains: list[str] = field(default_factory=lambda: ["localhost", "s3.localhost"])
    tls_cert: str = ""
    tls_key: str = ""
    log_level: str = "INFO"
    request_timeout: float = 30.0  # seconds to send the request head, and the longest pause inside a body
    keep_alive_timeout: float = 75.0  # idle keep-alive connections are closed after this
    http_front: str = "raw"  # the router's HTTP/1.1 server: raw (router/front/, httptools on uvloop) or sanic
    config: str = ""
    # High availability (docs/HA.md)
    role: str = "primary"  # primary or standby; only seeds a fresh data dir, the role then lives in DATA/shard-N
    primary: str = ""  # a standby's primary: HOST:PORT of its S3 endpoint
    replication: str = "async"  # async: ack after the local commit; sync: also after the standby has the record
    sync_timeout_ms: int = 1000  # sync mode: how long a write waits for the standby before going on without it
    standby_reads: bool = False  # a standby serves reads (possibly stale); writes are always refused
    replication_port: int = 0  # shard i ships its log on this port + i (0: any free port)
    advertise: str = ""  # HOST:PORT other nodes reach this node's S3 endpoint at (default: host:port)
    etcd: list[str] = field(default_factory=list)  # etcd endpoints (http://HOST:PORT): automatic failover
    lease_ttl: int = 5  # seconds: the primary's etcd lease; a standby takes over this long after it stops
    cluster: str = "cairn"  # etcd key prefix naming this primary/standby pair

    @property
    def shard_count(self) -> int:
        return self.shards or os.cpu_count() or 1

    @property
    def router_count(self) -> int:
        return self.routers or os.cpu_count() or 1


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
PRESETS = ("performance", "balanced", "durable")


def _coerce(name: str, value):
    kind = type(getattr(Settings(), name))
    if kind is bool:
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if kind is list:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
    return kind(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        if f.default is False:  # a switch: --standby-reads
            parser.add_argument(flag, dest=name, action="store_const", const=True, default=None,
                                help=f"(env CAIRN_{name.upper()})")
            continue
        parser.add_argument(flag, dest=name, default=None, help=f"(env CAIRN_{name.upper()})")


def load(args: argparse.Namespace | None = None, environ=os.environ) -> Settings:
    values: dict = {}
    config = (getattr(args, "config", None) if args else None) or environ.get("CAIRN_CONFIG") or ""
    if not config and os.path.exists("conf/cairn.toml"):
        config = "conf/cairn.toml"
    if config:
        with open(config, "rb") as f:
            table = tomllib.load(f)
        for k, v in table.get("cairn", table).items():
            k = k.replace("-", "_")
            if k not in FIELDS:
                raise SystemExit(f"{config}: unknown setting {k!r}")
            values[k] = _coerce(k, v)
    for name in FIELDS:
        env = environ.get(f"CAIRN_{name.upper()}")
        if env is not None:
            values[name] = _coerce(name, env)
    if args is not None:
        for name in FIELDS:
            v = getattr(args, name, None)
            if v is not None:
                values[name] = _coerce(name, v)
    values["config"] = config
    settings = Settings(**values)
    validate(settings)
    return settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate(s: Settings) -> None:
    if s.preset not in PRESETS:
        raise SystemExit(f"--preset must be one of {', '.join(PRESETS)}")
    if s.sync and s.sync not in ("none", "periodic", "threshold", "always"):
        raise SystemExit("--sync must be one of none, periodic, threshold, always")
    if s.recovery not in ("light", "full"):
        raise SystemExit("--recovery must be light or full")
    if s.io_backend not in ("auto", "io_uring", "threadpool"):
        raise SystemExit("--io-backend must be auto, io_uring or threadpool")
    if s.group_commit not in ("on", "off"):
        raise SystemExit("--group-commit must be on or off")
    if s.segment_size < 64 << 10:
        raise SystemExit("--segment-size must be at least 65536 bytes")
    if (s.access_key, s.secret_key) == (DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY) and not is_loopback(s.host):
        raise SystemExit(f"refusing to listen on {s.host} with the default credentials: set --access-key and "
                         "--secret-key (or CAIRN_ACCESS_KEY / CAIRN_SECRET_KEY) first")
    if s.role not in ("primary", "standby"):
        raise SystemExit("--role must be primary or standby")
    if s.role == "standby" and not s.primary:
        raise SystemExit("--role standby needs --primary HOST:PORT (the primary's S3 endpoint)")
    if s.replication not in ("async", "sync"):
        raise SystemExit("--replication must be async or sync")
    if s.http_front not in ("raw", "sanic"):
        raise SystemExit("--http-front must be raw or sanic")
    if bool(s.tls_cert) != bool(s.tls_key):
        raise SystemExit("TLS needs both --tls-cert and --tls-key")
