"""``cairn serve``'s parent process: binds the port, starts one process per shard and R router workers, and
restarts any that dies (a restarted shard recovers from its log before it listens again).

Sanic's own worker manager (DESIGN §1) was the first choice, but as of sanic 25.12 it only marks a crashed
managed process FAILED and never restarts it, so the supervision loop is ours; each router worker runs its own
HTTP front (router/front/ by default, sanic with --http-front sanic).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import orjson

from .config import DEFAULT_SECRET_KEY, Settings

log = logging.getLogger("cairn.supervisor")

RESTART_BACKOFF = (0.05, 0.2, 0.5, 1.0, 2.0)
# what a shard needs to play its HA role (shards/ha.py); the secret authenticates standbys
HA_SHARD_SETTINGS = ("host", "role", "primary", "replication", "sync_timeout_ms", "replication_port", "advertise",
                     "etcd", "secret_key")
# how a shard's engine checkpoints its index and compacts its log (shards/store.py, shards/compaction.py)
ENGINE_SHARD_SETTINGS = ("checkpoint_records", "checkpoint_seconds", "compact_live_ratio", "compact_mib_s",
                         "heap_trim_seconds", "keep_big_writes_cached")


def shard_argv(settings: Settings, number: int) -> list[str]:
    """The command line of shard ``number``: ``python -m shards.server '<json: what it needs of the settings>'``."""
    shard = {"number": number, "data_dir": settings.data_dir, "preset": settings.preset, "sync": settings.sync,
             "interval_ms": settings.interval_ms, "threshold_bytes": settings.threshold_bytes,
             "recovery": settings.recovery, "log_level": settings.log_level,
             "io_backend": settings.io_backend, "segment_size": settings.segment_size,
             "group_commit": settings.group_commit,
             **{k: getattr(settings, k) for k in ENGINE_SHARD_SETTINGS},
             **{k: getattr(settings, k) for k in HA_SHARD_SETTINGS}}
    return [sys.executable, "-m", "shards.server", orjson.dumps(shard).decode()]


class Child:
    def __init__(self, name: str, argv: list[str], pass_fds=(), on_restart: list[str] = ()) -> None:
        self.name = name
        self.argv = argv
        self.on_restart = list(on_restart)  # arguments added when the child is started again
        self.starts = 0
        self.pass_fds = tuple(pass_fds)
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.started = 0.0

    def start(self, env: dict) -> None:
        argv = self.argv + self.on_restart if self.starts else self.argv
        self.proc = subprocess.Popen(argv, env=env, pass_fds=self.pass_fds)
        self.starts += 1
        self.started = time.monotonic()

    def backoff(self) -> float:
        # a child that ran a while before dying is restarted at once; one that keeps dying, more slowly
        if time.monotonic() - self.started > 10:
            self.restarts = 0
        delay = RESTART_BACKOFF[min(self.restarts, len(RESTART_BACKOFF) - 1)]
        self.restarts += 1
        return delay


def bind(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per router worker, all on one port (SO_REUSEPORT): the kernel spreads new connections
    over them. With one socket shared by every worker, whichever worker woke first accepted everything pending:
    a client opening 64 connections at once got all 64 on one worker in a bench cell, the other idle.

    The port is first bound without SO_REUSEPORT, so an address already in use (another cairn included, which
    could otherwise join the group) is refused as before."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(1024)
            sock.set_inheritable(True)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def banner(settings: Settings, port: int) -> str:
    scheme = "https" if settings.tls_cert else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    secret = settings.secret_key if settings.secret_key == DEFAULT_SECRET_KEY else "(as configured)"
    return (f"cairn: listening on {scheme}://{host}:{port}  shards={settings.shard_count} "
            f"routers={settings.router_count} preset={settings.preset} data={settings.data_dir}\n"
            f"cairn: access key {settings.access_key}  secret key {secret}\n")


def raise_fd_limit() -> None:
    # every client connection is a descriptor in a router; the common soft default of 1024 would cap a
    # router at ~1000 clients, so take the hard limit (children inherit it)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def unwritable(data_dir: str) -> str | None:
    """Why cairn could not write its data directory, or None. Checked before anything starts: a shard on a
    read-only directory would only fail its recovery and be restarted over and over."""
    dirs = [data_dir] + [os.path.join(data_dir, name, sub) for name in sorted(os.listdir(data_dir))
                         if name.startswith("shard-") for sub in ("", "wal")]
    for d in filter(os.path.isdir, dirs):
        probe = os.path.join(d, f".cairn-write-probe-{os.getpid()}")
        try:
            os.close(os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
            os.unlink(probe)
        except OSError as exc:
            return f"{d}: {exc.strerror}"
        if d.endswith("/wal"):
            for name in sorted(os.listdir(d)):
                try:
                    os.close(os.open(os.path.join(d, name), os.O_WRONLY))
                except IsADirectoryError:
                    continue
                except OSError as exc:
                    return f"{os.path.join(d, name)}: {exc.strerror}"
    return None


def make_metrics_dir() -> str:
    """The processes' Prometheus files (multiprocess mode) and the router workers' readiness marks
    (router/service.py; CAIRN_RUN_DIR): run-time state, kept in memory (/dev/shm) and out of
    the data directory, so a data directory that fills up or turns read-only cannot break metrics (an mmap'd
    file on a full file system is a SIGBUS). Directories left by supervisors that no longer run are removed."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    for name in os.listdir(base):
        if name.startswith("cairn-metrics-"):
            try:
                os.kill(int(name.split("-")[2]), 0)
            except ProcessLookupError:
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            except (ValueError, IndexError, PermissionError):
                pass
    return tempfile.mkdtemp(prefix=f"cairn-metrics-{os.getpid()}-", dir=base)


