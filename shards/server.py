"""A shard process: recover the log, then serve routers on a Unix socket until told to stop.

Started by the supervisor as ``python -m shards.server '<json settings>'``. The socket only appears once
recovery is complete, so a router that can connect to a shard knows it is recovered and serving.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys

import orjson

from wal.io_select import open_backend
from wal.log import Log
from wal.sync import policy_for

from . import roles
from .compaction import Compactor
from .connection import RouterConnection
from .generations import Generations, path_of as generations_path
from .ha import ShardHA
from .heap_trim import trim_heap_every
from .metrics import EngineMetrics, WalMetrics
from .protocol import PUSH_ACK_TIMEOUT
from .store import Store

log = logging.getLogger("cairn.shard")

DRAIN_SECONDS = 10.0  # longest a stopping shard waits for requests in flight


class Shard:
    def __init__(self, number: int, store: Store) -> None:
        self.number = number
        self.store = store
        self.routers: set[RouterConnection] = set()
        self.ha = None  # shards/ha.py: role, log shipping, which ops this shard refuses
        self.stop = asyncio.Event()  # set to end the process (the supervisor starts it again)
        self.draining = False  # stopping: new requests get 503, those in flight finish (drain())

    async def broadcast(self, name: str, cfg: dict | None) -> None:
        """Push a bucket's new config to every router and wait until each has applied it (or timed out), so
        a client that made the change can use it through any router the moment its call returns."""
        acks = [conn.push(name, cfg) for conn in list(self.routers)]
        if acks:
            await asyncio.wait(acks, timeout=PUSH_ACK_TIMEOUT)

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Refuse new requests (ServiceUnavailable) and wait, at most ``grace`` seconds, for the ones in flight
        (uploads, commits, streamed GETs) to finish, so the log closes under nobody and a stop is quiet."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while any(conn.busy() for conn in self.routers) and loop.time() < deadline:
            await asyncio.sleep(0.01)


def socket_path(data_dir: str, number: int) -> str:
    return os.path.join(data_dir, f"shard-{number}", "shard.sock")


async def serve(settings: dict) -> None:
    number = settings["number"]
    home = os.path.join(settings["data_dir"], f"shard-{number}")
    os.makedirs(home, exist_ok=True)
    overrides = {k: settings[k] for k in ("interval_ms", "threshold_bytes") if settings.get(k)}
    overrides["group_commit"] = settings.get("group_commit", "on") != "off"
    policy = policy_for(settings["preset"], **overrides)
    if settings.get("sync"):
        policy = policy_for(settings["preset"], mode=settings["sync"], **overrides)
    role = roles.prepare(home, settings)  # before the log opens: a demoted shard drops its unreplicated tail
    io, why = open_backend(settings.get("io_backend") or "auto")
    log.info("shard %d io backend %s (%s)", number, io.name, why)
    metrics = WalMetrics(number)
    metrics.backend(io.name)
    wal = Log(os.path.join(home, "wal"), sync=policy, observer=metrics,
              segment_size=settings.get("segment_size") or 64 << 20, io=io,
              drop_synced=not settings.get("keep_big_writes_cached"))
    store = Store(wal, os.path.join(home, "index"), checkpoint_records=settings.get("checkpoint_records") or 20_000,
                  checkpoint_seconds=settings.get("checkpoint_seconds") or 5.0)
    store.recover(full=settings.get("recovery") == "full")
    store.metrics = EngineMetrics(number)
    metrics.recovered(wal.report)
    for bad in wal.report.corrupt_ranges:
        log.error("shard %d: corrupt log range segment %d bytes %d-%d (%s): objects stored there answer "
                  "InternalError; run cairn check for a full report", number, *bad)
    shard = Shard(number, store)
    shard.ha = ShardHA(shard, home, role, settings)
    store.compactor = Compactor(store, live_ratio=settings.get("compact_live_ratio") or 0.5,
                                mib_s=settings.get("compact_mib_s") or 32.0,
                                may_relocate=lambda: shard.ha.role.is_primary and not shard.ha.fenced)
    await shard.ha.start()
    run_dir = os.environ.get("CAIRN_RUN_DIR")
    if run_dir:  # before the socket accepts anyone: routers may keep replies only while these say they are current
        store.index.generations = Generations(generations_path(run_dir, number))
    path = socket_path(settings["data_dir"], number)
    if os.path.exists(path):
        os.unlink(path)
    loop = asyncio.get_running_loop()
    server = await loop.create_unix_server(lambda: RouterConnection(shard), path=path, backlog=128)
    log.info("shard %d serving on %s (sync=%s)", number, path, policy.mode)
    for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal (group + supervisor) changes nothing
        loop.add_signal_handler(sig, shard.stop.set)
    trimming = asyncio.ensure_future(trim_heap_every(settings.get("heap_trim_seconds", 5.0)))
    await shard.stop.wait()
    trimming.cancel()
    server.close()
    await shard.drain()
    await shard.ha.stop()
    await store.close()


def main() -> None:
    settings = orjson.loads(sys.argv[1])
    try:
        import setproctitle
        setproctitle.setproctitle(f"cairn: shard {settings['number']}")
    except ImportError:  # the title is a convenience for `ps`, never a reason not to serve
        pass
    logging.basicConfig(level=settings.get("log_level", "INFO"),
                        format=f"%(asctime)s shard-{settings['number']} %(levelname)s %(message)s")
    import uvloop
    if os.environ.get("CAIRN_PROFILE_DIR"):
        from .profiling import maybe_profile
        maybe_profile(f"shard {settings['number']}")
    if os.environ.get("CAIRN_TRACEMALLOC_DIR"):
        from .profiling import maybe_trace_memory
        maybe_trace_memory(f"shard {settings['number']}")
    try:
        uvloop.run(serve(settings))
    except OSError as exc:
        # storage that fails under the shard (read-only, an fsync error, at start or at the final sync): one clear
        # line, not a traceback per restart; the supervisor restarts the shard
        cause = f"{exc} ({exc.__cause__})" if exc.__cause__ else str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            log.error("shard %d cannot write its data directory (%s); the supervisor retries", settings["number"],
                      cause)
        else:
            log.error("shard %d stopped: its storage failed (%s); it recovers from its log when restarted",
                      settings["number"], cause)
        sys.exit(1)


if __name__ == "__main__":
    main()
