"""Starting and stopping the servers under test: Cairn, moto and s3rver, Ceph RGW and the sanic hello-world."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from bench.peerbench.config import AK, HERE, ROOT, S3_WORKLOADS, SHARED, SK
from bench.peerbench.meters import children_of


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
        n, r = shards or os.cpu_count(), routers or os.cpu_count()
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
        entry = os.path.join(HERE, "peers.py")          # the command line, which runs hello_server
        self.proc = subprocess.Popen([sys.executable, entry, "--hello-server", str(port)],
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
