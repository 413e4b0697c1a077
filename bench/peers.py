#!/usr/bin/env python3
"""Cairn against the S3 peers that run on this machine, side by side: the issue-5 table in one command.

    make bench                      # = python3 bench/peers.py --reps 3 --out bench-results.md
    python3 bench/peers.py --peers moto,s3rver,rgw,sanic --reps 3 --concurrency 16,64 --duration 4 --out t.md
    python3 bench/peers.py --rgw http://127.0.0.1:8080,AK,SK      # an RGW (or any S3) that is already running

Starts Cairn (default preset; a second one with the durable preset for put-4k-durable; 1-shard and 2-router
variants for the scaling rows) and whichever peers are available: moto and s3rver (start scripts of
../shared/bench/peers, or `moto_server` on PATH), Ceph RGW (../shared/bench/peers/ceph-rgw.sh, or --rgw) and a
one-process sanic hello-world (the ceiling a sanic front can reach). Every (workload, concurrency) cell runs on
each server back to back, the order rotated per repetition, and the table shows medians over repetitions.

Load generator: wrk driven by bench/wrk_s3.lua with presigned SigV4 URLs made here (the server still verifies a
signature per request; the client spends a few µs a request), found at $CAIRN_BENCH_WRK, /tmp/s3bench-tools/wrk
(the shared build that handles HEAD replies) or `wrk` on PATH; without one, and for multipart PUTs, an asyncio
raw-socket client in this process. The client's CPU is shown for every cell (100% = one core: client-bound).

Cairn's cost per request: CPU-µs of its `cairn: router N` and `cairn: shard N` processes (/proc/PID/stat
utime+stime over the cell, divided by the requests completed), and for the 64 MiB rows the peak router+shard RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("CAIRN_BENCH_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "bench"))
LUA = os.path.join(HERE, "wrk_s3.lua")
AK, SK = "bench-access", "bench-secret-key"
REGION = "us-east-1"
BUCKET = "cairnbench"

S3_WORKLOADS = ["put-4k", "put-4k-durable", "get-4k", "head", "list-1000", "put-1m", "get-1m", "put-64m",
                "get-64m", "mixed"]
SIZE = {"put-4k": 4096, "put-4k-durable": 4096, "get-4k": 4096, "head": 0, "list-1000": 0, "put-1m": 1 << 20,
        "get-1m": 1 << 20, "put-64m": 64 << 20, "get-64m": 64 << 20, "mixed": 4096, "hello": 0}
BY_BYTES = {"put-1m", "get-1m", "put-64m", "get-64m"}       # reported in MB/s (10^6 B)
PART = 8 << 20
N_1M, N_64M, N_LIST = 100, 4, 10000
# PUT keys signed in advance per second of a cell (wrk stops when it runs out; the cell is then flagged)
PUT_KEYS_PER_S = {"put-4k": 12000, "put-4k-durable": 12000, "put-1m": 1500, "mixed": 5000}

# issue 5 targets: workload -> [(peer, minimum ratio)], plus the sanic-ceiling share for get-4k/head
TARGETS = {
    "put-4k": [("rgw", 3.0), ("s3rver", 1.5)],
    "put-4k-durable": [("rgw", 2.0)],
    "get-4k": [("rgw", 3.0), ("sanic", 0.4)],
    "head": [("rgw", 3.0), ("sanic", 0.4)],
    "list-1000": [("rgw", 2.0)],
    "put-1m": [("rgw", 1.5)],
    "get-1m": [("rgw", 1.2)],
    "put-64m": [("rgw", 1.2)],
    "get-64m": [("rgw", 1.2)],
    "mixed": [("rgw", 3.0)],
}
CLK = os.sysconf("SC_CLK_TCK")


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ SigV4 ----
def _enc(s: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(s, safe=safe)


class Signer:
    """Presigned SigV4 (query form, UNSIGNED-PAYLOAD, only `host` signed) for path-style S3 requests."""

    def __init__(self, access_key: str, secret_key: str, host: str, region: str = REGION) -> None:
        self.ak, self.sk, self.host, self.region = access_key, secret_key, host, region
        self._keys: dict[str, bytes] = {}

    def _key(self, date: str) -> bytes:
        key = self._keys.get(date)
        if key is None:
            key = ("AWS4" + self.sk).encode()
            for part in (date, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys[date] = key
        return key

    def sign_all(self, method: str, paths, params=()) -> list[str]:
        """Presigned targets ('path?query') for many paths sharing one timestamp and query."""
        amz = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        scope = f"{amz[:8]}/{self.region}/s3/aws4_request"
        query = sorted([(_enc(k), _enc(v)) for k, v in params] + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", _enc(f"{self.ak}/{scope}")),
            ("X-Amz-Date", amz), ("X-Amz-Expires", "3600"), ("X-Amz-SignedHeaders", "host")])
        canonical_query = "&".join(f"{k}={v}" for k, v in query)
        tail = f"\n{canonical_query}\nhost:{self.host}\n\nhost\nUNSIGNED-PAYLOAD".encode()
        head = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n".encode()
        key, sha = self._key(amz[:8]), hashlib.sha256
        out = []
        for path in paths:
            uri = _enc(path, "/-_.~")
            digest = sha(f"{method}\n{uri}".encode() + tail).hexdigest().encode()
            out.append(f"{uri}?{canonical_query}&X-Amz-Signature={hmac.new(key, head + digest, sha).hexdigest()}")
        return out

    def sign(self, method: str, path: str, params=()) -> str:
        return self.sign_all(method, [path], params)[0]


# ------------------------------------------------------------------------------------------ HTTP client ----
class Http:
    """A tiny keep-alive HTTP/1.1 client over asyncio streams: fixtures, cleanup, multipart and the fallback load."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list = []

    async def _open(self):
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    def close(self) -> None:
        for _, w in self.idle:
            w.close()
        self.idle.clear()

    async def call(self, method: str, target: str, body=b"", headers=None, count_only=False, progress=None,
                   retries: int = 0):
        """-> (status, lower-cased headers, body bytes or byte count)."""
        attempt = 0
        while True:
            fresh = not self.idle
            reader, writer = self.idle.pop() if self.idle else await self._open()
            try:
                status, hdrs, data, keep = await self._exchange(reader, writer, method, target, body, headers or {},
                                                               count_only, progress)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                writer.close()
                if fresh and attempt >= retries:
                    raise
                attempt += fresh        # a pooled connection the server had closed: try again on a new one
                continue
            except BaseException:
                writer.close()
                raise
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status, hdrs, data

    async def _exchange(self, reader, writer, method, target, body, headers, count_only, progress):
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if len(body) <= 1 << 16:
            writer.write(head + bytes(body))
        else:
            writer.write(head)
            view = memoryview(body)
            for i in range(0, len(view), 1 << 20):
                chunk = view[i:i + (1 << 20)]
                writer.write(chunk)
                await writer.drain()
                if progress:
                    progress(len(chunk))
        raw = await reader.readuntil(b"\r\n\r\n")
        first, *rest = raw.decode("latin-1").split("\r\n")
        version, status = first.split(" ", 2)[:2]
        status = int(status)
        hdrs = {}
        for line in rest:
            if line:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
        conn = hdrs.get("connection", "").lower()
        keep = conn != "close" and (version == "HTTP/1.1" or conn == "keep-alive")
        if method == "HEAD" or status in (204, 304) or status < 200:
            return status, hdrs, (0 if count_only else b""), keep
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            if count_only:
                left = n
                while left:
                    got = await reader.read(min(left, 1 << 20))
                    if not got:
                        raise asyncio.IncompleteReadError(b"", left)
                    left -= len(got)
                return status, hdrs, n, keep
            return status, hdrs, await reader.readexactly(n), keep
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(parts)
            return status, hdrs, (len(data) if count_only else data), keep
        data = await reader.read()              # ends with the connection
        return status, hdrs, (len(data) if count_only else data), False


