"""One router's connection to this shard: demultiplexes frames into exchanges and runs the op for each.

Synchronous ops (HEAD, list pages, small GETs) answer inline from ``frames_received``: no task, no extra loop
turn. Ops that must wait for the log's commit run as tasks. A GET body larger than the window streams from
a task that waits for the router's CREDIT, so a slow client can't make the shard buffer its object in memory.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import itertools
import logging
import time

import orjson

from wal.log import LogClosed
from wal.records import CorruptRecord
from wal.sync import SyncFailed

from . import buckets, copying, multipart, multipart_listing, objects, tags
from .errors import S3Error
from .protocol import (CREDIT, INLINE_BODY, K_CANCEL, K_CREDIT, K_DATA, K_END, K_PUSH, K_PUSH_ACK, K_REQUEST,
                       K_RESPONSE, MAX_DATA_FRAME, response_body_frame,
                       WINDOW, Cork, frame, frame_header)
from .frame_receiver import FrameReceiver

log = logging.getLogger("cairn.shard")

RESTARTING = S3Error("ServiceUnavailable", "The shard is restarting; retry the request.").to_wire()
# The data directory refuses writes (made read-only, or its file system remounted read-only after an error).
# S3 has no code for this; like a store that lost its write quorum we answer 503 ServiceUnavailable, which
# clients retry, and go on serving reads. Writes resume by themselves once new files can be made again.
UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)
_last_unwritable_log = 0.0


def unwritable(exc: OSError) -> dict:
    global _last_unwritable_log
    if time.monotonic() - _last_unwritable_log > 10:  # one line per 10 s, not one per refused request
        _last_unwritable_log = time.monotonic()
        log.error("writes refused: the data directory is not writable (%s); reads go on", exc)
    if isinstance(exc, SyncFailed):  # the log can't vouch for its tail any more: only a restart recovers it
        return S3Error("ServiceUnavailable", "The shard could not write its log; writes are refused until it "
                       "is restarted on writable storage. Reads are served.").to_wire()
    return S3Error("ServiceUnavailable", f"The shard's data directory is not writable ({exc.strerror}); writes "
                   "are refused until it is. Reads are served.").to_wire()


def error_reply(exc: BaseException) -> dict:
    if isinstance(exc, S3Error):
        return exc.to_wire()
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:  # the disk is full, reads still work
        return S3Error("InsufficientStorage").to_wire()
    if isinstance(exc, SyncFailed) or (isinstance(exc, OSError) and exc.errno in UNWRITABLE):
        return unwritable(exc)
    if isinstance(exc, LogClosed):  # the shard is stopping; the client's retry reaches it restarted
        return RESTARTING
    if isinstance(exc, CorruptRecord):  # S3 has no code for damaged data: InternalError (500), as AWS answers
        log.error("damaged object data: %s", exc)
        return S3Error("InternalError", "The stored data of this object is damaged (CRC32C mismatch found by "
                       "recovery or on read); it cannot be served.").to_wire()
    log.exception("shard op failed", exc_info=exc)
    return S3Error("InternalError").to_wire()


class BodyStream:
    """Streams a GET body within the router's credit window."""

    __slots__ = ("conn", "req_id", "window", "wake", "task")

    def __init__(self, conn: "RouterConnection", req_id: int) -> None:
        self.conn = conn
        self.req_id = req_id
        self.window = WINDOW
        self.wake = asyncio.Event()
        self.task = None

    def credit(self, n: int) -> None:
        self.window += n
        self.wake.set()

    async def run(self, spans) -> None:
        wal = self.conn.store.wal
        try:
            for loc, at, n in spans:
                while self.window <= 0:
                    self.wake.clear()
                    await self.wake.wait()
                piece = await wal.read_async(loc, at, n)
                self.conn.send_data(self.req_id, piece)
                self.window -= len(piece)
            self.conn.send(self.req_id, K_END)
        except Exception:
            log.exception("GET body stream failed")
            self.conn.send(self.req_id, K_END, orjson.dumps({"error": "InternalError"}))
        finally:
            self.conn.streams.pop(self.req_id, None)


# Ops whose request carries a body: op name -> class(store, meta) with feed(bytes) and finish(end_meta), the
# latter returning a reply dict or an awaitable of one (see objects.Upload).
UPLOADS = {"put": objects.Upload, "mpu_part": multipart.PartUpload}

