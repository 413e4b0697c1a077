"""The standby side of WAL shipping (DESIGN §5): follow the primary's shard, append its records to our own log
at the primary's LSNs and in its layout, commit, apply, acknowledge.

Records keep the primary's LSN and land at the primary's segment and offset (``Log.append_at``), because PUT
and MULTIPART records name the chunks they use by location: with one layout those locations mean the same on
both nodes. Each shipped record's CRC32C is checked before it is written, and its location after: a mismatch
stops replication rather than building an index that points at the wrong bytes.

The connection is retried forever with a small backoff; every new connection resumes at our last LSN, so a
restart or a network cut costs only the records shipped again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections import deque

import orjson

from wal.records import HEADER_SIZE, RecordType, checksum, decode_header

from .protocol import K_REQUEST, K_WAL, K_WAL_ACK, WAL_ACK, WAL_BATCH, frame
from .replication import ReplicationError, read_frame, auth_token

log = logging.getLogger("cairn.ha")

BUCKET_RECORDS = (RecordType.BUCKET_PUT, RecordType.BUCKET_DELETE)


def replication_address(primary: str, shard: int, timeout: float = 2.0) -> tuple[str, int]:
    """Ask the primary's HTTP endpoint where shard ``shard`` ships its log (blocking: run it in a thread)."""
    with urllib.request.urlopen(f"http://{primary}/_cairn/ha", timeout=timeout) as r:
        state = json.loads(r.read())
    host = primary.rsplit(":", 1)[0].strip("[]")
    for s in state["shards"]:
        if s["number"] == shard:
            port = s.get("replication_port")
            if not port:
                raise ReplicationError(f"{primary} shard {shard} is not shipping its log ({s.get('role')})")
            return host, port
    raise ReplicationError(f"{primary} has no shard {shard}: both nodes need the same --shards")


class Standby:
    def __init__(self, shard, ha, settings: dict) -> None:
        self.shard = shard
        self.ha = ha
        self.store = shard.store
        self.wal = shard.store.wal
        self.secret = settings.get("secret_key") or ""
        self.advertise = settings.get("advertise") or ""
        self.primary_lsn = 0   # the primary's last written LSN, as of the last frame
        self.applied = self.wal.last_lsn
        self.connected = False
        self.error = ""
        self._pending: deque = deque()  # (lsn, type, payload, loc) appended, awaiting commit and apply
        self._task: asyncio.Task | None = None
        self._writer = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._writer is not None:
            self._writer.close()
        self.connected = False

    def state(self) -> dict:
        return {"standby_connected": self.connected, "applied_lsn": self.applied, "primary_lsn": self.primary_lsn,
                "lag_records": max(self.primary_lsn - self.applied, 0), "stream_error": self.error}

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                await self._follow()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- any failure: drop the connection and start again
                reason = str(exc) or type(exc).__name__
                if reason != self.error:
                    log.warning("shard %d: replication from %s: %s", self.shard.number, self.ha.role.primary, reason)
                self.error = reason
            finally:
                self.connected = False
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _follow(self) -> None:
        role = self.ha.role
        host, port = await asyncio.to_thread(replication_address, role.primary, self.shard.number)
        reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        hello = {"op": "replicate", "from": self.wal.last_lsn + 1, "epoch": role.epoch, "history": role.history,
                 "segment_size": self.wal.segment_size, "advertise": self.advertise,
                 "auth": auth_token(self.secret, self.shard.number)}
        writer.write(frame(0, K_REQUEST, orjson.dumps(hello)))
        _, meta = await read_frame(reader)
        answer = orjson.loads(meta)
        if "error" in answer:
            raise ReplicationError(answer["error"])
        if answer["epoch"] < role.epoch:
            raise ReplicationError(f"{role.primary} has epoch {answer['epoch']}, older than ours ({role.epoch}): "
                                   "it is a stale primary, not following it")
        if answer.get("truncate_to") is not None:
            self.ha.rejoin(answer["truncate_to"])
            return
        self.ha.adopt(answer["epoch"], answer["history"])
        self.connected, self.error = True, ""
        log.info("shard %d: following %s (epoch %d) from lsn %d", self.shard.number, role.primary, answer["epoch"],
                 hello["from"])
        while True:
            kind, payload = await read_frame(reader)
            if kind == K_WAL:
                last = self._append(payload)
                asyncio.ensure_future(self._commit(last, writer))

    def _append(self, payload: bytes) -> int:
        segment, offset, self.primary_lsn = WAL_BATCH.unpack_from(payload)
        data = memoryview(payload)[WAL_BATCH.size:]
        pos = last = 0
        while pos < len(data):
            h = decode_header(data[pos:pos + HEADER_SIZE])
            body = data[pos + HEADER_SIZE:pos + HEADER_SIZE + h.length]
            if len(body) != h.length or checksum(h, body) != h.crc:
                raise ReplicationError(f"record {h.lsn} arrived damaged (CRC32C mismatch)")
            last, loc = self.wal.append_at(h.lsn, h.type, body, h.flags, segment)
            if (loc.segment, loc.offset) != (segment, offset + pos + HEADER_SIZE):
                self.ha.diverged(f"record {last} landed at {loc.segment}:{loc.offset}, the primary has it at "
                                 f"{segment}:{offset + pos + HEADER_SIZE}")
                raise ReplicationError("log layout differs from the primary's")
            if h.type != RecordType.CHUNK:
                self._pending.append((last, h.type, bytes(body), loc))
            pos += HEADER_SIZE + h.length
        return last

    async def _commit(self, lsn: int, writer) -> None:
        try:
            await self.wal.commit(lsn)
        except Exception as exc:  # noqa: BLE001
            log.error("shard %d: standby commit failed: %s", self.shard.number, exc)
            writer.close()
            return
        self._apply_through(lsn)
        if lsn > self.applied:
            self.applied = lsn
            if not writer.is_closing():
                writer.write(frame(0, K_WAL_ACK, WAL_ACK.pack(lsn)))

    async def drain(self) -> None:
        """Commit and apply everything already appended (promotion: the first own write must come after)."""
        lsn = self.wal.last_lsn
        await self.wal.commit(lsn)
        self._apply_through(lsn)
        self.applied = max(self.applied, lsn)

    def _apply_through(self, lsn: int) -> None:
        store, pending = self.store, self._pending
        while pending and pending[0][0] <= lsn:
            rec_lsn, rtype, body, loc = pending.popleft()
            store.apply(rtype, rec_lsn, body, loc)
            store.rejected.pop(rec_lsn, None)  # nobody here waits for a conditional write's outcome
            if rtype in BUCKET_RECORDS:
                name = orjson.loads(body)["name"]
                asyncio.ensure_future(self.shard.broadcast(name, store.buckets.get(name)))