def body_bytes(size: int) -> bytes:
    block = hashlib.shake_256(b"cairn-bench").digest(1 << 16)
    return (block * (size // len(block) + 1))[:size]


# -------------------------------------------------------------------------------------------- processes ----
def proc_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def proc_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(ppid: int) -> dict[int, str]:
    """pid -> command line of the direct children of ppid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) != ppid:
                    continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                out[int(d)] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
    return out


def host_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 120, want_ok: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            if not want_ok:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s")


# ------------------------------------------------------------------------------------------------ peers ----
class Peer:
    kind = "s3"           # "s3" or "hello"
    label = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = ""
        self.ak, self.sk = AK, SK
        self.proc = None
        self.extra_pids: list[int] = []

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port

    def runs(self, workload: str, conc: int) -> bool:
        if self.kind == "hello":
            return workload == "hello"
        return workload in S3_WORKLOADS and workload != "put-4k-durable"

    def groups(self) -> dict[str, list[int]]:
        """pid groups to meter; 'server' is all of them."""
        pids = ([self.proc.pid] if self.proc else []) + self.extra_pids
        return {"server": pids}

    def start(self, workdir: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        # Cairn: only the supervisor, which stops its children (routers first)
        pids = ([self.proc.pid] if self.proc else []) + self.extra_pids
        for pid in pids:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        if self.proc:
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class CairnPeer(Peer):
    def __init__(self, name: str, preset: str = "balanced", shards: int = 0, routers: int = 0,
                 only: set | None = None, concs: set | None = None, root: str = ROOT, extra: tuple = ()) -> None:
        super().__init__(name)
        self.preset, self.shards, self.routers, self.root, self.extra = preset, shards, routers, root, list(extra)
        self.only, self.concs = only, concs
        n, r = shards or os.cpu_count(), routers or 1
        self.label = f"Cairn ({preset}, {n} shard{'s' * (n > 1)}, {r} router{'s' * (r > 1)})"

    def runs(self, workload: str, conc: int) -> bool:
        if self.only is not None:
            return workload in self.only and (self.concs is None or conc in self.concs)
        return workload in S3_WORKLOADS and workload != "put-4k-durable"

    def start(self, workdir: str) -> None:
        port = free_port()
        data = os.path.join(workdir, self.name)
        cmd = [sys.executable, "-m", "router.cli", "serve", "--port", str(port), "--data-dir", data, "--preset",
               self.preset, "--access-key", AK, "--secret-key", SK, "--log-level", "WARNING"]
        if self.shards:
            cmd += ["--shards", str(self.shards)]
        if self.routers:
            cmd += ["--routers", str(self.routers)]
        cmd += self.extra
        logf = open(os.path.join(workdir, self.name + ".log"), "w")
        env = {**os.environ, "PYTHONPATH": self.root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(cmd, cwd=self.root, stdout=logf, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/_cairn/ready", 120, want_ok=True)

    def groups(self) -> dict[str, list[int]]:
        g = {"router": [], "shard": []}
        for pid, cmd in children_of(self.proc.pid).items():
            for role in g:
                if cmd.startswith(f"cairn: {role}"):
                    g[role].append(pid)
        g["server"] = g["router"] + g["shard"]
        return g


class ScriptPeer(Peer):
    """moto / s3rver from the shared start scripts (moto also from `moto_server` on PATH)."""

    SCRIPTS = {"moto": ("moto.sh", "bench", "bench"), "s3rver": ("s3rver.sh", "S3RVER", "S3RVER")}

    def __init__(self, name: str) -> None:
        super().__init__(name)
        script, self.ak, self.sk = self.SCRIPTS[name]
        self.script = os.path.join(SHARED, "peers", script)
        self.label = name

    def command(self, port: int, data: str) -> list[str] | None:
        venv = os.environ.get("PEERS_VENV", "/tmp/peers-venv")
        npm = os.environ.get("PEERS_NPM", "/tmp/peers-npm")
        if self.name == "moto":
            if os.path.exists(self.script) and os.access(f"{venv}/bin/python", os.X_OK):
                return [self.script, str(port), data]
            if shutil.which("moto_server"):
                return [shutil.which("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
            return None
        if os.path.exists(self.script) and shutil.which("node") and \
                os.path.exists(f"{npm}/node_modules/s3rver/bin/s3rver.js"):
            return [self.script, str(port), data]
        return None

    def available(self) -> bool:
        return self.command(1, "/nonexistent") is not None

    def start(self, workdir: str) -> None:
        port = free_port()
        data = os.path.join(workdir, self.name)
        os.makedirs(data, exist_ok=True)
        logf = open(os.path.join(workdir, self.name + ".log"), "w")
        self.proc = subprocess.Popen(self.command(port, data), stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True, env={**os.environ, "TMPDIR": data})
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/", 60)


class RgwPeer(Peer):
    """Ceph radosgw on a one-node cluster from ../shared/bench/peers/ceph-rgw.sh, or an endpoint from --rgw."""

    def __init__(self, endpoint: str | None) -> None:
        super().__init__("rgw")
        self.endpoint = endpoint
        self.ak, self.sk = "benchkey", "benchsecret"
        self.label = "Ceph RGW (1 mon, 1 osd)"
        self.script = os.path.join(SHARED, "peers", "ceph-rgw.sh")
        self.started: list[int] = []

    def available(self) -> bool:
        return bool(self.endpoint) or (os.path.exists(self.script) and shutil.which("radosgw") is not None
                                       and os.geteuid() == 0)

    def start(self, workdir: str) -> None:
        if self.endpoint:
            parts = self.endpoint.split(",")
            self.url, self.ak, self.sk = parts[0], parts[1], parts[2]
            self.extra_pids = [int(p) for p in parts[3].split("+")] if len(parts) > 3 else []
            return
        port = free_port()
        data = os.path.join(workdir, "rgw")
        with open(os.path.join(workdir, "rgw.log"), "w") as logf:
            subprocess.run([self.script, str(port), data, self.ak, self.sk], stdout=logf, stderr=subprocess.STDOUT,
                           check=True, timeout=900)
        with open(os.path.join(data, "pids")) as f:
            self.started = self.extra_pids = [int(x) for x in f.read().split()]
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/", 120)

    def stop(self) -> None:
        for pid in self.started:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass


class HelloPeer(Peer):
    """The ceiling of a sanic front: one process answering every request with an empty 200."""

    kind = "hello"

    def __init__(self) -> None:
        super().__init__("sanic")
        self.label = "sanic hello-world, 1 process"

    def start(self, workdir: str) -> None:
        port = free_port()
        logf = open(os.path.join(workdir, "sanic.log"), "w")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--hello-server", str(port)],
                                     stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/", 60)


def hello_server(port: int) -> None:
    from sanic import Sanic
    from sanic.response import empty
    app = Sanic("hello")
    app.config.ACCESS_LOG = False

    @app.route("/<path:path>", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
    async def anything(request, path=""):
        return empty(status=200)

    app.add_route(anything, "/", methods=["GET", "HEAD", "PUT", "POST", "DELETE"], name="root")
    app.run(host="127.0.0.1", port=port, single_process=True, access_log=False, debug=False, motd=False)


# ------------------------------------------------------------------------------------------------ meter ----
class Meter:
    """CPU ticks of each pid group, host busy share, and (optionally) the peak RSS of the server's processes."""

    def __init__(self, groups: dict[str, list[int]], sample_rss: bool) -> None:
        self.groups = groups
        self.sample_rss = sample_rss
        self.rss_peak_kib = 0
        self._stop = threading.Event()

    def _sampler(self) -> None:
        pids = self.groups.get("server", [])
        while not self._stop.wait(0.05):
            self.rss_peak_kib = max(self.rss_peak_kib, sum(proc_rss_kib(p) for p in pids))

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.ticks0 = {g: sum(proc_ticks(p) for p in pids) for g, pids in self.groups.items()}
        self.rss_before_kib = sum(proc_rss_kib(p) for p in self.groups.get("server", []))
        self.host0 = host_busy()
        self.load1 = os.getloadavg()[0]
        if self.sample_rss:
            self.thread = threading.Thread(target=self._sampler, daemon=True)
            self.thread.start()

    def stop(self) -> dict:
        wall = time.monotonic() - self.t0
        self._stop.set()
        if self.sample_rss:
            self.thread.join()
        h1 = host_busy()
        out = {"wall_s": round(wall, 2), "load1": round(self.load1, 2),
               "host_busy_pct": round((h1[0] - self.host0[0]) / max(1, h1[1] - self.host0[1]) * 100
                                      * os.cpu_count(), 1)}
        for g, pids in self.groups.items():
            out[f"{g}_cpu_s"] = (sum(proc_ticks(p) for p in pids) - self.ticks0[g]) / CLK
        if self.sample_rss:
            out["rss_before_mib"] = round(self.rss_before_kib / 1024, 1)
            out["rss_peak_mib"] = round(self.rss_peak_kib / 1024, 1)
        return out


# ---------------------------------------------------------------------------------------------- fixtures ----
class Client:
    """Signed S3 calls against one peer (fixtures, cleanup, multipart)."""

    def __init__(self, peer: Peer) -> None:
        u = urllib.parse.urlsplit(peer.url)
        self.signer = Signer(peer.ak, peer.sk, u.netloc)
        self.http = Http(u.hostname, u.port)

    async def call(self, method, path, params=(), body=b"", headers=None, retries=3, **kw):
        return await self.http.call(method, self.signer.sign(method, path, params), body, headers,
                                    retries=retries, **kw)

    async def bucket(self, name: str) -> None:
        st, _, body = await self.call("PUT", f"/{name}")
        if st not in (200, 409):
            raise RuntimeError(f"create bucket {name}: {st} {body[:200]!r}")

    async def put(self, path: str, data: bytes) -> None:
        st, _, body = await self.call("PUT", path, body=data)
        if st != 200:
            raise RuntimeError(f"PUT {path}: {st} {body[:200]!r}")

    async def multipart(self, bucket: str, key: str, data: bytes, live: dict | None = None, progress=None,
                        deadline: float | None = None) -> None:
        path = f"/{bucket}/{key}"
        st, _, body = await self.call("POST", path, [("uploads", "")], retries=0)
        m = re.search(rb"<UploadId>(.*?)</UploadId>", body)
        if st != 200 or not m:
            raise RuntimeError(f"CreateMultipartUpload: {st} {body[:200]!r}")
        upload = m.group(1).decode()
        if live is not None:
            live[path] = upload
        etags = []
        view = memoryview(data)
        for n, off in enumerate(range(0, len(data), PART), 1):
            if deadline and time.monotonic() >= deadline:
                raise TimeoutError("window over")
            st, h, body = await self.call("PUT", path, [("partNumber", str(n)), ("uploadId", upload)],
                                          view[off:off + PART], retries=0, progress=progress)
            if st != 200:
                raise RuntimeError(f"UploadPart: {st} {body[:200]!r}")
            etags.append(h["etag"])
        xml = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)) + \
            "</CompleteMultipartUpload>"
        st, _, body = await self.call("POST", path, [("uploadId", upload)], xml.encode(), retries=0)
        if st != 200 or b"<Error>" in body:
            raise RuntimeError(f"CompleteMultipartUpload: {st} {body[:200]!r}")
        if live is not None:
            live.pop(path, None)

    async def keys(self, bucket: str, prefix: str) -> list[str]:
        keys, token = [], None
        while True:
            params = [("list-type", "2"), ("prefix", prefix)] + ([("continuation-token", token)] if token else [])
            st, _, body = await self.call("GET", f"/{bucket}", params)
            if st != 200:
                raise RuntimeError(f"list {bucket}: {st} {body[:200]!r}")
            keys += [k.decode().replace("&amp;", "&") for k in re.findall(rb"<Key>(.*?)</Key>", body)]
            m = re.search(rb"<NextContinuationToken>(.*?)</NextContinuationToken>", body)
            if not m or b"<IsTruncated>true</IsTruncated>" not in body:
                return keys
            token = m.group(1).decode()

    async def delete(self, bucket: str, keys: list[str]) -> None:
        import base64
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            xml = ("<Delete><Quiet>true</Quiet>" + "".join(f"<Object><Key>{k}</Key></Object>" for k in batch)
                   + "</Delete>").encode()
            md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
            st, _, _ = await self.call("POST", f"/{bucket}", [("delete", "")], xml, {"Content-MD5": md5})
            if st != 200:       # s3rver's DeleteObjects can fail under its own races: one by one then
                for k in batch:
                    await self.call("DELETE", f"/{bucket}/{k}")


