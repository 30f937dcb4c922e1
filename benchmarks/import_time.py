"""Import time of the public names, against importing langchain_core's chat-model base alone.

The issue's target: ``from langchain_netgpt import NetGPTRouter, ...`` in under 1 s without torch.
Each measurement is a fresh interpreter; the table shows the median and best of N runs.

Usage: python benchmarks/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SNIPPETS = {
    "langchain_core chat-model base (floor)": (
        "from langchain_core.language_models import BaseChatModel; BaseChatModel.__name__"
    ),
    "langchain_netgpt public names": (
        "from langchain_netgpt import NetGPTRouter, NetGPTPolicy, NetworkState, NetworkMonitor, "
        "RequestFeatures, HeuristicScorer, LatencyModel, CloudBudget, RouteDecision, RouteTrace"
    ),
}


def measure(snippet: str) -> float:
    code = (
        "import time; t0 = time.perf_counter(); "
        + snippet
        + "; import sys; print(time.perf_counter() - t0, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    elapsed, torch_loaded = out.stdout.split()
    if torch_loaded != "False":
        raise SystemExit(f"torch was imported by: {snippet}")
    return float(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "import_time.json"
    )
    args = parser.parse_args()
    results = {}
    print(f"{'import':<42}{'median s':>10}{'best s':>10}")
    for name, snippet in SNIPPETS.items():
        runs = [measure(snippet) for _ in range(args.runs)]
        results[name] = {"median_s": statistics.median(runs), "best_s": min(runs), "runs": runs}
        print(f"{name:<42}{statistics.median(runs):>10.3f}{min(runs):>10.3f}")
    ours = results["langchain_netgpt public names"]["median_s"]
    floor = results["langchain_core chat-model base (floor)"]["median_s"]
    print(
        f"target < 1 s: {'met' if ours < 1.0 else 'MISSED'}; "
        f"ours minus the floor: {ours - floor:.3f} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
