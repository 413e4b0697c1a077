"""Cairn against the S3 peers that run on this machine, side by side: the issue-5 table in one command.

    make bench                      # = python3 bench/peers.py --reps 3 --out bench-results.md
    python3 bench/peers.py --peers moto,s3rver,rgw,sanic --reps 3 --concurrency 16,64 --duration 4 --out t.md
    python3 bench/peers.py --rgw http://127.0.0.1:8080,AK,SK      # an RGW (or any S3) that is already running

Starts Cairn (default preset; a second one with the durable preset for put-4k-durable; 1-shard and 2-router
variants for the scaling rows) and whichever peers are available: moto and s3rver (start scripts of
../shared/bench/peers, or `moto_server` on PATH), Ceph RGW (../shared/bench/peers/ceph-rgw.sh, or --rgw) and a
one-process sanic hello-world (the ceiling a sanic front can reach). Every (workload, concurrency) cell runs on
each server back to back, the order rotated per repetition, and the table shows medians over repetitions.

Load generator: wrk driven by bench/wrk_s3.lua with presigned SigV4 URLs made here (the server still verifies a
signature per request; the client spends a few µs a request), found at $CAIRN_BENCH_WRK, /tmp/s3bench-tools/wrk
(the shared build that handles HEAD replies) or `wrk` on PATH; without one, and for multipart PUTs, an asyncio
raw-socket client in this process. The client's CPU is shown for every cell (100% = one core: client-bound).

Cairn's cost per request: CPU-µs of its `cairn: router N` and `cairn: shard N` processes (/proc/PID/stat
utime+stime over the cell, divided by the requests completed), and for the 64 MiB rows the peak router+shard RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time

from bench.peerbench.cells import run_cell
from bench.peerbench.config import HERE, S3_WORKLOADS, log
from bench.peerbench.fixtures import ensure_fixtures
from bench.peerbench.servers import CairnPeer, HelloPeer, Peer, RgwPeer, ScriptPeer, hello_server
from bench.peerbench.table import machine, render, summarize


def build_peers(args) -> tuple[list[Peer], list[Peer]]:
    wanted = [p for p in args.peers.split(",") if p]
    workloads = set(args.workloads.split(","))
    peers: list[Peer] = [CairnPeer("cairn")]
    if "put-4k-durable" in workloads:
        peers.append(CairnPeer("cairn-durable", "durable", only={"put-4k-durable"}))
    for name in wanted:
        if name in ("moto", "s3rver"):
            p = ScriptPeer(name)
            if p.available():
                peers.append(p)
            else:
                log(f"{name}: not installed (../shared/bench/peers/install.sh), skipped")
        elif name == "rgw":
            p = RgwPeer(args.rgw)
            if p.available():
                peers.append(p)
            else:
                log("rgw: no radosgw (../shared/bench/peers/install.sh --with-ceph) and no --rgw, skipped")
        elif name == "sanic":
            peers.append(HelloPeer())
        else:
            sys.exit(f"unknown peer {name}")
    if args.rgw and "rgw" not in wanted:
        peers.append(RgwPeer(args.rgw))
    for spec in args.variant:
        label, _, extra = spec.partition("=")
        peers.append(CairnPeer("v:" + label, extra=extra.split()))
    for path in args.baseline:
        peers.append(CairnPeer("base:" + os.path.basename(os.path.abspath(path)), root=os.path.abspath(path)))
    scaling: list[Peer] = []
    if args.scaling:
        sw, sc = set(args.scaling.split(",")), {int(c) for c in args.scaling_concurrency.split(",")}
        one = CairnPeer("cairn-1s1r", shards=1, routers=1, only=sw, concs=sc)
        two = CairnPeer("cairn-2s1r", shards=2, routers=1, only=sw, concs=sc)
        if os.cpu_count() == 2:     # the default server (a shard and a router per core) is the 2-shard, 2-router one
            scaling = [one, two, peers[0]]
            peers += [one, two]
        else:
            both = CairnPeer("cairn-2s2r", shards=2, routers=2, only=sw, concs=sc)
            scaling = [one, two, both]
            peers += scaling
    return peers, scaling


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default="moto,s3rver,rgw,sanic", help="which peers to start (skipped if missing)")
    ap.add_argument("--rgw", help="URL,ACCESS_KEY,SECRET_KEY[,PID+PID] of a running RGW instead of starting one")
    ap.add_argument("--workloads", default=",".join(S3_WORKLOADS))
    ap.add_argument("--concurrency", default="16,64")
    ap.add_argument("--duration", type=float, default=5, help="seconds per cell (whole seconds)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scaling", default="put-4k,get-4k",
                    help="workloads of the 1→2 shards / 1→2 routers rows ('' for none)")
    ap.add_argument("--scaling-concurrency", default="64")
    ap.add_argument("--engine", choices=["auto", "py"], default="auto", help="py: the Python client for every cell")
    ap.add_argument("--objects-4k", type=int, default=1000, help="preloaded 4 KiB objects (get-4k/head/mixed)")
    ap.add_argument("--out", help="also write the markdown table here")
    ap.add_argument("--jsonl", default=os.path.join(HERE, "results", "peers.jsonl"),
                    help="every cell's raw figures are appended here ('' for none)")
    ap.add_argument("--baseline", metavar="DIR", action="append", default=[],
                    help="also run the Cairn of another checkout (an A/B of a change), as the column 'base:DIR'")
    ap.add_argument("--variant", metavar="LABEL=ARGS", action="append", default=[],
                    help="also run Cairn with these extra `cairn serve` arguments, as the column 'v:LABEL' "
                         "(e.g. raw=\"--http-front raw\")")
    ap.add_argument("--workdir", help="data directories and logs (default: a temporary directory)")
    ap.add_argument("--hello-server", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hello_server:
        return hello_server(args.hello_server)
    workloads = args.workloads.split(",")
    concs = [int(c) for c in args.concurrency.split(",")]
    duration = max(1, round(args.duration))       # wrk takes whole seconds
    peers, scaling = build_peers(args)
    workdir = args.workdir or tempfile.mkdtemp(prefix="cairn-bench-")
    os.makedirs(workdir, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "command": " ".join(["python3", "bench/peers.py"] + sys.argv[1:]),
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()), "reps": args.reps,
            "duration": duration}
    log(f"workdir {workdir}; load average {meta['load_before']}")
    started: list[Peer] = []
    records: list[dict] = []
    if args.jsonl:
        os.makedirs(os.path.dirname(os.path.abspath(args.jsonl)), exist_ok=True)
    jsonl = open(args.jsonl, "a") if args.jsonl else None
    t_begin = time.monotonic()
    try:
        def start(p: Peer) -> None:
            t0 = time.monotonic()
            try:
                p.start(workdir)
            except BaseException:
                p.stop()        # whatever it had started (never more: stop() only signals PIDs it owns)
                raise
            started.append(p)
            log(f"started {p.name} at {p.url} in {time.monotonic() - t0:.1f} s")
        errors: list = []
        slow = [p for p in peers if isinstance(p, RgwPeer)]
        threads = [threading.Thread(target=_catch, args=(errors, p, start)) for p in slow]
        for t in threads:
            t.start()
        for p in peers:
            if p not in slow:
                _catch(errors, p, start)
        for t in threads:
            t.join()
        for p, e in errors:
            if p is peers[0]:
                raise RuntimeError(f"Cairn did not start: {e!r} (log in {workdir})")
            log(f"{p.name} did not start ({e!r}); left out")
            peers.remove(p)
            if p in scaling:
                scaling.remove(p)
        for p in peers:
            if p.kind != "s3":
                continue
            needs = set()
            for w in workloads:
                if not any(p.runs(w, c) for c in concs):
                    continue
                needs |= {"get-4k": {"4k"}, "head": {"4k"}, "mixed": {"4k"}, "get-1m": {"1m"},
                          "get-64m": {"64m"}, "list-1000": {"list"}}.get(w, set())
            asyncio.run(ensure_fixtures(p, needs, args.objects_4k))
        rows = ([("hello", c) for c in concs] if any(p.kind == "hello" for p in peers) else []) + \
            [(w, c) for w in workloads for c in concs]
        too_slow: set = set()      # (peer, workload) that did not finish one request per connection in a cell
        for rep in range(args.reps):
            for w, c in rows:
                todo = [p for p in peers if p.runs(w, c) and (p.name, w) not in too_slow]
                k = rep % max(1, len(todo))
                for p in todo[k:] + todo[:k]:
                    try:
                        res = run_cell(p, w, c, duration, args, rep + 1, others=[q for q in peers if q is not p])
                    except Exception as e:  # noqa: BLE001 - one failed cell must not end the run
                        log(f"rep{rep + 1} {p.name} {w} c={c}: FAILED {e!r}")
                        continue
                    rec = {"peer": p.name, "workload": w, "concurrency": c, "rep": rep + 1, **res}
                    records.append(rec)
                    if res["ops"] < c and not w.endswith("64m") and not p.name.startswith("cairn"):
                        # each request takes longer than the cell: more repetitions would measure the backlog
                        too_slow.add((p.name, w))
                    if jsonl:
                        jsonl.write(json.dumps(rec) + "\n")
                        jsonl.flush()
                    cpu = f"router {res.get('router_us')} shard {res.get('shard_us')}" if "router_us" in res \
                        else f"server {res.get('server_us')}"
                    log(f"rep{rep + 1} {p.name:13s} {w:14s} c={c:<3d} {res['ops_s']:>9,.1f} op/s "
                        f"{res['mb_s']:>8,.1f} MB/s p50 {res['p50_ms']} p99 {res['p99_ms']} err {res['errors']} "
                        f"| CPU-µs/req {cpu} | client {res['client_cpu_pct']}% host {res['host_busy_pct']}% "
                        f"| {(time.monotonic() - t_begin) / 60:.1f} min")
    finally:
        for p in reversed(started):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001
                log(f"stopping {p.name}: {e!r}")
        if jsonl:
            jsonl.close()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table = render(summarize(records), peers, workloads, concs, scaling, meta)
    print(table)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(table)


def _catch(errors: list, p: Peer, fn) -> None:
    try:
        fn(p)
    except Exception as e:  # noqa: BLE001
        errors.append((p, e))
