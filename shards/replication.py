"""The primary side of WAL shipping (DESIGN §5): stream this shard's log, in LSN order, to its standby.

A standby connects to the shard's replication port (TCP, the framing of shards/protocol.py), says from which LSN
it needs records, and gets WAL frames: whole records exactly as they sit in the segment files, read back from
disk. Reading from the files rather than from a queue of recent appends makes catching up and following the
tail one loop — a standby that starts empty copies every segment, then keeps pace — and costs the primary no
memory however far behind the standby is.

Modes: ``async`` acknowledges clients after the local commit; the lag is a metric. ``sync`` also waits for
the standby to acknowledge the record; if it does not within ``sync_timeout_ms`` (or no standby is caught up)
the primary carries on alone — "degraded", said in the log, the metrics and /_cairn/health — and waits again
once a standby has caught up.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections import deque

import orjson
from prometheus_client import Counter, Gauge

from wal.records import HEADER_SIZE, CorruptRecord, decode_header

from .protocol import HEADER, K_REQUEST, K_RESPONSE, K_WAL, K_WAL_ACK, WAL_ACK, WAL_BATCH, frame, frame_header

log = logging.getLogger("cairn.ha")

LAG_RECORDS = Gauge("cairn_replication_lag_records", "Records the standby has not acknowledged", ["shard"],
                    multiprocess_mode="mostrecent")
LAG_SECONDS = Gauge("cairn_replication_lag_seconds", "Age of the oldest record the standby has not acknowledged",
                    ["shard"], multiprocess_mode="mostrecent")
CONNECTED = Gauge("cairn_replication_standby_connected", "1 while a standby streams from this shard", ["shard"],
                  multiprocess_mode="mostrecent")
DEGRADED = Gauge("cairn_replication_sync_degraded", "1 while sync replication runs without its standby",
                 ["shard"], multiprocess_mode="mostrecent")
TIMEOUTS = Counter("cairn_replication_sync_timeouts", "Writes acknowledged without the standby after the timeout",
                   ["shard"])

BATCH_BYTES = 1 << 20      # records per WAL frame (a bigger record travels alone)
READ_WINDOW = 64 << 10     # bytes per pread of the segment files
WINDOW_BYTES = 8 << 20     # shipped but unacknowledged bytes before the streamer waits for the standby
TICK = 0.01                # how often new records, sync timeouts and lag gauges are looked at
IDLE_TICK = 0.25           # the same with no standby connected (a lone primary pays next to nothing)


def auth_token(secret: str, shard: int) -> str:
    """What a standby proves it knows the cluster secret with (replication should still run on a trusted
    network: the stream itself is neither encrypted nor signed)."""
    return hmac.new(secret.encode(), f"cairn-replication/{shard}".encode(), hashlib.sha256).hexdigest()


class ReplicationError(Exception):
    pass


class LogCursor:
    """Reads whole records (header + payload, as on disk) from a log's segments, from a given LSN on."""

    def __init__(self, wal, lsn: int) -> None:
        self.wal = wal
        self.next = lsn
        self.segment, self.offset = self._locate(lsn)

    def _first_lsn(self, segment: int) -> int | None:
        try:
            return decode_header(os.pread(self.wal.fd_for(segment), HEADER_SIZE, 0)).lsn
        except (CorruptRecord, KeyError):
            return None

    def _locate(self, lsn: int) -> tuple[int, int]:
        segments = self.wal.segments
        start = segments[0] if segments else 1
        for seg in segments:  # the last segment that starts at or before lsn
            first = self._first_lsn(seg)
            if first is not None and first <= lsn:
                start = seg
        offset = 0
        fd = self.wal.fd_for(start) if segments else -1
        while fd >= 0:
            try:
                h = decode_header(os.pread(fd, HEADER_SIZE, offset))
            except CorruptRecord:
                break
            if h.lsn >= lsn:
                break
            offset += HEADER_SIZE + h.length
        return start, offset

    def read(self, limit: int, max_bytes: int = BATCH_BYTES) -> tuple[int, int, bytes, int] | None:
        """Records from the cursor through at most LSN ``limit``, all in one segment: (segment, offset of the
        first, their bytes, last LSN), or None when ``limit`` is already shipped. Reads go by READ_WINDOW, so
        following the tail costs a small pread per batch, not a batch-sized one."""
        while self.next <= limit:
            fd = self.wal.fd_for(self.segment)
            parts, size, lsn, off, ended = [], 0, self.next, self.offset, False
            while lsn <= limit and size < max_bytes and not ended:
                buf = os.pread(fd, READ_WINDOW, off)
                pos = 0
                while lsn <= limit and len(buf) - pos >= HEADER_SIZE:
                    try:
                        h = decode_header(buf[pos:pos + HEADER_SIZE])
                    except CorruptRecord:
                        h = None
                    if h is None or h.lsn != lsn:
                        ended = True  # padding: the rest of this LSN range is in the next segment
                        break
                    record = HEADER_SIZE + h.length
                    if len(buf) - pos < record:
                        if pos == 0:  # bigger than a window: read it whole
                            buf, pos, lsn = os.pread(fd, record, off), record, lsn + 1
                        break
                    pos, lsn = pos + record, lsn + 1
                if pos == 0:
                    break
                parts.append(buf if pos == len(buf) else buf[:pos])
                size, off = size + pos, off + pos
            if parts:
                start, self.offset, self.next = self.offset, off, lsn
                return self.segment, start, parts[0] if len(parts) == 1 else b"".join(parts), lsn - 1
            if self.segment + 1 not in self.wal.segments:
                raise ReplicationError(f"lsn {self.next} is not in segment {self.segment} or after it")
            self.segment, self.offset = self.segment + 1, 0
        return None


