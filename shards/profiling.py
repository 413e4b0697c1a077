"""Opt-in profiling of a server process: CAIRN_PROFILE_DIR=dir makes each process write dir/<role>.prof
(cProfile) when it exits. py-spy cannot see Python frames under uvloop's C callbacks, so this is the tool
for finding where a request's time goes."""

from __future__ import annotations

import atexit
import cProfile
import os


def maybe_profile(role: str) -> None:
    directory = os.environ.get("CAIRN_PROFILE_DIR")
    if not directory:
        return
    prof = cProfile.Profile()
    prof.enable()

    def dump() -> None:
        prof.disable()
        os.makedirs(directory, exist_ok=True)
        prof.dump_stats(os.path.join(directory, f"{role.replace(' ', '-')}.prof"))

    atexit.register(dump)


def maybe_trace_memory(role: str) -> None:
    """CAIRN_TRACEMALLOC_DIR=dir: every CAIRN_TRACEMALLOC_SECONDS (60) the process writes
    dir/<role>-<n>.tracemalloc, a tracemalloc snapshot to diff between two points of a soak
    (`python3 -m shards.profiling A B` prints the largest growths). Python heap only: SQLite's page cache and
    the allocator's free lists are not in it, so compare its total with the RSS to see which side grows."""
    directory = os.environ.get("CAIRN_TRACEMALLOC_DIR")
    if not directory:
        return
    import threading
    import tracemalloc
    tracemalloc.start(12)
    period = float(os.environ.get("CAIRN_TRACEMALLOC_SECONDS", "60"))
    os.makedirs(directory, exist_ok=True)
    stem = os.path.join(directory, role.replace(" ", "-"))

    def dump_every_period() -> None:
        n = 0
        while True:
            threading.Event().wait(period)
            tracemalloc.take_snapshot().dump(f"{stem}-{n:03d}.tracemalloc")
            n += 1

    threading.Thread(target=dump_every_period, name="tracemalloc", daemon=True).start()


def _diff(before: str, after: str, top: int = 25) -> None:
    import tracemalloc
    old, new = tracemalloc.Snapshot.load(before), tracemalloc.Snapshot.load(after)
    print(f"traced: {sum(s.size for s in old.statistics('filename')) / 2**20:.1f} MiB -> "
          f"{sum(s.size for s in new.statistics('filename')) / 2**20:.1f} MiB")
    for stat in new.compare_to(old, "traceback")[:top]:
        print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8d} blocks")
        for line in stat.traceback.format()[-8:]:
            print("   ", line)


if __name__ == "__main__":
    import sys
    _diff(sys.argv[1], sys.argv[2])
