"""One shard's part in high availability: its role (shards/roles.py), the log shipping that goes with it
(replication.py as primary, standby.py as standby), the ops routers and the HA agent call (ha_*), and which
requests a shard that is not a writable primary refuses.

A standby's log must only ever grow by shipped records, so a standby refuses every op that is not a read
before it touches the log. Demotion restarts the shard process (the supervisor starts it again at once): the
new standby opens its log afresh, truncated first if the new primary says its tail was never replicated.
"""

from __future__ import annotations

import hashlib
import logging

import orjson

from .errors import S3Error
from .replication import Replicator
from .roles import PRIMARY, STANDBY, Role, save
from .standby import Standby

log = logging.getLogger("cairn.ha")

# Ops a standby serves (reads, and the HA ops themselves); everything else writes and is refused.
READ_OPS = frozenset(("get", "head", "list", "bucket_snapshot", "mpu_parts", "mpu_list", "part_range",
                      "bucket_count", "list_versions", "tagging_get", "attributes", "ping",
                      "ha_state", "ha_promote", "ha_demote", "ha_unfence", "ha_fence"))


class ShardHA:
    def __init__(self, shard, home: str, role: Role, settings: dict) -> None:
        self.shard = shard
        self.home = home
        self.role = role
        self.settings = settings
        self.replicator: Replicator | None = None
        self.standby: Standby | None = None
        # A primary that has had a standby starts fenced: the HA agent lifts it once the peer (or etcd) confirms
        # nobody was promoted meanwhile.
        self.fenced = role.is_primary and bool(role.peer or settings.get("etcd"))
        self.fence_reason = "checking that no other node was promoted while this one was down" if self.fenced else ""
        self.diverged_reason = ""
        if role.truncated:
            log.warning("shard %d: rejoined as standby after dropping %d unreplicated records", shard.number,
                        role.truncated)

    # -- life cycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.role.is_primary:
            await self._lead()
        else:
            self._follow()

    async def stop(self) -> None:
        if self.standby is not None:
            await self.standby.stop()
        if self.replicator is not None:
            await self.replicator.stop()

    async def _lead(self) -> None:
        base = self.settings.get("replication_port") or 0
        self.replicator = Replicator(self.shard, self, self.settings)
        await self.replicator.start(self.settings.get("host") or "127.0.0.1", base + self.shard.number if base else 0)
        self.shard.store.replicate = self.replicator.replicated
        # compaction must not remove segment files a standby has not received yet
        self.shard.store.retain_lsn = lambda: self.replicator.acked if (self.role.peer or self.replicator.acked) else None

    def _follow(self) -> None:
        self.standby = Standby(self.shard, self, self.settings)
        self.standby.start()

    def _restart(self, why: str) -> None:
        log.warning("shard %d: restarting: %s", self.shard.number, why)
        self.shard.stop.set()

    # -- what requests may do -------------------------------------------------------------------------------
    def refusal(self, op: str) -> dict | None:
        if op in READ_OPS or (self.role.is_primary and not self.fenced):
            return None
        return self.error().to_wire()

    def error(self) -> S3Error:
        role = self.role
        if role.is_primary:
            return S3Error("ServiceUnavailable", f"This node (primary, epoch {role.epoch}) is fenced and refuses "
                           f"writes: {self.fence_reason}.", Epoch=role.epoch)
        primary = role.primary or "unknown"
        return S3Error("ServiceUnavailable", f"This node is a standby (epoch {role.epoch}); send requests to the "
                       f"primary at {primary}.", Primary=primary, Epoch=role.epoch)

    # -- ops ------------------------------------------------------------------------------------------------
    def state(self, meta: dict | None = None) -> dict:
        store = self.shard.store
        out = {"number": self.shard.number, **self.role.to_wire(), "fenced": self.fenced,
               "fence_reason": self.fence_reason, "last_lsn": store.wal.last_lsn, "diverged": self.diverged_reason}
        if self.replicator is not None:
            out.update(self.replicator.state())
        if self.standby is not None:
            out.update(self.standby.state())
        if meta and meta.get("digest"):
            out["digest"] = index_digest(store)
        return out

    async def promote(self, meta: dict) -> dict:
        epoch = int(meta["epoch"])
        role = self.role
        if epoch <= role.epoch and not (role.is_primary and epoch == role.epoch):
            raise S3Error("InvalidRequest", f"epoch {epoch} is not newer than this shard's {role.epoch}")
        if role.is_primary and epoch == role.epoch:
            self.fenced, self.fence_reason = False, ""
            return self.state()
        if self.standby is not None:
            await self.standby.stop()
            await self.standby.drain()
            self.standby = None
        was_primary = role.is_primary
        role.role, role.epoch = PRIMARY, epoch
        role.peer = role.primary or role.peer
        role.primary = ""
        role.history.append([epoch, self.shard.store.wal.last_lsn + 1])
        save(self.home, role)
        self.fenced, self.fence_reason = False, ""
        log.warning("shard %d: promoted to primary, epoch %d, from lsn %d", self.shard.number, epoch,
                    self.shard.store.wal.last_lsn + 1)
        if not was_primary:
            await self._lead()
        return self.state()

    async def demote(self, meta: dict) -> dict:
        epoch, primary = int(meta["epoch"]), meta["primary"]
        role = self.role
        if epoch < role.epoch or (epoch == role.epoch and role.is_primary and not self.fenced):
            raise S3Error("InvalidRequest", f"epoch {epoch} is not newer than this shard's {role.epoch}")
        if not role.is_primary and role.primary == primary:
            return self.state()
        # the epoch moves on when the new primary hands over its history (adopt); until then ours stays, so the
        # divergence check compares the histories as they were
        role.role, role.primary, role.peer = STANDBY, primary, primary
        save(self.home, role)
        self.fenced = True
        self.shard.store.index.retire_all_kept()  # nothing it said as primary may be answered again
        self._restart(f"demoted: following {primary} (epoch {epoch})")
        return self.state()

    def unfence(self, meta: dict) -> dict:
        if self.role.is_primary and int(meta.get("epoch", -1)) == self.role.epoch:
            if self.fenced:
                log.warning("shard %d: fence lifted (epoch %d confirmed)", self.shard.number, self.role.epoch)
            self.fenced, self.fence_reason = False, ""
        return self.state()

    def fence(self, meta: dict) -> dict:
        self.stale(meta.get("reason") or "fenced by the HA agent")
        return self.state()

    # -- called by replication -------------------------------------------------------------------------------
    def adopt(self, epoch: int, history: list) -> None:
        """A standby takes over its primary's epoch and history once it has a log that is a prefix of it."""
        if (epoch, history) != (self.role.epoch, self.role.history):
            self.role.epoch, self.role.history = epoch, [list(e) for e in history]
            save(self.home, self.role)

    def rejoin(self, truncate_to: int) -> None:
        self.role.truncate_to = truncate_to
        save(self.home, self.role)
        self._restart(f"log ahead of the primary's history: dropping records after lsn {truncate_to}")

    def role_peer(self, address: str) -> None:
        if address and self.role.peer != address:
            self.role.peer = address
            save(self.home, self.role)

    def stale(self, reason: str) -> None:
        if not self.fenced:
            log.error("shard %d: fenced: %s", self.shard.number, reason)
        self.fenced, self.fence_reason = True, reason

    def diverged(self, reason: str) -> None:
        log.error("shard %d: standby log diverged from the primary's (%s); replication stops: start this standby "
                  "from an empty data directory", self.shard.number, reason)
        self.diverged_reason = reason


def index_digest(store) -> str:
    """SHA-256 over what a shard serves (bucket configs, every version of every key, multipart uploads in
    progress): equal on a primary and a standby that has applied the same records."""
    from .multipart_state import uploads_of
    h = hashlib.sha256()
    dump = lambda v: h.update(orjson.dumps(v, default=list, option=orjson.OPT_SORT_KEYS))  # noqa: E731
    for name in sorted(store.buckets):
        dump(store.buckets[name])
    for bucket in store.index.buckets():
        for key, versions in store.index.walk(bucket):
            dump([bucket, key, versions])
    uploads = uploads_of(store).by_id
    for upload_id in sorted(uploads):
        up = uploads[upload_id]
        dump([up.id, up.bucket, up.key, up.meta, up.initiated, sorted(up.parts.items())])
    return h.hexdigest()
