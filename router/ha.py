"""The router's side of high availability (docs/HA.md).

* A standby refuses writes, and reads too unless ``--standby-reads``, with an S3 error naming the primary.
  The shards are the authority (they refuse before touching the log); the router keeps a view of their roles,
  refreshed a few times a second, so it can refuse before a body is streamed and for the calls it answers
  itself (ListBuckets, HeadBucket, bucket configs).
* ``GET /_cairn/ha``: this node's role, epoch and every shard's LSNs and lag (``cairn status`` reads it; a
  standby learns its primary's replication ports from it). ``?digest=1`` adds each shard's index digest.
* ``POST /_cairn/promote`` and ``POST /_cairn/demote``: role changes, authenticated with an admin token
  (an HMAC of the node's secret key over the method, path and time; see ``admin_token``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.request

import orjson
from .response import HTTPResponse

from shards.errors import S3Error

log = logging.getLogger("cairn.ha")

WRITES = frozenset(("PUT", "POST", "DELETE"))
POLL = 0.25
RECONNECT_WAIT = 2.0  # seconds an HA state query waits for a shard link that is reconnecting
PEER_EVERY = 4  # an unfenced primary asks its peer about once a second whether it was superseded
TOKEN_HEADER = "x-cairn-admin"
TOKEN_SKEW = 300


def admin_token(secret: str, method: str, path: str, now: float) -> str:
    stamp = str(int(now))
    mac = hmac.new(secret.encode(), f"{method} {path} {stamp}".encode(), hashlib.sha256).hexdigest()
    return f"{stamp}:{mac}"


def admin_token_valid(secret: str, method: str, path: str, token: str, now: float) -> bool:
    stamp, _, _ = token.partition(":")
    if not stamp.isdigit() or abs(now - int(stamp)) > TOKEN_SKEW:
        return False
    want = admin_token(secret, method, path, int(stamp))
    return hmac.compare_digest(want, token)


def _get_state(node: str) -> dict:
    with urllib.request.urlopen(f"http://{node}/_cairn/ha", timeout=1.0) as r:
        return json.loads(r.read())


def summarize(shards: list[dict]) -> dict:
    """The node's role from its shards' states (pure)."""
    if not shards:
        return {"role": "unknown", "epoch": 0, "primary": "", "writable": False}
    standby = [s for s in shards if s["role"] != "primary"]
    return {"role": "standby" if standby else "primary",
            "epoch": max(s["epoch"] for s in shards),
            "primary": standby[0]["primary"] if standby else "",
            "writable": not standby and not any(s["fenced"] for s in shards),
            "fenced": any(s["fenced"] for s in shards),
            "fence_reason": next((s["fence_reason"] for s in shards if s["fenced"]), "")}


async def _ask(client, meta: dict) -> dict:
    # a shard that restarts (a role change restarts it) is back within moments, and each router worker
    # reconnects on its own schedule: wait that long rather than report it unreachable from this worker only
    if not client.ready.is_set():
        await asyncio.wait_for(client.ready.wait(), RECONNECT_WAIT)
    return await client.call(meta)


class HAView:
    """One router worker's view of its node's HA state. Every worker polls; only the ``agent`` (worker 0) acts on
    what it sees — fences, unfences, steps down — so workers never race each other with role changes."""

    def __init__(self, settings, agent: bool = True) -> None:
        self.settings = settings
        self.agent = agent
        self.node = {}  # summarize() of the last poll; empty until the first one
        self.shards: list[dict] = []
        self._task = None
        self.router = None

    def start(self, router) -> None:
        self.router = router
        self._task = asyncio.ensure_future(self._poll_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def refresh(self, digest: bool = False) -> list[dict]:
        meta = {"op": "ha_state", "digest": digest}
        replies = await asyncio.gather(*(_ask(c, meta) for c in self.router.clients), return_exceptions=True)
        shards = [r for r in replies if isinstance(r, dict)]
        if len(shards) == len(replies):
            self.shards, self.node = shards, summarize(shards)
        return [r if isinstance(r, dict) else {"number": c.number, "error": str(r)}
                for c, r in zip(self.router.clients, replies)]

    async def refresh_for_health(self, timeout: float = 1.0) -> None:
        """Every router keeps its own polled view and /_cairn/health may reach any of them: it asks the shards
        first, so its answer does not depend on which router took the connection. A shard that is down or slow
        leaves the last view in place."""
        if self.router is not None:
            await self._refresh_quietly(timeout)

    async def _refresh_quietly(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.refresh(), timeout)
        except Exception:  # noqa: BLE001 -- shards away or slow: the last view stands
            log.debug("HA refresh failed", exc_info=True)

    async def _poll_forever(self) -> None:
        n = 0
        while True:
            try:
                await self.refresh()
                if self.agent and not self.settings.etcd and (self.node.get("fenced") or n % PEER_EVERY == 0):
                    await self.check_peer()
            except Exception:  # noqa: BLE001 -- shards restarting, peer away: keep the last view, try again
                log.debug("HA poll failed", exc_info=True)
            n += 1
            await asyncio.sleep(POLL)

    async def check_peer(self) -> None:
        """Manual mode's fencing (etcd mode leaves this to router/lease.py). A primary that has had a standby
        starts fenced; it asks that peer who leads: a newer primary means this node steps down and follows it,
        a peer that follows (or has no newer epoch) lifts the fence. An unreachable peer keeps the fence on —
        the peer may have been promoted meanwhile; ``cairn promote`` on this node overrides that. A shard
        restarted alone, whose siblings are unfenced primaries of its epoch, needs no peer to be trusted."""
        node, shards = self.node, self.shards
        if node.get("role") != "primary":
            return
        epoch = node["epoch"]
        if node["fenced"] and any(not s["fenced"] and s["epoch"] == epoch for s in shards):
            await self._all({"op": "ha_unfence", "epoch": epoch})
            return
        peer = next((s["peer"] for s in shards if s["peer"]), "")
        if not peer:
            return
        try:
            other = await asyncio.to_thread(_get_state, peer)
        except (OSError, ValueError) as exc:
            if node["fenced"]:
                log.warning("fenced until the peer %s answers (%s) or this node is promoted", peer, exc)
            return
        if other.get("role") == "primary" and other.get("epoch", 0) > epoch:
            log.warning("the peer %s is primary with epoch %d > ours (%d): stepping down to follow it", peer,
                        other["epoch"], epoch)
            await self._all({"op": "ha_demote", "epoch": other["epoch"], "primary": peer})
        elif node["fenced"] and other.get("epoch", 0) <= epoch and other.get("role") in ("standby", "primary"):
            await self._all({"op": "ha_unfence", "epoch": epoch})

    async def _all(self, meta: dict) -> None:
        await asyncio.gather(*(c.call(meta) for c in self.router.clients))
        await self.refresh()

    # -- request gate -----------------------------------------------------------------------------------------
    def refusal(self, method: str) -> S3Error | None:
        """The error this node answers ``method`` with, by the last view; None when it serves it."""
        node = self.node
        if not node:
            return None
        if node["role"] == "standby":
            if method in WRITES or not self.settings.standby_reads:
                return S3Error("ServiceUnavailable", f"This node is a standby (epoch {node['epoch']}); send "
                               f"{'writes' if method in WRITES else 'requests'} to the primary at "
                               f"{node['primary']}.", Primary=node["primary"], Epoch=node["epoch"])
        elif method in WRITES and not node["writable"]:
            return S3Error("ServiceUnavailable", f"This node (primary, epoch {node['epoch']}) is fenced and "
                           f"refuses writes: {node['fence_reason']}.", Epoch=node["epoch"])
        return None

    async def confirm(self, method: str) -> None:
        """Raise the refusal ``refusal(method)`` gave, once the shards confirm it: a promotion made through
        another router worker may be newer than this worker's last poll (refusals are rare: asking costs little)."""
        await self._refresh_quietly(1.0)
        err = self.refusal(method)
        if err is not None:
            raise err

    def health_detail(self) -> bytes:
        """Extra lines for /_cairn/health when HA is in play; nothing for a lone primary."""
        lines = []
        node = self.node
        if node.get("role") == "standby":
            lines.append(f"role: standby of {node['primary']} (epoch {node['epoch']})")
        elif node.get("fenced"):
            lines.append(f"role: primary, fenced: {node['fence_reason']}")
        for s in self.shards:
            if s.get("sync_degraded"):
                lines.append(f"shard {s['number']}: sync replication degraded: {s['degraded_reason']}")
            elif s.get("diverged"):
                lines.append(f"shard {s['number']}: standby log diverged: {s['diverged']}")
            elif s["role"] == "standby" and not s.get("standby_connected"):
                why = s.get("stream_error") or "connecting"
                lines.append(f"shard {s['number']}: not streaming from the primary ({why})")
        return "".join(line + "\n" for line in lines).encode()