async def gather_limited(n: int, jobs) -> None:
    jobs = list(jobs)

    async def worker():
        while jobs:
            await jobs.pop()
    await asyncio.gather(*(worker() for _ in range(n)))


async def ensure_fixtures(peer: Peer, needs: set, n_4k: int) -> None:
    c = Client(peer)
    try:
        for b in (BUCKET, BUCKET + "-put", BUCKET + "-list"):
            await c.bucket(b)
        for fx in ("4k", "1m", "64m", "list"):
            if fx not in needs:
                continue
            marker = f"/{BUCKET}/_ready/{fx}-{n_4k if fx == '4k' else 1}"
            st, _, _ = await c.call("HEAD", marker)
            if st == 200:
                continue
            t0 = time.monotonic()
            if fx == "64m":
                data = body_bytes(64 << 20)
                await gather_limited(2, [c.multipart(BUCKET, f"f/64m/{i}", data) for i in range(N_64M)])
            else:
                paths, size = {
                    "4k": ([f"/{BUCKET}/f/4k/{i:05d}" for i in range(n_4k)], 4096),
                    "1m": ([f"/{BUCKET}/f/1m/{i:04d}" for i in range(N_1M)], 1 << 20),
                    "list": ([f"/{BUCKET}-list/k/{i:05d}" for i in range(N_LIST)], 64),
                }[fx]
                data = body_bytes(size)
                await gather_limited(16, [c.put(p, data) for p in paths])
            await c.put(marker, b"1")
            log(f"  {peer.name}: fixture {fx} in {time.monotonic() - t0:.1f} s")
    finally:
        c.http.close()


