#!/usr/bin/env python3
"""What high availability costs and buys: PUT 4 KiB op/s and PUT 1 MiB MB/s with no standby, an async standby
and a sync standby (ratios to no standby), replication lag p99 under that load, and failover time with etcd
(kill -9 of the primary -> first successful write on the new primary).

    python3 bench/ha.py [--duration 4] [--concurrency 32] [--shards 2] [--no-failover]

Same client as bench/quick.py (presigned URLs over keep-alive connections). Both nodes run on this machine, so
the standby competes with the primary for the same cores and disk: a pessimistic figure for two hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import quick  # noqa: E402
from tests.ha.support import start_etcd  # noqa: E402
from tests.support.server import CairnServer  # noqa: E402


def node(data_dir, shards: int, *extra: str) -> CairnServer:
    return CairnServer(data_dir, shards=shards, access_key=quick.AK, secret_key=quick.SK,
                       extra=list(extra)).start()


def ha_state(server: CairnServer) -> dict:
    with urllib.request.urlopen(server.endpoint + "/_cairn/ha", timeout=5) as r:
        return json.loads(r.read())


class LagSampler(threading.Thread):
    """Samples the primary's replication lag (seconds, worst shard) every 50 ms."""

    def __init__(self, server: CairnServer) -> None:
        super().__init__(daemon=True)
        self.server, self.samples, self.stop = server, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                shards = ha_state(self.server)["shards"]
                self.samples.append(max(sh.get("lag_seconds", 0.0) for sh in shards))
            except OSError:
                pass
            time.sleep(0.05)

    def p99(self) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(0.99 * len(s)))] if s else 0.0


def load(endpoint: str, size: int, concurrency: int, duration: float) -> dict:
    quick.BODY = os.urandom(size)
    keys = [f"put/{size}/{i}" for i in range(2000)]
    urls = quick.presign(endpoint, "PUT", keys, "bench")
    return asyncio.run(quick.run_load(endpoint, "PUT", urls, concurrency, duration))


def run_config(name: str, tmp: str, args) -> dict:
    primary_flags = [] if name == "none" else ["--replication", name]
    p = node(os.path.join(tmp, name, "p"), args.shards, *primary_flags)
    s = None
    try:
        p.client().create_bucket(Bucket="bench")
        if name != "none":
            s = node(os.path.join(tmp, name, "s"), args.shards, "--role", "standby", "--primary",
                     f"127.0.0.1:{p.port}")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(sh.get("standby_connected") and
                                                           not sh.get("sync_degraded")
                                                           for sh in ha_state(p)["shards"]):
                time.sleep(0.1)
        sampler = LagSampler(p)
        sampler.start()
        small = load(p.endpoint, 4096, args.concurrency, args.duration)
        large = load(p.endpoint, 1 << 20, max(4, args.concurrency // 4), args.duration)
        sampler.stop.set()
        sampler.join()
        out = {"put4k_ops": small["ops_s"], "put4k_p99_ms": small["p99_ms"], "put1m_mbs": large["ops_s"],
               "put1m_p99_ms": large["p99_ms"], "errors": small["errors"] + large["errors"],
               "lag_p99_s": sampler.p99() if name != "none" else None}
        lag = "" if out["lag_p99_s"] is None else f"  lag p99 {out['lag_p99_s'] * 1000:7.1f} ms"
        print(f"{name:5s}  PUT 4 KiB {out['put4k_ops']:7.0f} op/s (p99 {out['put4k_p99_ms']:6.1f} ms)  "
              f"PUT 1 MiB {out['put1m_mbs']:6.1f} MB/s (p99 {out['put1m_p99_ms']:6.1f} ms){lag}  "
              f"errors {out['errors']}", flush=True)
        return out
    finally:
        if s is not None:
            s.stop()
        p.stop()


def failover(tmp: str, args) -> float:
    etcd, url = start_etcd(os.path.join(tmp, "etcd"))
    ha = ["--etcd", url, "--lease-ttl", str(args.lease_ttl), "--replication", "sync"]
    a = b = None
    try:
        a = node(os.path.join(tmp, "fo", "a"), args.shards, *ha)
        while not ha_state(a)["writable"]:
            time.sleep(0.05)
        b = node(os.path.join(tmp, "fo", "b"), args.shards, "--role", "standby", "--primary",
                 f"127.0.0.1:{a.port}", *ha)
        a.client().create_bucket(Bucket="bench")
        time.sleep(1)
        a.kill9()
        killed = time.monotonic()
        c = b.client()
        while True:
            try:
                c.put_object(Bucket="bench", Key="first", Body=b"x")
                break
            except Exception:  # noqa: BLE001 -- still the standby
                time.sleep(0.02)
        took = time.monotonic() - killed
        print(f"failover  kill -9 -> first write on the new primary {took:.2f} s (lease ttl {args.lease_ttl} s)",
              flush=True)
        return took
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()
        etcd.kill()
        etcd.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--lease-ttl", type=int, default=2)
    ap.add_argument("--no-failover", action="store_true")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("none", "async", "sync"):
            results[name] = run_config(name, tmp, args)
        for name in ("async", "sync"):
            print(f"ratio  {name}/none  PUT 4 KiB {results[name]['put4k_ops'] / results['none']['put4k_ops']:.2f}  "
                  f"PUT 1 MiB {results[name]['put1m_mbs'] / results['none']['put1m_mbs']:.2f}", flush=True)
        if not args.no_failover:
            failover(tmp, args)


if __name__ == "__main__":
    main()
