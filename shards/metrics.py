"""Shard-side Prometheus metrics (multiprocess mode: the supervisor sets PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WAL_FSYNCS = Counter("cairn_wal_fsyncs", "WAL fsyncs", ["shard"])
WAL_FSYNC_SECONDS = Histogram("cairn_wal_fsync_seconds", "WAL fsync latency", ["shard"],
                              buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1))
WAL_BATCH = Histogram("cairn_wal_group_commit_records", "Records made durable by one fsync", ["shard"],
                      buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024))
WAL_IO_BACKEND = Gauge("cairn_wal_io_backend", "1 for the I/O backend the shard's WAL uses", ["shard", "backend"],
                       multiprocess_mode="max")
WAL_RECOVERY_SECONDS = Gauge("cairn_wal_recovery_seconds", "Duration of the shard's last log recovery", ["shard"],
                             multiprocess_mode="max")
WAL_CORRUPT_RANGES = Gauge("cairn_wal_corrupt_ranges", "Corrupt log ranges found by the last recovery", ["shard"],
                           multiprocess_mode="max")
INDEX_CHECKPOINTS = Counter("cairn_index_checkpoints", "Index checkpoints written", ["shard"])
INDEX_CHECKPOINT_LSN = Gauge("cairn_index_checkpoint_lsn", "LSN the last index checkpoint covers", ["shard"],
                             multiprocess_mode="max")
COMPACTION_SEGMENTS = Counter("cairn_compaction_segments_removed", "Log segment files compaction removed", ["shard"])
COMPACTION_BYTES = Counter("cairn_compaction_reclaimed_bytes", "Bytes of segment files compaction removed",
                           ["shard"])
COMPACTION_MOVED = Counter("cairn_compaction_moved_bytes", "Live bytes compaction copied to the log's end", ["shard"])


class EngineMetrics:
    """Checkpoint and compaction events, reported by shards/store.py and shards/compaction.py."""

    def __init__(self, shard: int) -> None:
        label = str(shard)
        self._checkpoints = INDEX_CHECKPOINTS.labels(label)
        self._checkpoint_lsn = INDEX_CHECKPOINT_LSN.labels(label)
        self._segments = COMPACTION_SEGMENTS.labels(label)
        self._reclaimed = COMPACTION_BYTES.labels(label)
        self._moved = COMPACTION_MOVED.labels(label)

    def checkpointed(self, lsn: int) -> None:
        self._checkpoints.inc()
        self._checkpoint_lsn.set(lsn)

    def moved(self, nbytes: int) -> None:
        self._moved.inc(nbytes)

    def removed(self, nbytes: int) -> None:
        self._segments.inc()
        self._reclaimed.inc(nbytes)


class WalMetrics:
    """The WAL's observer: wal/ knows nothing of Prometheus, the shard wires it here."""

    def __init__(self, shard: int) -> None:
        label = self._label = str(shard)
        self._count = WAL_FSYNCS.labels(label)
        self._seconds = WAL_FSYNC_SECONDS.labels(label)
        self._batch = WAL_BATCH.labels(label)

    def backend(self, name: str) -> None:
        for other in ("io_uring", "threadpool"):
            WAL_IO_BACKEND.labels(self._label, other).set(1 if other == name else 0)

    def recovered(self, report) -> None:
        WAL_RECOVERY_SECONDS.labels(self._label).set(report.seconds)
        WAL_CORRUPT_RANGES.labels(self._label).set(len(report.corrupt_ranges))

    def fsync(self, seconds: float, records: int) -> None:
        self._count.inc()
        self._seconds.observe(seconds)
        self._batch.observe(records)
