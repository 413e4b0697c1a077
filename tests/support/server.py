"""Start real `cairn serve` processes on loopback ephemeral ports for tests (no mocks: real processes, real disk)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCESS_KEY, SECRET_KEY = "test-access", "test-secret-key"


class CairnServer:
    def __init__(self, data_dir, *, shards: int = 2, preset: str = "balanced", extra: list[str] | None = None,
                 access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, stderr_path=None,
                 wrapper: list[str] | None = None) -> None:
        self.data_dir = str(data_dir)
        self.stderr_path = stderr_path  # where the server's stderr (logs) goes; default: the test's own
        self.wrapper = wrapper or []  # a command the server runs under (e.g. setpriv dropping capabilities)
        self.shards = shards
        self.preset = preset
        self.extra = extra or []
        self.access_key, self.secret_key = access_key, secret_key
        self.proc: subprocess.Popen | None = None
        self.context = None  # an ssl.SSLContext when the server speaks TLS
        self.port = 0
        self.banner = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "CairnServer":
        argv = [*self.wrapper, sys.executable, "-m", "router.cli", "serve", "--host", "127.0.0.1",
                "--port", str(self.port or 0), "--data-dir", self.data_dir, "--shards", str(self.shards), "--preset", self.preset,
                "--access-key", self.access_key, "--secret-key", self.secret_key, "--log-level", "WARNING",
                *self.extra]
        env = {**os.environ, "PYTHONPATH": ROOT}
        stderr = open(self.stderr_path, "ab") if self.stderr_path else None
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True, stderr=stderr)
        if stderr is not None:
            stderr.close()
        first = self.proc.stdout.readline()
        second = self.proc.stdout.readline()
        self.banner = first + second
        m = re.search(r"listening on https?://[^:]+:(\d+)", first)
        assert m, f"no banner from cairn serve: {first!r}"
        self.port = int(m.group(1))
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint + "/_cairn/ready", timeout=1, context=self.context) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, "cairn serve exited during start-up"
            time.sleep(0.05)
        raise TimeoutError("cairn did not become ready")

    def pids(self) -> dict[str, int]:
        """Process title -> pid for every process in the server's group (titles set with setproctitle)."""
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.getpgid(int(pid)) != self.proc.pid:
                    continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read().split(b"\0")[0].decode(errors="replace").strip()
            except (OSError, ProcessLookupError):
                continue
            out[title] = int(pid)
        return out

    def kill9(self) -> None:
        """kill -9 the whole process group: supervisor, routers and shards at once, as a power cut would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.stdout.close()

    def client(self, **config):
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, **config)
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1", config=cfg)