# op name -> handler(shard, meta) returning a reply dict or an awaitable of one. Ops that stream a request
# body (put) or a response body (get) are handled by the connection itself, above the table.
OPS = {
    "delete": lambda shard, meta: objects.delete(shard.store, meta),
    "list": lambda shard, meta: objects.list_page(shard.store, meta),
    "bucket_create": lambda shard, meta: buckets.create(shard.store, meta, shard.broadcast),
    "bucket_delete": lambda shard, meta: buckets.delete(shard.store, meta, shard.broadcast),
    "bucket_configure": lambda shard, meta: buckets.configure(shard.store, meta, shard.broadcast),
    "bucket_snapshot": lambda shard, meta: buckets.snapshot(shard.store),
    "mpu_create": lambda shard, meta: multipart.create(shard.store, meta),
    "mpu_complete": lambda shard, meta: multipart.complete(shard.store, meta),
    "mpu_abort": lambda shard, meta: multipart.abort(shard.store, meta),
    "mpu_parts": lambda shard, meta: multipart_listing.list_parts(shard.store, meta),
    "mpu_list": lambda shard, meta: multipart_listing.list_uploads(shard.store, meta),
    "part_range": lambda shard, meta: multipart_listing.part_range(shard.store, meta),
    "bucket_count": lambda shard, meta: buckets.count_objects(shard.store, meta),
    "delete_many": lambda shard, meta: objects.delete_many(shard.store, meta),
    "list_versions": lambda shard, meta: objects.list_versions(shard.store, meta),
    "copy": lambda shard, meta: copying.copy(shard.store, meta),
    "tagging_get": lambda shard, meta: tags.get(shard.store, meta),
    "tagging_put": lambda shard, meta: tags.put(shard.store, meta),
    "attributes": lambda shard, meta: objects.attributes(shard.store, meta),
    "ha_state": lambda shard, meta: shard.ha.state(meta),
    "ha_promote": lambda shard, meta: shard.ha.promote(meta),
    "ha_demote": lambda shard, meta: shard.ha.demote(meta),
    "ha_unfence": lambda shard, meta: shard.ha.unfence(meta),
    "ha_fence": lambda shard, meta: shard.ha.fence(meta),
}