class Replicator:
    """Serves standbys of one primary shard and tells its writers (Store.replicate) when they may answer."""

    def __init__(self, shard, ha, settings: dict) -> None:
        self.shard = shard
        self.ha = ha
        self.wal = shard.store.wal
        self.sync = settings.get("replication") == "sync"
        self.timeout = (settings.get("sync_timeout_ms") or 1000) / 1000
        self.secret = settings.get("secret_key") or ""
        self.wake = asyncio.Event()
        self.acked = 0            # the connected standby has written and applied every record through this
        self.stream = None        # the one connected standby's writer
        self.synced = False       # sync mode: writers wait for the standby (it is connected and caught up)
        self.degraded_reason = "no standby has caught up yet" if self.sync else ""
        self.waiters: deque = deque()   # (lsn, since, future) of writers waiting for the standby
        self.pending: deque = deque()   # (lsn, committed at) not yet acknowledged, for the lag in seconds
        self.unshipped_since: float | None = None  # first commit with no standby connected
        self.port = 0
        label = str(shard.number)
        self._lag_records, self._lag_seconds = LAG_RECORDS.labels(label), LAG_SECONDS.labels(label)
        self._connected, self._degraded, self._timeouts = (CONNECTED.labels(label), DEGRADED.labels(label),
                                                           TIMEOUTS.labels(label))
        self._connected.set(0)
        self._degraded.set(1 if self.sync else 0)
        self._ticker = None
        self._server = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.ensure_future(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
        self._drop_stream()
        self._release_all()
        self.wake.set()

    # -- the writers' side (Store.replicate) -----------------------------------------------------------------
    async def replicated(self, lsn: int) -> None:
        """Called by Store after ``lsn`` committed locally; returns when the client may be answered."""
        if self.stream is not None:
            if len(self.pending) < 100_000:
                self.pending.append((lsn, time.monotonic()))
            self.wake.set()
        elif self.unshipped_since is None:
            self.unshipped_since = time.monotonic()
        if not self.synced or lsn <= self.acked:
            return
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((lsn, time.monotonic(), future))
        await future

    def state(self) -> dict:
        return {"mode": "sync" if self.sync else "async", "standby_connected": self.stream is not None,
                "acked_lsn": self.acked, "lag_records": self.lag_records(), "lag_seconds": self.lag_seconds(),
                "sync_degraded": self.sync and not self.synced, "degraded_reason": self.degraded_reason,
                "replication_port": self.port}

    def lag_records(self) -> int:
        return max(self.wal.last_lsn - self.acked, 0)

    def lag_seconds(self) -> float:
        since = self.pending[0][1] if self.pending else self.unshipped_since
        return 0.0 if since is None else round(time.monotonic() - since, 3)

    # -- acknowledgements and timeouts ---------------------------------------------------------------------
    def _on_ack(self, lsn: int) -> None:
        self.acked = max(self.acked, lsn)
        pending = self.pending
        while pending and pending[0][0] <= lsn:
            pending.popleft()
        waiters = self.waiters
        while waiters and waiters[0][0] <= lsn:
            _, _, future = waiters.popleft()
            if not future.done():
                future.set_result(None)
        self.wake.set()  # the streamer may be waiting for window space
        if self.sync and not self.synced and lsn >= self.wal.last_lsn:
            self.synced, self.degraded_reason = True, ""
            self._degraded.set(0)
            log.warning("shard %d: standby caught up at lsn %d: sync replication resumed", self.shard.number, lsn)

    def _degrade(self, reason: str) -> None:
        if self.synced:
            log.warning("shard %d: %s: sync replication degraded, writes are acknowledged without the standby "
                        "until it catches up", self.shard.number, reason)
        self.synced, self.degraded_reason = False, reason
        self._degraded.set(1)
        self._release_all()

    def _release_all(self) -> None:
        while self.waiters:
            _, _, future = self.waiters.popleft()
            if not future.done():
                future.set_result(None)
                self._timeouts.inc()

    async def _tick(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(TICK if self.stream is not None or self.waiters else IDLE_TICK)
            if self.wal.written_lsn >= self.cursor_next():
                self.wake.set()  # chunks of uploads still in flight ship before their PUT commits
            if self.waiters and time.monotonic() - self.waiters[0][1] > self.timeout:
                self._degrade(f"standby did not acknowledge lsn {self.waiters[0][0]} within "
                              f"{int(self.timeout * 1000)} ms")
            n += 1
            if n % 10 == 0 or self.stream is None:
                self._lag_records.set(self.lag_records())
                self._lag_seconds.set(self.lag_seconds())

    # -- the standby's connection --------------------------------------------------------------------------
    _cursor: LogCursor | None = None

    def cursor_next(self) -> int:
        return self._cursor.next if self._cursor is not None else 1 << 62

    def _drop_stream(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        self._cursor = None
        self._connected.set(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            kind, meta = await read_frame(reader)
            hello = orjson.loads(meta) if kind == K_REQUEST else {}
            answer = self._handshake(hello)
            writer.write(frame(0, K_RESPONSE, orjson.dumps(answer)))
            if "error" in answer or answer.get("truncate_to") is not None:
                await writer.drain()
                return
            if self.stream is not None:
                log.warning("shard %d: a new standby connection replaces the previous one", self.shard.number)
            self._drop_stream()
            self.stream = writer
            self.acked = hello["from"] - 1
            self._cursor = LogCursor(self.wal, hello["from"])
            self._connected.set(1)
            self.ha.role_peer(hello.get("advertise") or "")
            self._on_ack(self.acked)  # a standby that already has everything is in sync at once
            if self.unshipped_since is not None and not self.pending and self.acked < self.wal.last_lsn:
                self.pending.append((self.acked + 1, self.unshipped_since))
            self.unshipped_since = None
            log.info("shard %d: standby %s streams from lsn %d", self.shard.number, hello.get("advertise"),
                     hello["from"])
            acks = asyncio.ensure_future(self._read_acks(reader))
            try:
                await self._ship(writer, self._cursor)
            finally:
                acks.cancel()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        except asyncio.CancelledError:  # the shard is stopping; end the connection's task quietly
            pass
        except ReplicationError as exc:
            log.error("shard %d: replication stopped: %s", self.shard.number, exc)
        finally:
            if self.stream is writer:
                self._drop_stream()
                log.warning("shard %d: standby disconnected at lsn %d", self.shard.number, self.acked)
            writer.close()

    def _handshake(self, hello: dict) -> dict:
        role = self.ha.role
        if not hmac.compare_digest(str(hello.get("auth", "")), auth_token(self.secret, self.shard.number)):
            return {"error": "replication credentials do not match (the nodes need the same --secret-key)"}
        if not role.is_primary or self.ha.fenced:
            return {"error": f"shard {self.shard.number} is not a primary", "primary": role.primary}
        if hello.get("epoch", 0) > role.epoch:
            self.ha.stale(f"a standby knows epoch {hello['epoch']}, newer than ours ({role.epoch})")
            return {"error": f"this primary's epoch {role.epoch} is stale"}
        if hello.get("segment_size") != self.wal.segment_size:
            return {"error": f"segment size {hello.get('segment_size')} differs from the primary's "
                             f"{self.wal.segment_size}: both nodes need the same --segment-size"}
        from .roles import divergence
        cut = divergence(role.history, hello.get("history") or [], hello["from"] - 1)
        if cut is None and hello["from"] - 1 > self.wal.last_lsn:
            cut = self.wal.last_lsn  # ahead of us without a newer epoch: it holds records we lost
        return {"epoch": role.epoch, "history": role.history, "truncate_to": cut,
                "segment_size": self.wal.segment_size}

    async def _read_acks(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, payload = await read_frame(reader)
                if kind == K_WAL_ACK:
                    self._on_ack(WAL_ACK.unpack(payload)[0])
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            if self.stream is not None:
                self.stream.close()

    async def _ship(self, writer: asyncio.StreamWriter, cursor: LogCursor) -> None:
        sent: deque = deque()  # (last lsn, bytes shipped through it) of frames not yet acknowledged
        shipped = acked_bytes = 0
        while self.stream is writer:
            while sent and sent[0][0] <= self.acked:
                acked_bytes = sent.popleft()[1]
            total = shipped - acked_bytes
            batch = None if total >= WINDOW_BYTES else cursor.read(self.wal.written_lsn)
            if batch is None:
                self.wake.clear()
                acked = bool(sent) and sent[0][0] <= self.acked
                if not acked and (total >= WINDOW_BYTES or self.wal.written_lsn < cursor.next):
                    await self.wake.wait()  # an append, an ack or the ticker
                continue
            segment, offset, data, last = batch
            writer.write(frame_header(0, K_WAL, WAL_BATCH.size + len(data)))
            writer.write(WAL_BATCH.pack(segment, offset, self.wal.written_lsn))
            writer.write(data)
            shipped += len(data)
            sent.append((last, shipped))
            await writer.drain()  # the socket's buffers bound what is in flight as much as the window does


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    _, kind, length = HEADER.unpack(await reader.readexactly(HEADER.size))
    return kind, await reader.readexactly(length)
