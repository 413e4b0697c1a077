"""Soak: a 2-shard Cairn under the mixed locust profile (loadtests/soak_locust.py) for a given time, then a checker.

    python3 loadtests/soak.py --minutes 10            # the issue-7 soak (loopback only)
    python3 loadtests/soak.py --seconds 60 --users 16 # a quick one

It starts its own server (data in a temporary directory unless --data-dir), samples the RSS of the router and
of every shard every --rss-interval seconds, runs locust headless, and at the end verifies with its own client
that every acknowledged object reads back byte-exact (MD5), every acknowledged delete is gone and every
acknowledged tag set is there. It prints p50/p99 per operation and fails (exit 1) on any of: a lost or wrong
object, a 5xx, a locust validation failure, a process restart, RSS growth of --max-rss-growth % or more between
the end of the warm-up and the end of the run.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.peers import proc_rss_kib  # noqa: E402
from loadtests.s3client import Signer, object_path  # noqa: E402
from tests.support.server import CairnServer  # noqa: E402


class RssSampler(threading.Thread):
    """Every ``interval`` seconds: RSS (KiB) of each cairn process by title; notes any pid that changes."""

    def __init__(self, server: CairnServer, interval: float) -> None:
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.pids = self._workers()
        self.restarted: set[str] = set()
        self.done = threading.Event()
        self.t0 = time.monotonic()

    def _workers(self) -> dict[str, int]:
        return {t: p for t, p in self.server.pids().items() if t.startswith(("cairn: router", "cairn: shard"))}

    def run(self) -> None:
        while not self.done.is_set():
            now = self._workers()
            for title in now.keys() - self.pids.keys():  # a worker still starting up when the server was ready
                self.pids[title] = now[title]
            self.restarted |= {t for t in self.pids if now.get(t) != self.pids[t]}
            sample = {t: proc_rss_kib(p) for t, p in now.items()}
            self.samples.append((time.monotonic() - self.t0, {t: v for t, v in sample.items() if v}))
            self.done.wait(self.interval)

    def stop(self) -> None:
        self.done.set()
        self.join()

    def growth(self, warmup: float) -> dict[str, tuple[int, int, float]]:
        """title -> (KiB after warm-up, KiB at the end, growth %); each end is the median of 3 samples."""
        after = [s for t, s in self.samples if t >= warmup]
        if len(after) < 2:
            return {}
        out = {}
        for title in self.pids:
            series = [s[title] for s in after if title in s]
            if len(series) < 2:
                continue
            n = max(1, min(3, len(series) // 2))
            first, last = statistics.median(series[:n]), statistics.median(series[-n:])
            out[title] = (int(first), int(last), 100.0 * (last - first) / first)
        return out


class Checker:
    """Reads back what the ledger says the server acknowledged, over its own keep-alive connections."""

    def __init__(self, endpoint: str, access: str, secret: str) -> None:
        self.host, self.port = endpoint.split("//")[1].split(":")
        self.signer = Signer(endpoint, access, secret)
        self.local = threading.local()

    def get(self, path: str, query: str = "") -> tuple[int, bytes]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        url = path + (f"?{query}" if query else "")
        try:
            conn.request("GET", url, headers=self.signer.headers("GET", path, query))
            r = conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            conn.close()
            raise

    def check(self, ledger: dict, threads: int = 8) -> dict:
        bucket, unknown = ledger["bucket"], set(ledger["unknown"])
        wanted = {k: v for k, v in ledger["objects"].items() if k not in unknown}

        def one(item):
            key, digest = item
            status, data = self.get(object_path(bucket, key))
            if digest is None:
                return None if status == 404 else f"{key}: deleted, but GET answered {status}"
            if status != 200:
                return f"{key}: GET answered {status}"
            return None if hashlib.md5(data).hexdigest() == digest else f"{key}: bytes differ"

        def tagged(item):
            key, tagset = item
            status, data = self.get(object_path(bucket, key), "tagging")
            found = dict(re.findall(r"<Tag><Key>([^<]*)</Key><Value>([^<]*)</Value></Tag>", data.decode()))
            return None if status == 200 and found == tagset else f"{key}: tags {found} != {tagset}"

        live_tags = {k: v for k, v in ledger["tags"].items() if wanted.get(k) is not None}
        with ThreadPoolExecutor(threads) as pool:
            lost = [e for e in pool.map(one, wanted.items()) if e]
            wrong_tags = [e for e in pool.map(tagged, live_tags.items()) if e]
        return {"objects": sum(1 for v in wanted.values() if v is not None),
                "deletes": sum(1 for v in wanted.values() if v is None), "tag_sets": len(live_tags),
                "unknown": len(unknown), "lost": lost, "wrong_tags": wrong_tags}


def read_stats(prefix: str) -> dict[str, dict]:
    with open(f"{prefix}_stats.csv") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seconds", type=float, help="duration in seconds (overrides --minutes)")
    p.add_argument("--users", type=int, default=32, help="concurrent locust users")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--preset", default="balanced")
    p.add_argument("--rss-interval", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument("--warmup", type=float, help="seconds before RSS is compared (default: 20%% of the run)")
    p.add_argument("--max-rss-growth", type=float, default=10.0, help="percent")
    p.add_argument("--data-dir", help="default: a temporary directory, removed afterwards")
    p.add_argument("--report", help="also write the figures as JSON here")
    args = p.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    warmup = args.warmup if args.warmup is not None else 0.2 * seconds

    with tempfile.TemporaryDirectory(prefix="cairn-soak-") as tmp:
        data_dir = args.data_dir or os.path.join(tmp, "data")
        srv = CairnServer(data_dir, shards=args.shards, preset=args.preset,
                          stderr_path=os.path.join(tmp, "server.log")).start()
        try:
            sampler = RssSampler(srv, args.rss_interval)
            sampler.start()
            ledger_path, prefix = os.path.join(tmp, "ledger.json"), os.path.join(tmp, "locust")
            env = {**os.environ, "CAIRN_ACCESS_KEY": srv.access_key, "CAIRN_SECRET_KEY": srv.secret_key,
                   "CAIRN_SOAK_LEDGER": ledger_path, "PYTHONPATH": ROOT}
            started = time.monotonic()
            run = subprocess.run([sys.executable, "-m", "locust", "-f", os.path.join(ROOT, "loadtests/soak_locust.py"),
                                  "--headless", "-u", str(args.users), "-r", str(args.users), "-t", f"{int(seconds)}s",
                                  "--stop-timeout", "30", "--host", srv.endpoint, "--csv", prefix, "--only-summary",
                                  "Soak"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 300)
            elapsed = time.monotonic() - started
            sampler.stop()
            with open(ledger_path) as f:
                ledger = json.load(f)
            verdict = Checker(srv.endpoint, srv.access_key, srv.secret_key).check(ledger)
            stats = read_stats(prefix)
            server_log = open(os.path.join(tmp, "server.log")).read()
        finally:
            srv.stop()

    total = stats["Aggregated"]
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    statuses = {int(k): v for k, v in ledger["statuses"].items()}
    fivexx = sum(v for k, v in statuses.items() if k >= 500)
    rss = sampler.growth(warmup)
    figures = {
        "seconds": round(elapsed, 1), "users": args.users, "shards": args.shards, "requests": requests,
        "rps": round(requests / elapsed, 1), "locust_failures": failures, "statuses": statuses, "5xx": fivexx,
        "p50_ms": float(total["50%"]), "p99_ms": float(total["99%"]),
        "ops": {name: {"count": int(r["Request Count"]), "p50_ms": float(r["50%"]), "p99_ms": float(r["99%"])}
                for name, r in stats.items() if name != "Aggregated"},
        "checked": {k: (len(v) if isinstance(v, list) else v) for k, v in verdict.items()},
        "rss_kib": {t: {"after_warmup": a, "end": b, "growth_pct": round(g, 1)} for t, (a, b, g) in rss.items()},
        "restarted": sorted(sampler.restarted), "tracebacks_in_server_log": server_log.count("Traceback"),
    }
    problems = []
    if verdict["lost"] or verdict["wrong_tags"]:
        problems.append(f"{len(verdict['lost'])} lost/wrong objects, {len(verdict['wrong_tags'])} wrong tag sets: "
                        f"{(verdict['lost'] + verdict['wrong_tags'])[:5]}")
    if fivexx:
        problems.append(f"{fivexx} responses were 5xx")
    if failures:
        problems.append(f"{failures} locust failures (validation or unexpected status)")
    if sampler.restarted:
        problems.append(f"processes restarted: {sorted(sampler.restarted)}")
    grown = {t: g for t, (_, _, g) in rss.items() if g >= args.max_rss_growth}
    if grown:
        problems.append(f"RSS grew {args.max_rss_growth}% or more after warm-up: {grown}")
    if not rss:
        problems.append("too few RSS samples after the warm-up (run longer or sample more often)")
    if run.returncode not in (0, 1) or requests == 0:
        problems.append(f"locust did not run (exit {run.returncode}): {run.stderr[-2000:]}")

    print(f"soak: {elapsed:.0f} s, {args.users} users, {args.shards} shards, preset {args.preset}: {requests} requests "
          f"({figures['rps']} /s), p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms")
    for name, op in sorted(figures["ops"].items()):
        print(f"  {name:26} {op['count']:8d}  p50 {op['p50_ms']:6.0f} ms  p99 {op['p99_ms']:6.0f} ms")
    print(f"statuses {dict(sorted(statuses.items()))}; 5xx {fivexx}; locust failures {failures}")
    c = figures["checked"]
    print(f"checked {c['objects']} acknowledged objects byte-exact, {c['deletes']} deletes, {c['tag_sets']} tag "
          f"sets ({c['unknown']} keys of unacknowledged writes skipped): {c['lost']} lost, {c['wrong_tags']} wrong tags")
    for title, r in sorted(figures["rss_kib"].items()):
        print(f"  RSS {title:16} {r['after_warmup'] / 1024:7.1f} MiB after warm-up -> {r['end'] / 1024:7.1f} MiB "
              f"({r['growth_pct']:+.1f}%)")
    if figures["tracebacks_in_server_log"]:
        first = server_log[server_log.index("Traceback"):].split("\n")
        end = next((i for i, line in enumerate(first[1:], 1) if line and not line.startswith(" ")), len(first))
        print(f"note: {figures['tracebacks_in_server_log']} tracebacks in the server log; the first:")
        print("\n".join(first[:end + 1]))
    if failures:
        print(run.stderr[-3000:])
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    if args.report:
        with open(args.report, "w") as f:
            json.dump({**figures, "problems": problems}, f, indent=2)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
