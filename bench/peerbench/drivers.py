"""The load drivers: wrk with bench/wrk_s3.lua and presigned targets, or the asyncio client in this process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

from bench.peerbench.config import BUCKET, LUA, N_1M, N_64M, N_LIST, PUT_KEYS_PER_S, SIZE
from bench.peerbench.meters import Meter
from bench.peerbench.s3client import Client, Http, body_bytes
from bench.peerbench.servers import Peer
from bench.peerbench.signer import Signer


def wrk_binary(workload: str) -> str | None:
    """The wrk to use, or None for the Python client (stock wrk waits for a body after a HEAD reply)."""
    for cand in (os.environ.get("CAIRN_BENCH_WRK"), "/tmp/s3bench-tools/wrk"):
        if cand and os.access(cand, os.X_OK):
            return cand
    stock = shutil.which("wrk")
    return stock if stock and workload != "head" else None


def requests_for(peer: Peer, workload: str, conc: int, duration: float, prefix: str, n_4k: int):
    """-> (cycled 'METHOD target' lines, once-PUT targets, share of cycled %) for the request-pattern workloads."""
    signer = Signer(peer.ak, peer.sk, urllib.parse.urlsplit(peer.url).netloc)
    if workload == "hello":
        return ["GET /"], [], 100
    if workload in ("get-4k", "head", "mixed"):
        method = "HEAD" if workload == "head" else "GET"
        cyc = [f"{method} {t}" for t in signer.sign_all(method, [f"/{BUCKET}/f/4k/{i:05d}" for i in range(n_4k)])]
    elif workload == "get-1m":
        cyc = ["GET " + t for t in signer.sign_all("GET", [f"/{BUCKET}/f/1m/{i:04d}" for i in range(N_1M)])]
    elif workload == "get-64m":
        cyc = ["GET " + t for t in signer.sign_all("GET", [f"/{BUCKET}/f/64m/{i}" for i in range(N_64M)])]
    elif workload == "list-1000":
        cyc = []
        for page in range(N_LIST // 1000):
            params = [("list-type", "2"), ("max-keys", "1000")]
            if page:
                params.append(("start-after", f"k/{page * 1000 - 1:05d}"))
            cyc.append("GET " + signer.sign("GET", f"/{BUCKET}-list", params))
    else:
        cyc = []
    puts = []
    if workload in PUT_KEYS_PER_S:
        n = int(PUT_KEYS_PER_S[workload] * (duration + 1))
        puts = signer.sign_all("PUT", [f"/{BUCKET}-put/{prefix}/{i:07d}" for i in range(n)])
    return cyc, puts, (70 if workload == "mixed" else 100)


def run_wrk(wrk: str, peer: Peer, workload: str, conc: int, duration: float, cyc, puts, share,
            meter: Meter) -> dict:
    tmp = tempfile.mkdtemp(prefix="cairn-bench-")
    try:
        def write(name, lines):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            return path
        size = SIZE[workload]
        if workload == "mixed":
            args = ["mix", write("cycle", cyc), write("once", puts), str(size), str(share)]
        elif puts:
            args = ["once", write("once", puts), str(size)]
        else:
            args = ["cycle", write("cycle", cyc)]
        cmd = [wrk, "-t1", "-c", str(conc), "-d", f"{duration}s", "--timeout", "60s", "-s", LUA, peer.url + "/",
               "--"] + args
        with open(os.path.join(tmp, "out"), "w+b") as fo, open(os.path.join(tmp, "err"), "w+b") as fe:
            meter.start()
            p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
            try:
                _, _, ru = os.wait4(p.pid, 0)
            except BaseException:
                p.kill()
                p.wait()
                raise
            p.returncode = 0
            m = meter.stop()
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read(), fe.read()
        js = None
        for line in out.decode(errors="replace").splitlines():
            if line.startswith("CAIRN_BENCH "):
                js = json.loads(line[len("CAIRN_BENCH "):])
        if js is None:
            raise RuntimeError(f"wrk failed: {out[-400:]!r} {err[-400:]!r}")
        secs = js["duration_us"] / 1e6
        ops = js["requests"]
        errors = js["status"] + js["connect"] + js["read"] + js["write"] + js["timeout"]
        if workload in ("get-64m", "list-1000"):
            mb = js["bytes"] / secs / 1e6       # every byte read in the window, partial bodies too
        else:
            mb = ops * size / secs / 1e6
        res = {"ops": ops, "seconds": round(secs, 2), "ops_s": round(ops / secs, 1), "mb_s": round(mb, 1),
               "p50_ms": js["p50_us"] / 1000 if ops else None, "p99_ms": js["p99_us"] / 1000 if ops else None,
               "errors": errors, "engine": "wrk", "client_cpu_s": ru.ru_utime + ru.ru_stime}
        if puts and ops * (0.3 if workload == "mixed" else 1) >= 0.97 * len(puts):   # mixed: ~30% are PUTs
            res["capped"] = True
        res.update(m)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def run_py(peer: Peer, workload: str, conc: int, duration: float, cyc, puts, share, meter: Meter,
                 prefix: str) -> dict:
    """The Python client: conc connections, one request in flight on each (also multipart PUTs)."""
    import resource
    u = urllib.parse.urlsplit(peer.url)
    size = SIZE[workload]
    data = body_bytes(size)
    lat: list[float] = []
    errors = [0]
    moved = [0]
    live: dict = {}
    state = {"ci": 0, "pi": 0, "deadline": 0.0}
    rng = __import__("random").Random(4242)

    def in_window(n):
        if time.monotonic() < state["deadline"]:
            moved[0] += n

    async def one(http: Http, client: Client, i: int) -> bool:
        if workload == "put-64m":
            await client.multipart(f"{BUCKET}-put", f"{prefix}/{i:07d}", data, live, in_window,
                                   state["deadline"])
            return True
        if cyc and (not puts or rng.random() * 100 < share):
            method, target = cyc[state["ci"] % len(cyc)].split(" ", 1)
            state["ci"] += 1
            st, _, n = await http.call(method, target, count_only=True, progress=None)
            if workload == "get-64m":
                in_window(n)
            elif workload == "list-1000":
                moved[0] += n
            return st == 200
        if state["pi"] >= len(puts):
            raise TimeoutError("window over")
        target = puts[state["pi"]]
        state["pi"] += 1
        st, _, _ = await http.call("PUT", target, data)
        return st == 200

    async def worker(w: int) -> int:
        http = Http(u.hostname, u.port)
        client = Client(peer)
        done, i = 0, w
        try:
            while time.monotonic() < state["deadline"]:
                t0 = time.monotonic()
                try:
                    ok = await one(http, client, i)
                except TimeoutError:
                    return done
                except (ConnectionError, OSError, asyncio.IncompleteReadError, RuntimeError):
                    errors[0] += 1
                    continue
                finally:
                    i += conc
                t1 = time.monotonic()
                if not ok:
                    errors[0] += 1
                elif workload != "put-64m" or t1 <= state["deadline"]:
                    done += 1
                    lat.append(t1 - t0)
            return done
        finally:
            http.close()
            client.http.close()

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    meter.start()
    t0 = time.monotonic()
    state["deadline"] = t0 + duration
    tasks = [asyncio.ensure_future(worker(w)) for w in range(conc)]
    grace = 0 if workload.endswith("64m") else 30
    done, pending = await asyncio.wait(tasks, timeout=duration + grace)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    secs = min(time.monotonic() - t0, duration) if workload.endswith("64m") else time.monotonic() - t0
    m = meter.stop()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    ops = sum(t.result() for t in done if not t.exception())
    lat.sort()
    if workload not in ("get-64m", "put-64m", "list-1000"):
        moved[0] = ops * size
    res = {"ops": ops, "seconds": round(secs, 2), "ops_s": round(ops / secs, 1), "mb_s": round(moved[0] / secs / 1e6, 1),
           "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
           "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else None,
           "errors": errors[0], "engine": "py",
           "client_cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), "_live": live}
    if puts and state["pi"] >= len(puts):
        res["capped"] = True
    res.update(m)
    return res