def serve(settings: Settings) -> int:
    raise_fd_limit()
    try:
        import setproctitle
        setproctitle.setproctitle("cairn: supervisor")
    except ImportError:
        pass
    settings.data_dir = os.path.abspath(settings.data_dir)
    try:
        os.makedirs(settings.data_dir, exist_ok=True)
        why = unwritable(settings.data_dir)
    except OSError as exc:
        why = f"{settings.data_dir}: {exc.strerror}"
    if why is not None:
        sys.stderr.write(f"cairn: refusing to start: the data directory is not writable ({why}). Make it writable "
                         "(remount read-write, fix its permissions or ownership) and start again.\n")
        return 1
    try:
        socks = bind(settings.host, settings.port, settings.router_count)
    except OSError as exc:
        sys.stderr.write(f"cairn: refusing to start: cannot listen on {settings.host}:{settings.port} "
                         f"({exc.strerror}). Stop what uses that address or pick another with --host/--port.\n")
        return 1
    metrics_dir = make_metrics_dir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "CAIRN_RUN_DIR": metrics_dir}
    env.setdefault("PYTHONPATH", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    port = socks[0].getsockname()[1]
    settings.advertise = settings.advertise or f"{settings.host}:{port}"
    blob = orjson.dumps(dataclasses.asdict(settings)).decode()
    children = []
    for i in range(settings.shard_count):
        children.append(Child(f"shard {i}", shard_argv(settings, i)))
    for i in range(settings.router_count):
        fd = socks[i].fileno()
        children.append(Child(f"router {i}", [sys.executable, "-m", "router.worker", blob, str(fd), str(i)],
                              pass_fds=[fd], on_restart=["restarted"]))
    for c in children:
        c.start(env)
    sys.stdout.write(banner(settings, port))
    sys.stdout.flush()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    due: dict[Child, float] = {}
    while not stopping:
        now = time.monotonic()
        for c in children:
            if c in due:
                if now >= due[c]:
                    del due[c]
                    log.warning("restarting %s", c.name)
                    c.start(env)
            elif c.proc.poll() is not None:
                log.warning("%s exited with %s", c.name, c.proc.returncode)
                due[c] = now + c.backoff()
        time.sleep(0.05)
    # routers first, so no request is in flight when the shards make their final sync
    for group in (children[settings.shard_count:], children[:settings.shard_count]):
        for c in group:
            if c.proc.poll() is None:
                c.proc.terminate()
        deadline = time.monotonic() + 10
        for c in group:
            try:
                c.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
