"""Promotion: ``cairn promote --target HOST:PORT`` and what the target node does with it.

The target's every shard becomes primary with one new epoch (one more than any its shards know, unless etcd
chose it), stops following, and starts shipping its own log. Then the node tells the old primary (each shard's
``peer``), if it can reach it, to step down; an old primary that is down learns it when it comes back (its HA
agent asks the peer before lifting its fence; see router/ha_agent.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request

from .ha import TOKEN_HEADER, admin_token

log = logging.getLogger("cairn.ha")


def admin_call(node: str, path: str, secret: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    """POST (with a body) or GET ``http://node/path`` with an admin token; the JSON answer (blocking)."""
    method = "GET" if body is None else "POST"
    req = urllib.request.Request(f"http://{node}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header(TOKEN_HEADER, admin_token(secret, method, path, time.time()))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error")
        except ValueError:
            detail = None
        raise RuntimeError(f"{node}{path}: HTTP {exc.code}: {detail or exc.reason}") from None


async def promote_here(view, settings, epoch: int | None = None) -> dict:
    clients = view.router.clients
    states = await asyncio.gather(*(c.call({"op": "ha_state"}) for c in clients))
    if epoch is None and all(s["role"] == "primary" and not s["fenced"] for s in states):
        await view.refresh()  # already the writable primary: a new epoch would only confuse the standby's
        return {"promoted": settings.advertise, **view.node}
    if epoch is None:
        epoch = max(s["epoch"] for s in states) + 1
    await asyncio.gather(*(c.call({"op": "ha_promote", "epoch": epoch}) for c in clients))
    log.warning("promoted to primary, epoch %d", epoch)
    peers = {s["primary"] or s["peer"] for s in states} - {"", settings.advertise}
    for peer in peers:  # best effort: a peer that is down is fenced when it comes back
        try:
            await asyncio.to_thread(admin_call, peer, "/_cairn/demote", settings.secret_key,
                                    {"epoch": epoch, "primary": settings.advertise}, 2.0)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not tell the old primary %s to step down (%s); it will be fenced when it "
                        "returns", peer, exc)
    await view.refresh()
    return {"promoted": settings.advertise, **view.node}


def add_arguments(parser) -> None:
    parser.add_argument("--target", required=True, help="HOST:PORT of the standby's S3 endpoint")
    parser.add_argument("--secret-key", default=None, help="the target's secret key (env CAIRN_SECRET_KEY)")


def run(args, environ) -> int:
    from .config import DEFAULT_SECRET_KEY
    secret = args.secret_key or environ.get("CAIRN_SECRET_KEY") or DEFAULT_SECRET_KEY
    try:
        answer = admin_call(args.target, "/_cairn/promote", secret, {}, timeout=30.0)
    except (OSError, RuntimeError) as exc:
        print(f"cairn promote: {exc}")
        return 1
    print(f"{args.target} is now primary (epoch {answer['epoch']})")
    return 0
