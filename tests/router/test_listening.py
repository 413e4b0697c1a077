"""Each router worker listens on a socket of its own, all on one port (router/supervisor.py `bind`): the kernel
spreads a client's connections over the workers, and the port still belongs to one server only."""
import os
import socket
import subprocess
import sys

from tests.support.server import ROOT, CairnServer


def established_per_worker(server: CairnServer) -> dict[str, int]:
    """How many of the server port's established TCP connections each router worker holds (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == server.port and fields[3] == "01":  # 01: ESTABLISHED
                    inodes.add(fields[9])
    counts = {}
    for title, pid in server.pids().items():
        if not title.startswith("cairn: router"):
            continue
        held = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                held += 1
        counts[title] = held
    return counts


def test_connections_opened_at_once_are_spread_over_the_router_workers(tmp_path):
    server = CairnServer(tmp_path / "data", extra=["--routers", "2"]).start()
    clients = []
    try:
        for _ in range(32):
            clients.append(socket.create_connection(("127.0.0.1", server.port)))
        for c in clients:  # a request on each, so every connection has been accepted by its worker
            c.sendall(b"GET /_cairn/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for c in clients:
            assert c.recv(65536).startswith(b"HTTP/1.1 200")
        counts = established_per_worker(server)
        assert len(counts) == 2 and sum(counts.values()) == 32, counts
        # one socket shared by both workers let the first one awake take all 32; by hash, neither gets none
        assert min(counts.values()) >= 4, counts
    finally:
        for c in clients:
            c.close()
        server.stop()


def test_a_second_server_cannot_join_the_port_of_a_running_one(tmp_path):
    server = CairnServer(tmp_path / "one").start()
    try:
        run = subprocess.run([sys.executable, "-m", "router.cli", "serve", "--port", str(server.port), "--data-dir",
                              str(tmp_path / "two")], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": ROOT})
        assert run.returncode == 1
        assert f"cannot listen on 127.0.0.1:{server.port} (Address already in use)" in run.stderr
    finally:
        server.stop()
