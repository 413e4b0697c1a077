"""Automatic failover through a lease in etcd (DESIGN §5: a real etcd, no home-made consensus).

The client speaks etcd's documented v3 JSON gateway (``POST /v3/lease/grant``, ``/v3/lease/keepalive``,
``/v3/kv/range``, ``/v3/kv/txn``; keys and values base64) over stdlib HTTP: the Python etcd v3 client on PyPI
(etcd3) is unmaintained since 2020 and does not work with current protobuf, and four JSON calls do not need one.

Keys, under ``/<cluster>/``: ``leader`` = {"node", "epoch", "lease"} attached to the leader's lease, and
``epoch`` = the highest epoch ever handed out (no lease: epochs only grow). One agent per node (router 0):

* primary: keeps its lease alive every ttl/4; if it cannot for 0.8 × ttl it fences itself before the lease can
  expire, so two nodes never take writes at once; a newer leader in etcd makes it step down and follow.
* standby: when the leader key is gone (the lease expired), takes it with epoch + 1 in one transaction that
  also checks nobody moved the epoch meanwhile, then promotes itself; a different leader is followed.
* a primary starting up is fenced until it holds the lease (or steps down to whoever does).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.error
import urllib.request

log = logging.getLogger("cairn.ha")


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


class EtcdError(Exception):
    pass


class Etcd:
    """Blocking etcd v3 JSON-gateway client (run its calls in a thread); tries each endpoint in turn."""

    def __init__(self, endpoints: list[str], timeout: float = 1.0) -> None:
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout

    def call(self, path: str, body: dict) -> dict:
        last = None
        for endpoint in self.endpoints:
            req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return json.loads(r.read())
            except (OSError, ValueError) as exc:
                last = exc
        raise EtcdError(f"no etcd endpoint answered {path}: {last}")

    def grant(self, ttl: int) -> str:
        return self.call("/v3/lease/grant", {"TTL": ttl})["ID"]

    def keepalive(self, lease: str) -> int:
        """Seconds the lease has left after this refresh; 0 if it is gone."""
        return int(self.call("/v3/lease/keepalive", {"ID": lease}).get("result", {}).get("TTL", 0))

    def revoke(self, lease: str) -> None:
        self.call("/v3/lease/revoke", {"ID": lease})

    def get(self, key: str) -> tuple[bytes | None, int]:
        """(value, mod revision); (None, 0) when the key does not exist."""
        kvs = self.call("/v3/kv/range", {"key": _b64(key)}).get("kvs") or []
        if not kvs:
            return None, 0
        return base64.b64decode(kvs[0].get("value", "")), int(kvs[0].get("mod_revision", 0))

    def txn(self, compare: list[dict], puts: list[tuple[str, str, str | None]]) -> bool:
        """Apply ``puts`` [(key, value, lease or None)] if every comparison holds; whether it did."""
        success = [{"request_put": {"key": _b64(k), "value": _b64(v), **({"lease": lease} if lease else {})}}
                   for k, v, lease in puts]
        return bool(self.call("/v3/kv/txn", {"compare": compare, "success": success}).get("succeeded"))


def absent(key: str) -> dict:
    return {"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def unchanged(key: str, mod_revision: int) -> dict:
    return {"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}


class LeaseAgent:
    def __init__(self, view, settings) -> None:
        self.view = view
        self.settings = settings
        self.me = settings.advertise
        self.ttl = max(int(settings.lease_ttl), 1)
        self.etcd = Etcd(settings.etcd, timeout=min(1.0, self.ttl / 4))
        self.leader_key = f"/{settings.cluster}/leader"
        self.epoch_key = f"/{settings.cluster}/epoch"
        self.lease: str | None = None
        self.last_ok = 0.0
        self._task = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self.view.refresh()
                await self.step()
            except Exception as exc:  # noqa: BLE001 -- etcd or shards away: try again next round
                log.debug("lease agent: %s", exc)
            await self._self_fence()
            await asyncio.sleep(self.ttl / 4)

    async def _self_fence(self) -> None:
        node = self.view.node
        if self.lease and node.get("writable") and time.monotonic() - self.last_ok > 0.8 * self.ttl:
            log.error("could not renew the etcd lease for %.1fs: fencing before it can expire", 0.8 * self.ttl)
            self.lease = None
            await self._shards({"op": "ha_fence", "reason": "lost the etcd lease"})

    async def _shards(self, meta: dict) -> None:
        await asyncio.gather(*(c.call(meta) for c in self.view.router.clients))
        await self.view.refresh()

    def _read(self) -> tuple[dict | None, int, int]:
        raw, _ = self.etcd.get(self.leader_key)
        epoch_raw, epoch_rev = self.etcd.get(self.epoch_key)
        return (json.loads(raw) if raw else None), int(epoch_raw or 0), epoch_rev

    def _take(self, epoch: int, epoch_rev: int, force: bool) -> bool:
        lease = self.etcd.grant(self.ttl)
        value = json.dumps({"node": self.me, "epoch": epoch, "lease": lease})
        compare = [unchanged(self.epoch_key, epoch_rev)] + ([] if force else [absent(self.leader_key)])
        if self.etcd.txn(compare, [(self.leader_key, value, lease), (self.epoch_key, str(epoch), None)]):
            self.lease, self.last_ok = lease, time.monotonic()
            return True
        self.etcd.revoke(lease)
        return False

    async def step(self) -> None:
        node = self.view.node
        if not node or node["role"] == "unknown":
            return
        leader, stored, epoch_rev = await asyncio.to_thread(self._read)
        epoch = node["epoch"]
        if node["role"] == "primary":
            if leader and leader["node"] == self.me:
                self.lease = self.lease or leader["lease"]  # a restarted router picks its node's lease up again
                if await asyncio.to_thread(self.etcd.keepalive, self.lease) > 0:
                    self.last_ok = time.monotonic()
                    if node["fenced"] and leader["epoch"] == epoch:
                        await self._shards({"op": "ha_unfence", "epoch": epoch})
                    return
                self.lease = None
                await self._shards({"op": "ha_fence", "reason": "the etcd lease expired"})
                return
            if leader and leader["epoch"] > epoch:
                log.warning("etcd names %s leader of epoch %d > ours (%d): stepping down", leader["node"],
                            leader["epoch"], epoch)
                await self._shards({"op": "ha_demote", "epoch": leader["epoch"], "primary": leader["node"]})
                return
            # no leader (or an older one, after `cairn promote` here): lead with our epoch if nobody moved past it
            if stored <= epoch and await asyncio.to_thread(self._take, epoch, epoch_rev, leader is not None):
                log.warning("holding the etcd lease: primary of epoch %d", epoch)
                await self._shards({"op": "ha_unfence", "epoch": epoch})
            return
        # standby
        if leader is None:
            new = max(stored, epoch) + 1
            if await asyncio.to_thread(self._take, new, epoch_rev, False):
                log.warning("the primary's etcd lease expired: taking over as primary of epoch %d", new)
                from .promote import promote_here
                await promote_here(self.view, self.settings, new)
        elif leader["node"] != node["primary"] and leader["node"] != self.me:
            await self._shards({"op": "ha_demote", "epoch": leader["epoch"], "primary": leader["node"]})
