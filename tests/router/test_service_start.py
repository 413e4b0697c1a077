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


def test_ready_says_503_until_every_router_worker_has_been_connected_to_every_shard(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    settings.routers = 2
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.setenv("CAIRN_RUN_DIR", str(run_dir))  # what the supervisor gives every worker

    async def ready(service) -> tuple[int, bytes]:
        response = await service._ready(None)
        return response.status, response.body

    async def until_ready(service) -> None:
        while (await ready(service))[0] != 200:
            await asyncio.sleep(0.05)

    async def scenario():
        shard = start_shard(settings, tmp_path)
        first, second = Service(settings, "cairn_router_0", index=0), None
        try:
            await first.start()
            await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in first.state["router"].clients)), 30)
            await asyncio.sleep(0.2)
            assert await ready(first) == (503, b"router workers starting: 1 of 2 ready\n")
            second = Service(settings, "cairn_router_1", join_when_ready=True, index=1)
            await asyncio.wait_for(second.start(), 30)
            await asyncio.wait_for(until_ready(first), 5)
            assert (await ready(second))[0] == 200
        finally:
            for service in (first, second):
                if service is not None:
                    await service.stop()
            stop(shard)

    asyncio.run(scenario())
