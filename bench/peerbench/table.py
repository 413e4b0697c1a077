"""Medians over repetitions and the markdown report of a run."""

from __future__ import annotations

import os
import statistics
import sys

from bench.peerbench.config import BY_BYTES, S3_WORKLOADS, TARGETS
from bench.peerbench.servers import Peer


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(records: list[dict]) -> dict:
    cells: dict = {}
    for r in records:
        cells.setdefault((r["peer"], r["workload"], r["concurrency"]), []).append(r)
    out = {}
    for key, rs in cells.items():
        s = {k: median([r.get(k) for r in rs]) for k in (
            "ops_s", "mb_s", "p50_ms", "p99_ms", "router_us", "shard_us", "server_us", "client_cpu_pct",
            "host_busy_pct", "load1", "rss_peak_mib", "rss_before_mib")}
        s["n"] = len(rs)
        s["errors"] = sum(r.get("errors", 0) for r in rs)
        s["capped"] = any(r.get("capped") for r in rs)
        out[key] = s
    return out


def fmt_num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def value(s: dict | None, workload: str) -> float | None:
    if not s:
        return None
    return s["mb_s"] if workload in BY_BYTES else s["ops_s"]


def render(summary: dict, peers: list[Peer], workloads: list[str], concs: list[int], scaling: list[Peer],
           meta: dict) -> str:
    names = [p.name for p in peers if p.kind == "s3" and not p.name.startswith("cairn")]
    lines = [f"Cairn against its peers — {meta['date']}, {meta['machine']}",
             "",
             f"Command: `{meta['command']}`  ",
             f"Load average before / after: {meta['load_before']} / {meta['load_after']}; "
             f"{meta['reps']} interleaved repetitions, {meta['duration']} s per cell, medians. "
             "Values: op/s, or MB/s (10^6 B) for the 1m/64m rows; p50/p99 in ms.",
             ""]
    head = ["workload", "C", "Cairn"] + names + ["Cairn ratio vs target", "Cairn p50/p99", "RGW p99",
                                                  "router / shard CPU-µs/req", "client CPU", "router+shard RSS"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for w in workloads:
        for c in concs:
            mine = summary.get(("cairn-durable" if w == "put-4k-durable" else "cairn", w, c))
            if not mine:
                continue
            base_w = "put-4k" if w == "put-4k-durable" else w
            row = [w, str(c), cell_text(mine, w)]
            for n in names:
                row.append(cell_text(summary.get((n, base_w, c)), w))
            ratios = []
            for peer, need in TARGETS.get(w, []):
                if peer == "sanic":
                    other = summary.get(("sanic", "hello", c))
                    if other and other["ops_s"]:
                        r = mine["ops_s"] / other["ops_s"]
                        ratios.append(f"{r:.0%} of sanic (≥{need:.0%}) {'✅' if r >= need else '❌'}")
                    continue
                other = value(summary.get((peer, base_w, c)), w)
                if other:
                    r = value(mine, w) / other
                    ratios.append(f"{r:.2f}× {peer} (≥{need}) {'✅' if r >= need else '❌'}")
            row.append("; ".join(ratios) or "—")
            row.append(lat_text(mine))
            rgw = summary.get(("rgw", base_w, c))
            p99 = "—"
            if rgw and rgw["p99_ms"] is not None:
                p99 = f"{rgw['p99_ms']:.1f}"
                if c == max(concs) and mine["p99_ms"] is not None:
                    p99 += " ✅" if mine["p99_ms"] < rgw["p99_ms"] else " ❌"
            row.append(p99)
            row.append(f"{fmt_num(mine['router_us'])} / {fmt_num(mine['shard_us'])}"
                       + (" per MB" if w.endswith("64m") else ""))
            row.append(f"{mine['client_cpu_pct']:.0f}%" if mine["client_cpu_pct"] is not None else "—")
            row.append(f"{mine['rss_peak_mib']:.0f} MiB (idle {mine['rss_before_mib']:.0f})"
                       if mine.get("rss_peak_mib") else "—")
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Server CPU-µs per request (per MB for the 64 MiB rows), every process of each server, same cells — "
              "on a busy machine the fairer efficiency figure: the scheduler shares the CPU per thread, which favours "
              "many-threaded servers in throughput but not in cost:", ""]
    cpu_cols = ["cairn"] + [p.name for p in peers if p.kind == "s3" and p.name not in ("cairn",) and
                            not p.name.startswith("cairn-")]
    lines.append("| workload | C | " + " | ".join(cpu_cols) + " |")
    lines.append("|---|---|" + "---|" * len(cpu_cols))
    for w in workloads:
        for c in concs:
            cells = []
            for n in cpu_cols:
                name, wl = ("cairn-durable", w) if (n == "cairn" and w == "put-4k-durable") else (
                    n, "put-4k" if w == "put-4k-durable" else w)
                got = summary.get((name, wl, c))
                cells.append(fmt_num(got["server_us"]) if got and got.get("server_us") is not None else "—")
            if any(x != "—" for x in cells):
                lines.append(f"| {w} | {c} | " + " | ".join(cells) + " |")
    hello = [summary.get(("sanic", "hello", c)) for c in concs]
    if any(hello):
        lines += ["", "Ceiling: " + ", ".join(
            f"sanic hello-world (1 process) C={c}: {fmt_num(h['ops_s'])} req/s, client CPU {h['client_cpu_pct']:.0f}%"
            for c, h in zip(concs, hello) if h)]
    if scaling:
        lines += ["", "Scaling (Cairn, balanced preset; op/s, router / shard CPU-µs per request):", ""]
        cols = [p for p in scaling]
        lines.append("| workload | C | " + " | ".join(p.label for p in cols) + " | 1→2 shards | 1→2 routers |")
        lines.append("|---|---|" + "---|" * (len(cols) + 2))
        keys = sorted({(w, c) for (n, w, c) in summary if n in {p.name for p in cols if p.name != "cairn"}},
                      key=lambda k: (S3_WORKLOADS.index(k[0]), k[1]))
        for w, c in keys:
            vals = [summary.get((p.name, w, c)) for p in cols]
            row = [w, str(c)] + [f"{fmt_num(value(v, w))} ({fmt_num(v['router_us'])} / {fmt_num(v['shard_us'])})"
                                 if v else "—" for v in vals]
            v1, v2, v3 = (value(v, w) if v else None for v in vals[:3])
            row.append(f"{v2 / v1:.2f}×" if v1 and v2 else "—")
            row.append(f"{v3 / v2:.2f}×" if v2 and v3 else "—")
            lines.append("| " + " | ".join(row) + " |")
    notes = [f"{n}/{w}/C={c}: {s['errors']} errors" for (n, w, c), s in summary.items() if s["errors"]]
    notes += [f"{n}/{w}/C={c}: used every prepared PUT key (raise PUT_KEYS_PER_S)" for (n, w, c), s in
              summary.items() if s["capped"]]
    if notes:
        lines += ["", "Flags: " + "; ".join(sorted(notes))]
    return "\n".join(lines) + "\n"


def cell_text(s: dict | None, w: str) -> str:
    if not s:
        return "—"
    return fmt_num(value(s, w)) + (" ⚠" if s["errors"] else "")


def lat_text(s: dict) -> str:
    if s["p50_ms"] is None:
        return "—"
    return f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f}"


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Linux {os.uname().release}, " \
           f"Python {sys.version.split()[0]}"
