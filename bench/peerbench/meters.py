"""What the benchmark reads from /proc: CPU ticks and RSS of processes, a process's children, host busy time,
and the Meter of one cell."""

from __future__ import annotations

import os
import threading
import time

from bench.peerbench.config import CLK


def proc_ticks_split(pid: int) -> tuple[int, int]:
    """(user, system) CPU ticks of a process, its threads included (io_uring's io-wq workers among them)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0, 0


def proc_ticks(pid: int) -> int:
    return sum(proc_ticks_split(pid))


def _group_ticks(pids) -> tuple[int, int]:
    """(user + system, system) ticks of a group of processes, each /proc/PID/stat read once."""
    total = system = 0
    for pid in pids:
        user, sys_ = proc_ticks_split(pid)
        total += user + sys_
        system += sys_
    return total, system


# /proc/vmstat counters that say whether a cell paid for memory pressure (reclaim, compaction) or writeback
VMSTAT_DELTAS = ("pgscan_kswapd", "pgscan_direct", "allocstall", "compact_stall", "pgfault", "pgmajfault",
                 "nr_dirtied", "nr_written", "pgactivate", "workingset_refault_file")
VMSTAT_LEVELS = ("nr_dirty", "nr_writeback", "nr_free_pages", "nr_file_pages")


def vmstat() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                name, value = line.split()
                if name.startswith("allocstall_"):  # one per zone: summed
                    name = "allocstall"
                out[name] = out.get(name, 0) + int(value)
    except (OSError, ValueError):
        pass
    return out


def proc_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(ppid: int) -> dict[int, str]:
    """pid -> command line of the direct children of ppid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) != ppid:
                    continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                out[int(d)] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
    return out


def host_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


class Meter:
    """CPU ticks of each pid group, host busy share, and (optionally) the peak RSS of the server's processes."""

    def __init__(self, groups: dict[str, list[int]], sample_rss: bool) -> None:
        self.groups = groups
        self.sample_rss = sample_rss
        self.rss_peak_kib = 0
        self._stop = threading.Event()

    def _sampler(self) -> None:
        pids = self.groups.get("server", [])
        while not self._stop.wait(0.05):
            self.rss_peak_kib = max(self.rss_peak_kib, sum(proc_rss_kib(p) for p in pids))

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.ticks0 = {g: _group_ticks(pids) for g, pids in self.groups.items()}  # (user + system, system)
        self.vm0 = vmstat()
        self.rss_before_kib = sum(proc_rss_kib(p) for p in self.groups.get("server", []))
        self.host0 = host_busy()
        self.load1 = os.getloadavg()[0]
        if self.sample_rss:
            self.thread = threading.Thread(target=self._sampler, daemon=True)
            self.thread.start()

    def stop(self) -> dict:
        wall = time.monotonic() - self.t0
        self._stop.set()
        if self.sample_rss:
            self.thread.join()
        h1 = host_busy()
        out = {"wall_s": round(wall, 2), "load1": round(self.load1, 2),
               "host_busy_pct": round((h1[0] - self.host0[0]) / max(1, h1[1] - self.host0[1]) * 100
                                      * os.cpu_count(), 1)}
        for g, pids in self.groups.items():
            total, system = _group_ticks(pids)
            out[f"{g}_cpu_s"] = (total - self.ticks0[g][0]) / CLK
            out[f"{g}_sys_s"] = (system - self.ticks0[g][1]) / CLK
        vm1 = vmstat()
        out["vm"] = {**{k: vm1.get(k, 0) - self.vm0.get(k, 0) for k in VMSTAT_DELTAS},
                     **{k: vm1.get(k, 0) for k in VMSTAT_LEVELS}}
        if self.sample_rss:
            out["rss_before_mib"] = round(self.rss_before_kib / 1024, 1)
            out["rss_peak_mib"] = round(self.rss_peak_kib / 1024, 1)
        return out
