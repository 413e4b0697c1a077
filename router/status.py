"""``cairn status --target HOST:PORT [--target ...]``: each node's role, epoch, and per shard its LSN and lag."""

from __future__ import annotations

import json
import urllib.request


def fetch(node: str, timeout: float = 3.0) -> dict:
    with urllib.request.urlopen(f"http://{node}/_cairn/ha", timeout=timeout) as r:
        return json.loads(r.read())


def render(node: str, state: dict) -> str:
    """One node's state as text (pure)."""
    head = f"{node}: {state['role']} epoch {state['epoch']}"
    if state["role"] == "standby":
        head += f" following {state['primary']}" + (" (serves reads)" if state.get("standby_reads") else "")
    else:
        head += f" replication {state.get('replication', 'async')}"
        if state.get("fenced"):
            head += f" FENCED: {state.get('fence_reason')}"
    lines = [head]
    for s in state["shards"]:
        if "error" in s:
            lines.append(f"  shard {s['number']}: unavailable ({s['error']})")
            continue
        row = f"  shard {s['number']}: lsn {s['last_lsn']}"
        if s["role"] == "primary":
            standby = "standby connected" if s.get("standby_connected") else "no standby"
            row += (f"  acked {s.get('acked_lsn', 0)}  lag {s.get('lag_records', 0)} records "
                    f"{s.get('lag_seconds', 0.0):.3f}s  {standby}")
            if s.get("sync_degraded"):
                row += f"  SYNC DEGRADED ({s['degraded_reason']})"
        else:
            row += (f"  applied {s.get('applied_lsn', 0)}  primary at {s.get('primary_lsn', 0)}  "
                    f"lag {s.get('lag_records', 0)} records  {'streaming' if s.get('standby_connected') else 'DISCONNECTED'}")
            if s.get("stream_error"):
                row += f"  ({s['stream_error']})"
        lines.append(row)
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--target", action="append", required=True, help="HOST:PORT of a node (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the raw state")


def run(args) -> int:
    status = 0
    for node in args.target:
        try:
            state = fetch(node)
        except OSError as exc:
            print(f"{node}: unreachable ({exc})")
            status = 1
            continue
        print(json.dumps(state, indent=2) if args.json else render(node, state))
    return status
