"""One CloudBudget for a fleet: N agent processes x M routed steps under shared share/dollar caps.

Every process runs a real ``NetGPTRouter`` (scripted edge and cloud models, so the steps cost
nothing but routing) whose policy wants the cloud for ``--wants`` of the steps; its
``CloudBudget`` caps the cloud share of the last ``--window`` steps at ``--share-cap`` and, in the
dollar scenario, the dollars at ``--usd-cap``. Traces go to a PostgreSQL ``TraceStore`` that the
parent reads back at the end. Scenarios, all in one run:

* ``shared``: the budget state lives in PostgreSQL (``shared_state=URL``): one budget for all;
* ``private``: each process has its own budget (the baseline: what a single-process library does).

For each: realised cloud share over all steps, the worst cloud share of any window of
``--window`` consecutive steps (in the traces' time order: a step is timed when the budget admits
it, under the budget's lock, so this is the order the shared budget's own window counts in; a
time taken before the lock would reorder concurrent steps and could show a window one or two
steps over a cap the budget never exceeded), dollars spent vs the cap, and the largest price of
one step (the allowed overshoot).

Usage: python benchmarks/fleet_budget.py [--processes 8] [--steps 200] [--url postgresql://...]
       [--out benchmarks/results/fleet_budget.json]
Without --url a throwaway PostgreSQL server is started (needs the server binaries installed).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_netgpt.testing.postgres_server import TemporaryPostgres
from langchain_netgpt.tracing import TraceStore

_WORKER = r"""
import json, sys
from langchain_netgpt import CloudBudget, NetGPTRouter, NetworkState, TraceStore
from langchain_netgpt.routing import RandomPolicy
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel

config = json.loads(sys.argv[1])
k = int(sys.argv[2])
budget = CloudBudget(
    max_cloud_share=config["share_cap"],
    window_steps=config["window"],
    max_cloud_usd=config["usd_cap"],
    shared_state=config["shared_state"],
    budget_id=config["budget_id"],
)
store = TraceStore(config["url"], schema=config["schema"], synchronous="NORMAL")
router = NetGPTRouter(
    edge=ScriptedChatModel(responses=["edge answer"]),
    cloud=ScriptedChatModel(responses=["cloud answer"]),
    policy=RandomPolicy(cloud_share=config["wants"], seed=1000 + k),
    monitor=FixedNetworkMonitor(
        NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=60)
    ),
    budget=budget,
    store=store,
)
print("ready", flush=True)
sys.stdin.readline()
for i in range(config["steps"]):
    # Questions of varying length, so cloud steps have varying prices.
    router.invoke(f"process {k} question {i}: " + "please help " * (i % 13))
print(json.dumps({"sink_errors": router.sink_errors}), flush=True)
"""


def run_fleet(
    *,
    url: str,
    processes: int,
    steps: int,
    share_cap: float,
    window: int,
    usd_cap: float | None,
    wants: float,
    shared: bool,
) -> dict[str, Any]:
    """Run one scenario; return what its traces say."""
    schema = f"fleet_{uuid.uuid4().hex[:10]}"
    config = {
        "url": url,
        "schema": schema,
        "share_cap": share_cap,
        "window": window,
        "usd_cap": usd_cap,
        "wants": wants,
        "steps": steps,
        "shared_state": url if shared else None,
        "budget_id": schema,
    }
    TraceStore(url, schema=schema).close()  # created up front, not raced by the workers
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, json.dumps(config), str(k)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line != "ready\n":
            raise RuntimeError(f"a worker failed to start: {line!r}")
    start = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
    outputs = [child.stdout.read() for child in children if child.stdout is not None]
    for child in children:
        child.wait(timeout=600)
    elapsed = time.perf_counter() - start
    if any(child.returncode != 0 for child in children):
        raise RuntimeError(f"a worker failed: {[c.returncode for c in children]}")
    sink_errors = sum(json.loads(out.strip().splitlines()[-1])["sink_errors"] for out in outputs)
    with TraceStore(url, schema=schema) as store:
        traces = list(store.query())
    cloud = [t.final_target == "cloud" for t in traces]
    prices = [t.cloud_price_usd for t in traces if t.final_target == "cloud"]
    worst_window = max(
        (sum(cloud[i : i + window]) / window for i in range(0, max(1, len(cloud) - window + 1))),
        default=0.0,
    )
    spent = sum(prices)
    return {
        "shared": shared,
        "steps": len(traces),
        "wanted_cloud": sum(
            t.decided_target == "cloud" or t.overridden_by == "budget" for t in traces
        ),
        "cloud_steps": sum(cloud),
        "realised_share": sum(cloud) / len(traces) if traces else 0.0,
        "worst_window_share": worst_window,
        "refused_by_budget": sum(t.overridden_by == "budget" for t in traces),
        "spent_usd": spent,
        "usd_cap": usd_cap,
        "over_cap_usd": (spent - usd_cap) if usd_cap is not None else None,
        "max_step_price_usd": max(prices, default=0.0),
        "sink_errors": sink_errors,
        "steps_per_s": len(traces) / elapsed if elapsed > 0 else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200, help="steps per process")
    parser.add_argument("--share-cap", type=float, default=0.3)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--wants", type=float, default=0.6, help="cloud share the policy wants")
    parser.add_argument(
        "--usd-cap-fraction",
        type=float,
        default=0.5,
        help="dollar cap as a share of what the share-capped fleet spends without one",
    )
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: a throwaway one)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "fleet_budget.json",
    )
    args = parser.parse_args()

    server = None
    url = args.url
    if url is None:
        server = TemporaryPostgres().start()
        url = server.url
    try:
        common = {
            "url": url,
            "processes": args.processes,
            "steps": args.steps,
            "share_cap": args.share_cap,
            "window": args.window,
            "wants": args.wants,
        }
        results: dict[str, Any] = {}
        results["share_shared"] = run_fleet(**common, usd_cap=None, shared=True)
        usd_cap = round(results["share_shared"]["spent_usd"] * args.usd_cap_fraction, 6)
        results["dollars_shared"] = run_fleet(**common, usd_cap=usd_cap, shared=True)
        results["share_private"] = run_fleet(**common, usd_cap=None, shared=False)
        results["dollars_private"] = run_fleet(**common, usd_cap=usd_cap, shared=False)
    finally:
        if server is not None:
            server.stop()

    results["args"] = {**vars(args), "out": str(args.out)}
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    print(
        f"{args.processes} processes x {args.steps} steps; policy wants the cloud "
        f"{args.wants:.0%}; share cap {args.share_cap:.0%} over {args.window} steps"
    )
    header = (
        f"{'scenario':<16} {'steps':>6} {'cloud':>6} {'share':>7} {'worst win':>9} "
        f"{'spent $':>10} {'cap $':>10} {'over $':>10} {'max step $':>11} {'steps/s':>8}"
    )
    print(header)
    for name in ("share_shared", "share_private", "dollars_shared", "dollars_private"):
        r = results[name]
        cap = f"{r['usd_cap']:.6f}" if r["usd_cap"] is not None else "-"
        over = f"{r['over_cap_usd']:+.6f}" if r["over_cap_usd"] is not None else "-"
        print(
            f"{name:<16} {r['steps']:>6} {r['cloud_steps']:>6} {r['realised_share']:>7.3f} "
            f"{r['worst_window_share']:>9.3f} {r['spent_usd']:>10.6f} {cap:>10} {over:>10} "
            f"{r['max_step_price_usd']:>11.6f} {r['steps_per_s']:>8.1f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
