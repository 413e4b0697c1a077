"""One measured cell: wait for the server to go idle, drive the load, meter it, clean up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

from bench.peerbench.config import CLK, log
from bench.peerbench.drivers import requests_for, run_py, run_wrk, wrk_binary
from bench.peerbench.fixtures import cleanup
from bench.peerbench.meters import Meter, host_busy, proc_ticks
from bench.peerbench.servers import Peer


def quiesce(peers: list[Peer], limit: float = 60.0) -> float:
    """Wait until every server's processes are (nearly) idle and so is the host: a slow peer can go on working
    through requests the client has already given up on, and a storage server goes on flushing after a write
    cell (Ceph's OSD compacts, the kernel writes back dirty pages). Neither may be billed to the next cell,
    whichever server it measures. -> seconds waited."""
    pids = [pid for p in peers for pid in p.groups().get("server", [])]
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        before, host_before = sum(proc_ticks(p) for p in pids), host_busy()
        time.sleep(0.3)
        busy, host_after = sum(proc_ticks(p) for p in pids) - before, host_busy()
        host_share = (host_after[0] - host_before[0]) / max(1, host_after[1] - host_before[1])
        # under 20% of one core for the servers, under a quarter of the host (2 cores: half of one) for the rest
        if busy / CLK < 0.3 * 0.2 and host_share < 0.25:
            break
    return time.monotonic() - t0


def perf_record(peer: Peer, workload: str, conc: int, rep: int, duration: float, groups: dict):
    """CAIRN_BENCH_PERF=WORKLOAD[,WORKLOAD...]:DIR records `perf record -g` of Cairn's processes during those
    cells into DIR (one file per cell): to see where a cell's CPU goes in the state a whole run leaves the host in,
    which a run of that cell alone may not reproduce."""
    spec = os.environ.get("CAIRN_BENCH_PERF", "")
    if not spec or not peer.name.startswith("cairn") or ":" not in spec:
        return None
    workloads, out_dir = spec.split(":", 1)
    if workload not in workloads.split(","):
        return None
    os.makedirs(out_dir, exist_ok=True)
    pids = ",".join(str(p) for g in ("router", "shard") for p in groups.get(g, []))
    out = os.path.join(out_dir, f"{peer.name}-{workload}-c{conc}-r{rep}.data")
    return subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-o", out, "-p", pids,
                             "--", "sleep", str(duration)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_cell(peer: Peer, workload: str, conc: int, duration: float, args, rep: int, others=()) -> dict:
    quiesce([peer, *others])
    prefix = f"r{rep}-{workload}-c{conc}-{int(time.time() * 1000) % 10 ** 9}"
    cyc, puts, share = requests_for(peer, workload, conc, duration, prefix, args.objects_4k)
    groups = peer.groups()
    meter = Meter(groups, sample_rss=workload.endswith("64m") and "shard" in groups)
    wrk = None if args.engine == "py" or workload == "put-64m" else wrk_binary(workload)
    perf = perf_record(peer, workload, conc, rep, duration, groups)
    if wrk:
        res = run_wrk(wrk, peer, workload, conc, duration, cyc, puts, share, meter)
    else:
        res = asyncio.run(run_py(peer, workload, conc, duration, cyc, puts, share, meter, prefix))
    live = res.pop("_live", None)
    if perf is not None:
        perf.wait()
    # CPU-µs per request; for the 64 MiB rows (few or no whole objects in a cell) per MB moved instead
    per = max(1.0, res["mb_s"] * res["seconds"]) if workload.endswith("64m") else max(1, res["ops"])
    for g in groups:   # no completed request: no per-request figure
        res[f"{g}_us"] = round(res[f"{g}_cpu_s"] * 1e6 / per, 1) if res["ops"] or workload.endswith("64m") else None
    res["client_cpu_pct"] = round(res["client_cpu_s"] / max(1e-9, res["wall_s"]) * 100, 1)
    if workload in ("put-1m", "put-64m") or live:
        try:
            asyncio.run(asyncio.wait_for(cleanup(peer, prefix + "/", live), 600))
        except Exception as e:  # noqa: BLE001
            log(f"  cleanup of {peer.name} {prefix}: {e!r}")
    return res