def install(app, state: dict, settings) -> HAView:
    """Register the HA endpoints; the view starts polling once the router's shard clients exist. With etcd,
    the first router worker also runs the node's lease agent (router/lease.py)."""
    first = app.name.endswith("_0") or app.name == "cairn"  # router worker 0 (router/worker.py)
    view = HAView(settings, agent=first)
    agent = None
    if settings.etcd and first:
        from .lease import LeaseAgent
        agent = LeaseAgent(view, settings)

    @app.before_server_start
    async def start_view(app):
        view.start(state["router"])
        if agent is not None:
            agent.start()

    @app.after_server_stop
    async def stop_view(app):
        await view.stop()
        if agent is not None:
            await agent.stop()

    def authorized(request) -> bool:
        token = request.headers.get(TOKEN_HEADER, "")
        return admin_token_valid(settings.secret_key, request.method, request.path, token, time.time())

    def reply(body: dict, status: int = 200) -> HTTPResponse:
        return HTTPResponse(orjson.dumps(body, option=orjson.OPT_INDENT_2), status=status,
                            content_type="application/json")

    async def ha_state(request):
        shards = await view.refresh(digest=request.args.get("digest") == "1")
        return reply({"node": settings.advertise, **summarize([s for s in shards if "role" in s]),
                      "replication": settings.replication, "standby_reads": settings.standby_reads,
                      "shards": shards})

    async def promote(request):
        if not authorized(request):
            return reply({"error": "admin token missing or invalid"}, 403)
        body = orjson.loads(request.body or b"{}")
        from .promote import promote_here
        try:
            return reply(await promote_here(view, settings, body.get("epoch")))
        except S3Error as err:
            return reply({"error": err.message}, 409)

    async def demote(request):
        if not authorized(request):
            return reply({"error": "admin token missing or invalid"}, 403)
        body = orjson.loads(request.body or b"{}")
        meta = {"op": "ha_demote", "epoch": int(body["epoch"]), "primary": body["primary"]}
        try:
            await asyncio.gather(*(c.call(meta) for c in view.router.clients))
        except S3Error as err:
            return reply({"error": err.message}, 409)
        log.warning("demoted: now a standby of %s (epoch %s)", body["primary"], body["epoch"])
        return reply({"demoted": True})

    async def unfence(request):
        if not authorized(request):
            return reply({"error": "admin token missing or invalid"}, 403)
        body = orjson.loads(request.body or b"{}")
        meta = {"op": "ha_unfence", "epoch": int(body["epoch"])}
        await asyncio.gather(*(c.call(meta) for c in view.router.clients))
        await view.refresh()
        return reply(view.node)

    app.add_route(ha_state, "/_cairn/ha", methods=["GET"])
    app.add_route(promote, "/_cairn/promote", methods=["POST"])
    app.add_route(demote, "/_cairn/demote", methods=["POST"])
    app.add_route(unfence, "/_cairn/unfence", methods=["POST"])
    return view