async def cleanup(peer: Peer, prefix: str, live: dict | None = None) -> None:
    c = Client(peer)
    try:
        for path, upload in (live or {}).items():
            try:
                await asyncio.wait_for(c.call("DELETE", path, [("uploadId", upload)]), 30)
            except Exception:  # noqa: BLE001 - best effort
                pass
        await c.delete(BUCKET + "-put", await c.keys(BUCKET + "-put", prefix))
    finally:
        c.http.close()


# -------------------------------------------------------------------------------------------------- load ----
def wrk_binary(workload: str) -> str | None:
    """The wrk to use, or None for the Python client (stock wrk waits for a body after a HEAD reply)."""
    for cand in (os.environ.get("CAIRN_BENCH_WRK"), "/tmp/s3bench-tools/wrk"):
        if cand and os.access(cand, os.X_OK):
            return cand
    stock = shutil.which("wrk")
    return stock if stock and workload != "head" else None


def requests_for(peer: Peer, workload: str, conc: int, duration: float, prefix: str, n_4k: int):
    """-> (cycled 'METHOD target' lines, once-PUT targets, share of cycled %) for the request-pattern workloads."""
    signer = Signer(peer.ak, peer.sk, urllib.parse.urlsplit(peer.url).netloc)
    if workload == "hello":
        return ["GET /"], [], 100
    if workload in ("get-4k", "head", "mixed"):
        method = "HEAD" if workload == "head" else "GET"
        cyc = [f"{method} {t}" for t in signer.sign_all(method, [f"/{BUCKET}/f/4k/{i:05d}" for i in range(n_4k)])]
    elif workload == "get-1m":
        cyc = ["GET " + t for t in signer.sign_all("GET", [f"/{BUCKET}/f/1m/{i:04d}" for i in range(N_1M)])]
    elif workload == "get-64m":
        cyc = ["GET " + t for t in signer.sign_all("GET", [f"/{BUCKET}/f/64m/{i}" for i in range(N_64M)])]
    elif workload == "list-1000":
        cyc = []
        for page in range(N_LIST // 1000):
            params = [("list-type", "2"), ("max-keys", "1000")]
            if page:
                params.append(("start-after", f"k/{page * 1000 - 1:05d}"))
            cyc.append("GET " + signer.sign("GET", f"/{BUCKET}-list", params))
    else:
        cyc = []
    puts = []
    if workload in PUT_KEYS_PER_S:
        n = int(PUT_KEYS_PER_S[workload] * (duration + 1))
        puts = signer.sign_all("PUT", [f"/{BUCKET}-put/{prefix}/{i:07d}" for i in range(n)])
    return cyc, puts, (70 if workload == "mixed" else 100)


def run_wrk(wrk: str, peer: Peer, workload: str, conc: int, duration: float, cyc, puts, share,
            meter: Meter) -> dict:
    tmp = tempfile.mkdtemp(prefix="cairn-bench-")
    try:
        def write(name, lines):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            return path
        size = SIZE[workload]
        if workload == "mixed":
            args = ["mix", write("cycle", cyc), write("once", puts), str(size), str(share)]
        elif puts:
            args = ["once", write("once", puts), str(size)]
        else:
            args = ["cycle", write("cycle", cyc)]
        cmd = [wrk, "-t1", "-c", str(conc), "-d", f"{duration}s", "--timeout", "60s", "-s", LUA, peer.url + "/",
               "--"] + args
        with open(os.path.join(tmp, "out"), "w+b") as fo, open(os.path.join(tmp, "err"), "w+b") as fe:
            meter.start()
            p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
            try:
                _, _, ru = os.wait4(p.pid, 0)
            except BaseException:
                p.kill()
                p.wait()
                raise
            p.returncode = 0
            m = meter.stop()
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read(), fe.read()
        js = None
        for line in out.decode(errors="replace").splitlines():
            if line.startswith("CAIRN_BENCH "):
                js = json.loads(line[len("CAIRN_BENCH "):])
        if js is None:
            raise RuntimeError(f"wrk failed: {out[-400:]!r} {err[-400:]!r}")
        secs = js["duration_us"] / 1e6
        ops = js["requests"]
        errors = js["status"] + js["connect"] + js["read"] + js["write"] + js["timeout"]
        if workload in ("get-64m", "list-1000"):
            mb = js["bytes"] / secs / 1e6       # every byte read in the window, partial bodies too
        else:
            mb = ops * size / secs / 1e6
        res = {"ops": ops, "seconds": round(secs, 2), "ops_s": round(ops / secs, 1), "mb_s": round(mb, 1),
               "p50_ms": js["p50_us"] / 1000 if ops else None, "p99_ms": js["p99_us"] / 1000 if ops else None,
               "errors": errors, "engine": "wrk", "client_cpu_s": ru.ru_utime + ru.ru_stime}
        if puts and ops * (0.3 if workload == "mixed" else 1) >= 0.97 * len(puts):   # mixed: ~30% are PUTs
            res["capped"] = True
        res.update(m)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def run_py(peer: Peer, workload: str, conc: int, duration: float, cyc, puts, share, meter: Meter,
                 prefix: str) -> dict:
    """The Python client: conc connections, one request in flight on each (also multipart PUTs)."""
    import resource
    u = urllib.parse.urlsplit(peer.url)
    size = SIZE[workload]
    data = body_bytes(size)
    lat: list[float] = []
    errors = [0]
    moved = [0]
    live: dict = {}
    state = {"ci": 0, "pi": 0, "deadline": 0.0}
    rng = __import__("random").Random(4242)

    def in_window(n):
        if time.monotonic() < state["deadline"]:
            moved[0] += n

    async def one(http: Http, client: Client, i: int) -> bool:
        if workload == "put-64m":
            await client.multipart(f"{BUCKET}-put", f"{prefix}/{i:07d}", data, live, in_window,
                                   state["deadline"])
            return True
        if cyc and (not puts or rng.random() * 100 < share):
            method, target = cyc[state["ci"] % len(cyc)].split(" ", 1)
            state["ci"] += 1
            st, _, n = await http.call(method, target, count_only=True, progress=None)
            if workload == "get-64m":
                in_window(n)
            elif workload == "list-1000":
                moved[0] += n
            return st == 200
        if state["pi"] >= len(puts):
            raise TimeoutError("window over")
        target = puts[state["pi"]]
        state["pi"] += 1
        st, _, _ = await http.call("PUT", target, data)
        return st == 200

    async def worker(w: int) -> int:
        http = Http(u.hostname, u.port)
        client = Client(peer)
        done, i = 0, w
        try:
            while time.monotonic() < state["deadline"]:
                t0 = time.monotonic()
                try:
                    ok = await one(http, client, i)
                except TimeoutError:
                    return done
                except (ConnectionError, OSError, asyncio.IncompleteReadError, RuntimeError):
                    errors[0] += 1
                    continue
                finally:
                    i += conc
                t1 = time.monotonic()
                if not ok:
                    errors[0] += 1
                elif workload != "put-64m" or t1 <= state["deadline"]:
                    done += 1
                    lat.append(t1 - t0)
            return done
        finally:
            http.close()
            client.http.close()

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    meter.start()
    t0 = time.monotonic()
    state["deadline"] = t0 + duration
    tasks = [asyncio.ensure_future(worker(w)) for w in range(conc)]
    grace = 0 if workload.endswith("64m") else 30
    done, pending = await asyncio.wait(tasks, timeout=duration + grace)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    secs = min(time.monotonic() - t0, duration) if workload.endswith("64m") else time.monotonic() - t0
    m = meter.stop()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    ops = sum(t.result() for t in done if not t.exception())
    lat.sort()
    if workload not in ("get-64m", "put-64m", "list-1000"):
        moved[0] = ops * size
    res = {"ops": ops, "seconds": round(secs, 2), "ops_s": round(ops / secs, 1), "mb_s": round(moved[0] / secs / 1e6, 1),
           "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
           "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else None,
           "errors": errors[0], "engine": "py",
           "client_cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), "_live": live}
    if puts and state["pi"] >= len(puts):
        res["capped"] = True
    res.update(m)
    return res


def quiesce(peer: Peer, limit: float = 60.0) -> float:
    """Wait until the server's processes are (nearly) idle: a slow peer can go on working through requests
    the client has already given up on, and that must not be billed to the next cell. -> seconds waited."""
    pids = peer.groups().get("server", [])
    if not pids:
        return 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        before = sum(proc_ticks(p) for p in pids)
        time.sleep(0.3)
        if (sum(proc_ticks(p) for p in pids) - before) / CLK < 0.3 * 0.2:     # under 20% of one core
            break
    return time.monotonic() - t0


def run_cell(peer: Peer, workload: str, conc: int, duration: float, args, rep: int) -> dict:
    quiesce(peer)
    prefix = f"r{rep}-{workload}-c{conc}-{int(time.time() * 1000) % 10 ** 9}"
    cyc, puts, share = requests_for(peer, workload, conc, duration, prefix, args.objects_4k)
    groups = peer.groups()
    meter = Meter(groups, sample_rss=workload.endswith("64m") and "shard" in groups)
    wrk = None if args.engine == "py" or workload == "put-64m" else wrk_binary(workload)
    if wrk:
        res = run_wrk(wrk, peer, workload, conc, duration, cyc, puts, share, meter)
    else:
        res = asyncio.run(run_py(peer, workload, conc, duration, cyc, puts, share, meter, prefix))
    live = res.pop("_live", None)
    # CPU-µs per request; for the 64 MiB rows (few or no whole objects in a cell) per MB moved instead
    per = max(1.0, res["mb_s"] * res["seconds"]) if workload.endswith("64m") else max(1, res["ops"])
    for g in groups:   # no completed request: no per-request figure
        res[f"{g}_us"] = round(res[f"{g}_cpu_s"] * 1e6 / per, 1) if res["ops"] or workload.endswith("64m") else None
    res["client_cpu_pct"] = round(res["client_cpu_s"] / max(1e-9, res["wall_s"]) * 100, 1)
    if workload in ("put-1m", "put-64m") or live:
        try:
            asyncio.run(asyncio.wait_for(cleanup(peer, prefix + "/", live), 600))
        except Exception as e:  # noqa: BLE001
            log(f"  cleanup of {peer.name} {prefix}: {e!r}")
    return res


# --------------------------------------------------------------------------------------------- summary ----
def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(records: list[dict]) -> dict:
    cells: dict = {}
    for r in records:
        cells.setdefault((r["peer"], r["workload"], r["concurrency"]), []).append(r)
    out = {}
    for key, rs in cells.items():
        s = {k: median([r.get(k) for r in rs]) for k in (
            "ops_s", "mb_s", "p50_ms", "p99_ms", "router_us", "shard_us", "server_us", "client_cpu_pct",
            "host_busy_pct", "load1", "rss_peak_mib", "rss_before_mib")}
        s["n"] = len(rs)
        s["errors"] = sum(r.get("errors", 0) for r in rs)
        s["capped"] = any(r.get("capped") for r in rs)
        out[key] = s
    return out


def fmt_num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def value(s: dict | None, workload: str) -> float | None:
    if not s:
        return None
    return s["mb_s"] if workload in BY_BYTES else s["ops_s"]


def render(summary: dict, peers: list[Peer], workloads: list[str], concs: list[int], scaling: list[Peer],
           meta: dict) -> str:
    names = [p.name for p in peers if p.kind == "s3" and not p.name.startswith("cairn")]
    lines = [f"Cairn against its peers — {meta['date']}, {meta['machine']}",
             "",
             f"Command: `{meta['command']}`  ",
             f"Load average before / after: {meta['load_before']} / {meta['load_after']}; "
             f"{meta['reps']} interleaved repetitions, {meta['duration']} s per cell, medians. "
             "Values: op/s, or MB/s (10^6 B) for the 1m/64m rows; p50/p99 in ms.",
             ""]
    head = ["workload", "C", "Cairn"] + names + ["Cairn ratio vs target", "Cairn p50/p99", "RGW p99",
                                                  "router / shard CPU-µs/req", "client CPU", "router+shard RSS"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for w in workloads:
        for c in concs:
            mine = summary.get(("cairn-durable" if w == "put-4k-durable" else "cairn", w, c))
            if not mine:
                continue
            base_w = "put-4k" if w == "put-4k-durable" else w
            row = [w, str(c), cell_text(mine, w)]
            for n in names:
                row.append(cell_text(summary.get((n, base_w, c)), w))
            ratios = []
            for peer, need in TARGETS.get(w, []):
                if peer == "sanic":
                    other = summary.get(("sanic", "hello", c))
                    if other and other["ops_s"]:
                        r = mine["ops_s"] / other["ops_s"]
                        ratios.append(f"{r:.0%} of sanic (≥{need:.0%}) {'✅' if r >= need else '❌'}")
                    continue
                other = value(summary.get((peer, base_w, c)), w)
                if other:
                    r = value(mine, w) / other
                    ratios.append(f"{r:.2f}× {peer} (≥{need}) {'✅' if r >= need else '❌'}")
            row.append("; ".join(ratios) or "—")
            row.append(lat_text(mine))
            rgw = summary.get(("rgw", base_w, c))
            p99 = "—"
            if rgw and rgw["p99_ms"] is not None:
                p99 = f"{rgw['p99_ms']:.1f}"
                if c == max(concs) and mine["p99_ms"] is not None:
                    p99 += " ✅" if mine["p99_ms"] < rgw["p99_ms"] else " ❌"
            row.append(p99)
            row.append(f"{fmt_num(mine['router_us'])} / {fmt_num(mine['shard_us'])}"
                       + (" per MB" if w.endswith("64m") else ""))
            row.append(f"{mine['client_cpu_pct']:.0f}%" if mine["client_cpu_pct"] is not None else "—")
            row.append(f"{mine['rss_peak_mib']:.0f} MiB (idle {mine['rss_before_mib']:.0f})"
                       if mine.get("rss_peak_mib") else "—")
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Server CPU-µs per request (per MB for the 64 MiB rows), every process of each server, same cells — "
              "on a busy machine the fairer efficiency figure: the scheduler shares the CPU per thread, which favours "
              "many-threaded servers in throughput but not in cost:", ""]
    cpu_cols = ["cairn"] + [p.name for p in peers if p.kind == "s3" and p.name not in ("cairn",) and
                            not p.name.startswith("cairn-")]
    lines.append("| workload | C | " + " | ".join(cpu_cols) + " |")
    lines.append("|---|---|" + "---|" * len(cpu_cols))
    for w in workloads:
        for c in concs:
            cells = []
            for n in cpu_cols:
                name, wl = ("cairn-durable", w) if (n == "cairn" and w == "put-4k-durable") else (
                    n, "put-4k" if w == "put-4k-durable" else w)
                got = summary.get((name, wl, c))
                cells.append(fmt_num(got["server_us"]) if got and got.get("server_us") is not None else "—")
            if any(x != "—" for x in cells):
                lines.append(f"| {w} | {c} | " + " | ".join(cells) + " |")
    hello = [summary.get(("sanic", "hello", c)) for c in concs]
    if any(hello):
        lines += ["", "Ceiling: " + ", ".join(
            f"sanic hello-world (1 process) C={c}: {fmt_num(h['ops_s'])} req/s, client CPU {h['client_cpu_pct']:.0f}%"
            for c, h in zip(concs, hello) if h)]
    if scaling:
        lines += ["", "Scaling (Cairn, balanced preset; op/s, router / shard CPU-µs per request):", ""]
        cols = [p for p in scaling]
        lines.append("| workload | C | " + " | ".join(p.label for p in cols) + " | 1→2 shards | 1→2 routers |")
        lines.append("|---|---|" + "---|" * (len(cols) + 2))
        keys = sorted({(w, c) for (n, w, c) in summary if n in {p.name for p in cols if p.name != "cairn"}},
                      key=lambda k: (S3_WORKLOADS.index(k[0]), k[1]))
        for w, c in keys:
            vals = [summary.get((p.name, w, c)) for p in cols]
            row = [w, str(c)] + [f"{fmt_num(value(v, w))} ({fmt_num(v['router_us'])} / {fmt_num(v['shard_us'])})"
                                 if v else "—" for v in vals]
            v1, v2, v3 = (value(v, w) if v else None for v in vals[:3])
            row.append(f"{v2 / v1:.2f}×" if v1 and v2 else "—")
            row.append(f"{v3 / v2:.2f}×" if v2 and v3 else "—")
            lines.append("| " + " | ".join(row) + " |")
    notes = [f"{n}/{w}/C={c}: {s['errors']} errors" for (n, w, c), s in summary.items() if s["errors"]]
    notes += [f"{n}/{w}/C={c}: used every prepared PUT key (raise PUT_KEYS_PER_S)" for (n, w, c), s in
              summary.items() if s["capped"]]
    if notes:
        lines += ["", "Flags: " + "; ".join(sorted(notes))]
    return "\n".join(lines) + "\n"


def cell_text(s: dict | None, w: str) -> str:
    if not s:
        return "—"
    return fmt_num(value(s, w)) + (" ⚠" if s["errors"] else "")


def lat_text(s: dict) -> str:
    if s["p50_ms"] is None:
        return "—"
    return f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f}"


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Linux {os.uname().release}, " \
           f"Python {sys.version.split()[0]}"


# ------------------------------------------------------------------------------------------------ main ----
def build_peers(args) -> tuple[list[Peer], list[Peer]]:
    wanted = [p for p in args.peers.split(",") if p]
    workloads = set(args.workloads.split(","))
    peers: list[Peer] = [CairnPeer("cairn")]
    if "put-4k-durable" in workloads:
        peers.append(CairnPeer("cairn-durable", "durable", only={"put-4k-durable"}))
    for name in wanted:
        if name in ("moto", "s3rver"):
            p = ScriptPeer(name)
            if p.available():
                peers.append(p)
            else:
                log(f"{name}: not installed (../shared/bench/peers/install.sh), skipped")
        elif name == "rgw":
            p = RgwPeer(args.rgw)
            if p.available():
                peers.append(p)
            else:
                log("rgw: no radosgw (../shared/bench/peers/install.sh --with-ceph) and no --rgw, skipped")
        elif name == "sanic":
            peers.append(HelloPeer())
        else:
            sys.exit(f"unknown peer {name}")
    if args.rgw and "rgw" not in wanted:
        peers.append(RgwPeer(args.rgw))
    for spec in args.variant:
        label, _, extra = spec.partition("=")
        peers.append(CairnPeer("v:" + label, extra=extra.split()))
    for path in args.baseline:
        peers.append(CairnPeer("base:" + os.path.basename(os.path.abspath(path)), root=os.path.abspath(path)))
    scaling: list[Peer] = []
    if args.scaling:
        sw, sc = set(args.scaling.split(",")), {int(c) for c in args.scaling_concurrency.split(",")}
        one = CairnPeer("cairn-1s1r", shards=1, routers=1, only=sw, concs=sc)
        both = CairnPeer("cairn-2s2r", shards=2, routers=2, only=sw, concs=sc)
        if os.cpu_count() == 2:     # the default server is the 2-shard, 1-router one: measured in its own rows
            scaling = [one, peers[0], both]
            peers += [one, both]
        else:
            two = CairnPeer("cairn-2s1r", shards=2, routers=1, only=sw, concs=sc)
            scaling = [one, two, both]
            peers += scaling
    return peers, scaling


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default="moto,s3rver,rgw,sanic", help="which peers to start (skipped if missing)")
    ap.add_argument("--rgw", help="URL,ACCESS_KEY,SECRET_KEY[,PID+PID] of a running RGW instead of starting one")
    ap.add_argument("--workloads", default=",".join(S3_WORKLOADS))
    ap.add_argument("--concurrency", default="16,64")
    ap.add_argument("--duration", type=float, default=5, help="seconds per cell (whole seconds)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scaling", default="put-4k,get-4k",
                    help="workloads of the 1→2 shards / 1→2 routers rows ('' for none)")
    ap.add_argument("--scaling-concurrency", default="64")
    ap.add_argument("--engine", choices=["auto", "py"], default="auto", help="py: the Python client for every cell")
    ap.add_argument("--objects-4k", type=int, default=1000, help="preloaded 4 KiB objects (get-4k/head/mixed)")
    ap.add_argument("--out", help="also write the markdown table here")
    ap.add_argument("--jsonl", default=os.path.join(HERE, "results", "peers.jsonl"),
                    help="every cell's raw figures are appended here ('' for none)")
    ap.add_argument("--baseline", metavar="DIR", action="append", default=[],
                    help="also run the Cairn of another checkout (an A/B of a change), as the column 'base:DIR'")
    ap.add_argument("--variant", metavar="LABEL=ARGS", action="append", default=[],
                    help="also run Cairn with these extra `cairn serve` arguments, as the column 'v:LABEL' "
                         "(e.g. raw=\"--http-front raw\")")
    ap.add_argument("--workdir", help="data directories and logs (default: a temporary directory)")
    ap.add_argument("--hello-server", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hello_server:
        return hello_server(args.hello_server)
    workloads = args.workloads.split(",")
    concs = [int(c) for c in args.concurrency.split(",")]
    duration = max(1, round(args.duration))       # wrk takes whole seconds
    peers, scaling = build_peers(args)
    workdir = args.workdir or tempfile.mkdtemp(prefix="cairn-bench-")
    os.makedirs(workdir, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "command": " ".join(["python3", "bench/peers.py"] + sys.argv[1:]),
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()), "reps": args.reps,
            "duration": duration}
    log(f"workdir {workdir}; load average {meta['load_before']}")
    started: list[Peer] = []
    records: list[dict] = []
    if args.jsonl:
        os.makedirs(os.path.dirname(os.path.abspath(args.jsonl)), exist_ok=True)
    jsonl = open(args.jsonl, "a") if args.jsonl else None
    t_begin = time.monotonic()
    try:
        def start(p: Peer) -> None:
            t0 = time.monotonic()
            try:
                p.start(workdir)
            except BaseException:
                p.stop()        # whatever it had started (never more: stop() only signals PIDs it owns)
                raise
            started.append(p)
            log(f"started {p.name} at {p.url} in {time.monotonic() - t0:.1f} s")
        errors: list = []
        slow = [p for p in peers if isinstance(p, RgwPeer)]
        threads = [threading.Thread(target=_catch, args=(errors, p, start)) for p in slow]
        for t in threads:
            t.start()
        for p in peers:
            if p not in slow:
                _catch(errors, p, start)
        for t in threads:
            t.join()
        for p, e in errors:
            if p is peers[0]:
                raise RuntimeError(f"Cairn did not start: {e!r} (log in {workdir})")
            log(f"{p.name} did not start ({e!r}); left out")
            peers.remove(p)
            if p in scaling:
                scaling.remove(p)
        for p in peers:
            if p.kind != "s3":
                continue
            needs = set()
            for w in workloads:
                if not any(p.runs(w, c) for c in concs):
                    continue
                needs |= {"get-4k": {"4k"}, "head": {"4k"}, "mixed": {"4k"}, "get-1m": {"1m"},
                          "get-64m": {"64m"}, "list-1000": {"list"}}.get(w, set())
            asyncio.run(ensure_fixtures(p, needs, args.objects_4k))
        rows = ([("hello", c) for c in concs] if any(p.kind == "hello" for p in peers) else []) + \
            [(w, c) for w in workloads for c in concs]
        too_slow: set = set()      # (peer, workload) that did not finish one request per connection in a cell
        for rep in range(args.reps):
            for w, c in rows:
                todo = [p for p in peers if p.runs(w, c) and (p.name, w) not in too_slow]
                k = rep % max(1, len(todo))
                for p in todo[k:] + todo[:k]:
                    try:
                        res = run_cell(p, w, c, duration, args, rep + 1)
                    except Exception as e:  # noqa: BLE001 - one failed cell must not end the run
                        log(f"rep{rep + 1} {p.name} {w} c={c}: FAILED {e!r}")
                        continue
                    rec = {"peer": p.name, "workload": w, "concurrency": c, "rep": rep + 1, **res}
                    records.append(rec)
                    if res["ops"] < c and not w.endswith("64m") and not p.name.startswith("cairn"):
                        # each request takes longer than the cell: more repetitions would measure the backlog
                        too_slow.add((p.name, w))
                    if jsonl:
                        jsonl.write(json.dumps(rec) + "\n")
                        jsonl.flush()
                    cpu = f"router {res.get('router_us')} shard {res.get('shard_us')}" if "router_us" in res \
                        else f"server {res.get('server_us')}"
                    log(f"rep{rep + 1} {p.name:13s} {w:14s} c={c:<3d} {res['ops_s']:>9,.1f} op/s "
                        f"{res['mb_s']:>8,.1f} MB/s p50 {res['p50_ms']} p99 {res['p99_ms']} err {res['errors']} "
                        f"| CPU-µs/req {cpu} | client {res['client_cpu_pct']}% host {res['host_busy_pct']}% "
                        f"| {(time.monotonic() - t_begin) / 60:.1f} min")
    finally:
        for p in reversed(started):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001
                log(f"stopping {p.name}: {e!r}")
        if jsonl:
            jsonl.close()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table = render(summarize(records), peers, workloads, concs, scaling, meta)
    print(table)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(table)


def _catch(errors: list, p: Peer, fn) -> None:
    try:
        fn(p)
    except Exception as e:  # noqa: BLE001
        errors.append((p, e))


if __name__ == "__main__":
    main()
