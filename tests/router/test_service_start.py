"""Routers share one listening socket: the first takes requests at once (so /_cairn/ready can say 503 while
shards recover), the others only once their own shard connections are up — otherwise a request reaching them just
after the first router said ready would get 503 "Shard N is unavailable"."""

import asyncio
import os
import subprocess

from router.config import Settings
from router.service import Service
from router.supervisor import shard_argv
from tests.support.server import ROOT


def settings_for(tmp_path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return Settings(data_dir=str(data), shards=1, log_level="WARNING")


def start_shard(settings: Settings, tmp_path) -> subprocess.Popen:
    metrics = tmp_path / "metrics"
    metrics.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": ROOT, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    return subprocess.Popen(shard_argv(settings, 0), cwd=ROOT, env=env)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


def test_a_router_after_the_first_takes_requests_only_once_its_shards_are_connected(tmp_path):
    settings = settings_for(tmp_path)

    async def scenario():
        service = Service(settings, "joining", join_when_ready=True)
        starting = asyncio.ensure_future(service.start())
        await asyncio.sleep(1.0)
        assert not starting.done(), "took requests with no shard connected"
        shard = start_shard(settings, tmp_path)
        try:
            await asyncio.wait_for(starting, 30)
            assert all(c.ready.is_set() for c in service.state["router"].clients)
        finally:
            await service.stop()
            stop(shard)

    asyncio.run(scenario())


def test_the_first_router_takes_requests_while_shards_are_still_down(tmp_path):
    settings = settings_for(tmp_path)

    async def scenario():
        service = Service(settings, "first")
        await asyncio.wait_for(service.start(), 5)
        try:
            assert not any(c.ready.is_set() for c in service.state["router"].clients)
        finally:
            await service.stop()

    asyncio.run(scenario())