class RouterConnection(FrameReceiver):
    def __init__(self, shard) -> None:
        self.shard = shard
        self.store = shard.store
        self.uploads: dict = {}
        self.streams: dict[int, BodyStream] = {}
        self.pushes: dict[int, asyncio.Future] = {}  # push sequence number -> resolved by the router's ack
        self.push_seq = 0
        self.pending = 0  # ops awaiting their log commit
        self.transport = None

    # -- transport ------------------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.cork = Cork(transport, asyncio.get_running_loop())
        self.shard.routers.add(self)

    def connection_lost(self, exc) -> None:
        self.shard.routers.discard(self)
        for ack in self.pushes.values():  # a router that is gone has nothing stale left to serve
            if not ack.done():
                ack.set_result(None)
        self.pushes.clear()
        self.uploads.clear()  # uncommitted uploads simply never get a PUT record
        for s in list(self.streams.values()):
            if s.task is not None:
                s.task.cancel()
        self.streams.clear()

    def busy(self) -> bool:
        """Whether a request of this router's is still in flight (the shard drains these before it stops)."""
        return bool(self.pending or self.uploads or self.streams)

    def send(self, req_id: int, kind: int, payload: bytes = b"") -> None:
        self.cork.write(frame(req_id, kind, payload))

    def send_data(self, req_id: int, data: bytes) -> None:
        self.cork.write(frame_header(req_id, K_DATA, len(data)), data)

    def respond(self, req_id: int, meta: dict) -> None:
        self.send(req_id, K_RESPONSE, orjson.dumps(meta))

    def push(self, name: str, cfg: dict | None) -> asyncio.Future:
        self.push_seq += 1
        ack = self.pushes[self.push_seq] = asyncio.get_running_loop().create_future()
        self.send(self.push_seq, K_PUSH, orjson.dumps({"name": name, "cfg": cfg}))
        return ack

    # -- frames ---------------------------------------------------------------------------------------------
    def frames_received(self, frames: list) -> None:
        for req_id, kind, payload in frames:
            if kind == K_DATA:
                up = self.uploads.get(req_id)
                if up is not None:
                    try:
                        up.feed(payload)
                    except Exception as exc:
                        del self.uploads[req_id]
                        self.respond(req_id, error_reply(exc))
            elif kind == K_REQUEST:
                self.on_request(req_id, orjson.loads(payload))
            elif kind == K_END:
                up = self.uploads.pop(req_id, None)
                if up is not None:
                    self.run(req_id, lambda: up.finish(orjson.loads(payload) if payload else {}))
            elif kind == K_PUSH_ACK:
                ack = self.pushes.pop(req_id, None)
                if ack is not None and not ack.done():
                    ack.set_result(None)
            elif kind == K_CREDIT:
                s = self.streams.get(req_id)
                if s is not None:
                    s.credit(CREDIT.unpack(payload)[0])
            elif kind == K_CANCEL:
                self.uploads.pop(req_id, None)
                s = self.streams.pop(req_id, None)
                if s is not None and s.task is not None:
                    s.task.cancel()

    def on_request(self, req_id: int, meta: dict) -> None:
        op = meta["op"]
        if self.shard.draining:
            self.respond(req_id, RESTARTING)
            return
        refused = self.shard.ha.refusal(op)  # a standby's log grows only by shipped records (shards/ha.py)
        if refused is not None:
            self.respond(req_id, refused)
            return
        upload = UPLOADS.get(op)
        if upload is not None:
            try:
                self.uploads[req_id] = upload(self.store, meta)
            except Exception as exc:
                self.respond(req_id, error_reply(exc))
        elif op == "get" or op == "head":
            self.on_read(req_id, meta, op == "get")
        elif op == "ping":
            self.respond(req_id, {"shard": self.shard.number, "recovery_seconds": self.store.recovery_seconds})
        else:
            handler = OPS.get(op)
            if handler is None:
                self.respond(req_id, S3Error("NotImplemented", f"unknown shard op {op!r}").to_wire())
            else:
                self.run(req_id, lambda: handler(self.shard, meta))

    def run(self, req_id: int, call) -> None:
        """Run an op: answer now if it is synchronous, else when its coroutine (a log commit) finishes."""
        try:
            result = call()
        except Exception as exc:
            self.respond(req_id, error_reply(exc))
            return
        if inspect.isawaitable(result):
            self.pending += 1
            asyncio.ensure_future(self._finish(req_id, result))
        else:
            self.respond(req_id, result)

    async def _finish(self, req_id: int, awaitable) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            result = error_reply(exc)
        finally:
            self.pending -= 1
        self.respond(req_id, result)

    def on_read(self, req_id: int, meta: dict, with_body: bool) -> None:
        try:
            reply, entry, rng = objects.head(self.store, meta)
            if with_body and any(self.store.wal.damaged(loc) for loc in entry.get("loc") or ()):
                # Fail before the 200 goes out: a damaged object is an error, never bad or missing bytes.
                raise CorruptRecord(f"{meta.get('bucket')}/{meta.get('key')}: data in a corrupt log range")
        except Exception as exc:
            self.respond(req_id, error_reply(exc))
            return
        length = entry["size"] if rng is None else rng[1] - rng[0] + 1
        with_body = with_body and length > 0
        reply["body"] = with_body
        gens = self.store.index.generations
        if gens is not None and rng is None and "vid" not in meta:
            reply["gen"] = gens.of(meta["bucket"], meta["key"])  # the key's latest, as of this very step
        if with_body and length <= INLINE_BODY:
            try:  # read before answering: a failed read is then an error reply, not a cut body
                data = b"".join(objects.read_pieces(self.store, entry, rng, MAX_DATA_FRAME))
            except Exception as exc:
                self.respond(req_id, error_reply(exc))
                return
            self.cork.write(response_body_frame(req_id, orjson.dumps(reply), data))
            return
        self.respond(req_id, reply)
        if not with_body:
            return
        spans = objects.read_spans(entry, rng, MAX_DATA_FRAME)
        if length <= WINDOW:  # fits the router's window: sent at once, from the page cache
            wal = self.store.wal
            try:
                for loc, at, n in spans:
                    piece = wal.read_cached(loc, at, n)
                    if piece is None:  # on disk: this piece and the rest are read off the loop
                        self._stream(req_id, itertools.chain(((loc, at, n),), spans))
                        return
                    self.send_data(req_id, piece)
                self.send(req_id, K_END)
            except Exception:
                log.exception("GET read failed")
                self.send(req_id, K_END, orjson.dumps({"error": "InternalError"}))
            return
        self._stream(req_id, spans)

    def _stream(self, req_id: int, spans) -> None:
        stream = BodyStream(self, req_id)
        self.streams[req_id] = stream
        stream.task = asyncio.ensure_future(stream.run(spans))
        token = self.store.pin()  # compaction keeps the data this read points at until the stream ends
        stream.task.add_done_callback(lambda _task: self.store.unpin(token))
