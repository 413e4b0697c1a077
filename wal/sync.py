"""When the log is fsynced: sync policies, presets, and the flusher task.

The flusher decides *when*; the log decides *what* an fsync covers (see
`Syncable`). Loss windows on power failure or kernel crash (a killed process
loses nothing: its writes are already in the page cache):

* always    -- nothing acknowledged is lost: commit(lsn) returns only after an
               fdatasync that began after lsn was written has completed.
               Concurrent committers share one fsync (group commit), unless
               `group_commit` is off: then every commit waits for an fsync of
               its own, one at a time (the reference group commit is measured
               against: bench/put_group_commit.py; same loss window).
* periodic  -- up to interval_ms + one fsync's duration of acknowledged writes.
* threshold -- up to threshold_bytes (plus whatever arrives during one fsync)
               of acknowledged writes, with no bound in time while the log is
               idle below the threshold.
* none      -- everything since the last segment rotation or close; the OS
               decides when dirty pages reach the disk (typically ~30 s).
"""
from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Literal, Protocol

Mode = Literal["none", "periodic", "threshold", "always"]
MODES = ("none", "periodic", "threshold", "always")


@dataclass(frozen=True)
class SyncPolicy:
    mode: Mode
    interval_ms: int = 100
    threshold_bytes: int = 1 << 20
    group_commit: bool = True  # only `always` syncs per commit; off: one fsync per commit

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"sync mode must be one of {MODES}, got {self.mode!r}")
        if self.interval_ms <= 0 or self.threshold_bytes <= 0:
            raise ValueError("interval_ms and threshold_bytes must be positive")


PRESETS: dict[str, SyncPolicy] = {
    "performance": SyncPolicy("none"),
    # 100 ms: an fdatasync here costs well under 1 ms, so ~1% of one disk's
    # time buys a loss window users perceive as "the last moment".
    "balanced": SyncPolicy("periodic", interval_ms=100),
    "durable": SyncPolicy("always"),
}


def policy_for(preset: str, **overrides) -> SyncPolicy:
    try:
        base = PRESETS[preset.lower()]
    except KeyError:
        raise ValueError(f"unknown durability preset {preset!r}; choose from {sorted(PRESETS)}") from None
    return dataclasses.replace(base, **overrides)


class Observer(Protocol):
    def fsync(self, seconds: float, records: int) -> None:
        """Called after each fsync with its duration and how many records it made durable."""


class SyncFailed(OSError):
    """An fsync failed. The log refuses further work: after a failed fsync the
    kernel may have dropped the dirty pages, so retrying could report data as
    durable that never reached the disk. Restart and recover instead."""


class Syncable(Protocol):
    @property
    def last_lsn(self) -> int: ...
    @property
    def durable_lsn(self) -> int: ...
    def seals_pending(self) -> bool: ...
    async def sync(self, include_active: bool, *, force: bool = False) -> None: ...


class Flusher:
    """The single task that issues fsyncs for one log, so at most one is in
    flight and every committer that arrives meanwhile shares the next one."""

    def __init__(self, policy: SyncPolicy, target: Syncable) -> None:
        self.policy = policy
        self.loop = asyncio.get_running_loop()
        self.error: BaseException | None = None
        self._target = target
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._pending_bytes = 0
        self._tick_due = False
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None
        if policy.mode == "periodic":
            self._timer = self.loop.call_later(policy.interval_ms / 1000, self._tick)
        self._task = self.loop.create_task(self._run(), name="wal-flusher")

    # -- called by the log (synchronously, on the loop) ------------------------

    def appended(self, nbytes: int) -> None:
        self._pending_bytes += nbytes
        if self.policy.mode == "threshold" and self._pending_bytes >= self.policy.threshold_bytes:
            self._wake.set()

    def sealed(self) -> None:
        self._wake.set()

    def wants_writes(self) -> bool:
        """An fsync is about to be issued for committers already waiting: an
        asynchronous backend can hold its queued writes back to link them in
        front of it (one submission per group commit)."""
        return self.policy.mode == "always" and bool(self._waiters)

    async def wait_durable(self, lsn: int) -> None:
        if self.error is not None:
            raise SyncFailed("an earlier fsync failed") from self.error
        if self.policy.mode != "always":
            return
        if self.policy.group_commit and lsn <= self._target.durable_lsn:
            return
        future = self.loop.create_future()
        self._waiters.append((lsn, future))
        self._wake.set()
        await future

    async def close(self) -> None:
        """Stop after one last full sync (every policy syncs on close)."""
        self._closing = True
        self._wake.set()
        await self._task
        if self.error is not None:
            raise SyncFailed("fsync failed") from self.error

    # -- the task --------------------------------------------------------------

    def _tick(self) -> None:
        self._tick_due = True
        self._wake.set()
        self._timer = self.loop.call_later(self.policy.interval_ms / 1000, self._tick)

    async def _run(self) -> None:
        try:
            while not self._closing:
                await self._wake.wait()
                self._wake.clear()
                await self._step()
            await self._sync(include_active=True)
        except Exception as exc:  # noqa: BLE001 -- any failure poisons the log
            self._fail(exc)
        finally:
            if self._timer is not None:
                self._timer.cancel()

    async def _step(self) -> None:
        mode = self.policy.mode
        if mode == "always":
            # Waiters that arrive during an fsync wait for the next one: their
            # writes may not be covered by the one in flight.
            while self._waiters:
                if self.policy.group_commit:
                    await self._sync(include_active=True)
                else:
                    await self._sync_first()
        elif mode == "threshold":
            if self._pending_bytes >= self.policy.threshold_bytes:
                await self._sync(include_active=True)
        elif mode == "periodic":
            if self._tick_due:
                self._tick_due = False
                if self._target.last_lsn > self._target.durable_lsn:
                    await self._sync(include_active=True)
        if self._target.seals_pending():
            await self._sync(include_active=False)

    async def _sync(self, include_active: bool) -> None:
        if include_active:
            # Bytes appended during this fsync count towards the next one.
            self._pending_bytes = 0
        await self._target.sync(include_active)
        self._release(self._target.durable_lsn)

    async def _sync_first(self) -> None:
        """Group commit off: one fsync for the longest-waiting committer
        alone, even when an earlier fsync already covered its record."""
        lsn, future = self._waiters.pop(0)
        if future.done():  # cancelled: nobody to sync for
            return
        self._pending_bytes = 0
        try:
            await self._target.sync(True, force=True)
        except BaseException:
            self._waiters.insert(0, (lsn, future))  # _fail() reports the error to it
            raise
        if not future.done():
            future.set_result(None)

    def _release(self, durable: int) -> None:
        waiting, self._waiters = self._waiters, []
        for lsn, future in waiting:
            if future.done():  # the committer was cancelled
                continue
            if lsn <= durable:
                future.set_result(None)
            else:
                self._waiters.append((lsn, future))

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        waiting, self._waiters = self._waiters, []
        for _, future in waiting:
            if not future.done():
                err = SyncFailed(f"fsync failed: {exc}")
                err.__cause__ = exc
                future.set_exception(err)
