"""Raw-disk references for the engine benchmarks: what `dd` and `fio` get from the same disk, in the same run.

Every engine figure in bench/wal_append.py and bench/wal_recovery.py is printed as a ratio against one of these,
measured minutes apart on the same file system, so a loaded or slower machine moves both sides alike.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

MiB = 1 << 20


def load() -> str:
    """The load average, to print next to every figure (others' test suites share this machine)."""
    try:
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load ?"


def drop_caches(paths: list[str] = ()) -> str:
    """Empty the page cache before a cold read: the whole cache as root, else the given files' pages
    (posix_fadvise DONTNEED, after an fdatasync so their pages are clean and can go). Says which one it did."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return "drop_caches"
    except OSError:
        pass
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return "fadvise"


def _dd_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    out = subprocess.run(["dd", *args], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    # dd's own figure ("..., 1.72 s, 623 MB/s") excludes its start-up; fall back to the wall clock.
    m = re.search(r"copied, ([0-9.]+) s", out.stderr)
    return float(m.group(1)) if m else elapsed


def dd_write(directory: str, nbytes: int, *, mode: str, block: int = MiB) -> float:
    """MB/s of a sequential write of `nbytes` into a new file: mode `fdatasync` (page cache, one fdatasync at the
    end: conv=fdatasync), `dsync` (each block synced: oflag=dsync) or `direct` (O_DIRECT: oflag=direct)."""
    path = os.path.join(directory, "dd-ref.bin")
    flag = {"fdatasync": "conv=fdatasync", "dsync": "oflag=dsync", "direct": "oflag=direct"}[mode]
    try:
        os.sync()
        seconds = _dd_seconds(["if=/dev/zero", f"of={path}", f"bs={block}", f"count={nbytes // block}", flag])
    finally:
        with_suppressed_unlink(path)
    return nbytes / seconds / 1e6


def dd_read(paths: list[str], block: int = MiB) -> tuple[float, int]:
    """(MB/s, bytes) of a cold sequential read of every file in `paths`, one after another, as recovery reads them."""
    method = drop_caches(paths)
    total, seconds = 0, 0.0
    for path in paths:
        size = os.path.getsize(path)
        seconds += _dd_seconds([f"if={path}", "of=/dev/null", f"bs={block}"])
        total += size
    del method
    return total / seconds / 1e6, total


def fio_available() -> bool:
    return shutil.which("fio") is not None


def fio_write(directory: str, nbytes: int, *, sync_each: bool, block: int = MiB) -> float | None:
    """MB/s of fio's sequential buffered write (psync): with `sync_each` an fdatasync after every block, else one
    at the end (end_fsync). None when fio is not installed."""
    if not fio_available():
        return None
    path = os.path.join(directory, "fio-ref.bin")
    args = ["fio", "--name=ref", f"--filename={path}", "--rw=write", f"--bs={block}", f"--size={nbytes}",
            "--ioengine=psync", "--output-format=json"]
    args.append("--fdatasync=1" if sync_each else "--end_fsync=1")
    try:
        os.sync()
        out = subprocess.run(args, capture_output=True, text=True, check=True)
    finally:
        with_suppressed_unlink(path)
    job = json.loads(out.stdout)["jobs"][0]
    # fio's write bandwidth excludes the end_fsync; job_runtime (ms) includes it.
    runtime_ms = job.get("job_runtime") or job["write"]["runtime"]
    return nbytes / (runtime_ms / 1000) / 1e6


def fio_read(paths: list[str], block: int = MiB) -> float | None:
    """MB/s of fio's cold sequential read of the files (psync), page cache dropped first."""
    if not fio_available():
        return None
    drop_caches(paths)
    total, seconds = 0, 0.0
    for path in paths:
        out = subprocess.run(["fio", "--name=ref", f"--filename={path}", "--rw=read", f"--bs={block}",
                              "--ioengine=psync", "--readonly", "--output-format=json"],
                             capture_output=True, text=True, check=True)
        job = json.loads(out.stdout)["jobs"][0]
        total += job["read"]["io_bytes"]
        seconds += (job.get("job_runtime") or job["read"]["runtime"]) / 1000
    return total / seconds / 1e6


def with_suppressed_unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
