"""Several targets under load: QoS routing vs least-loaded, round-robin, random and two-target.

Discrete-event simulation (``langchain_netgpt.bench.multi_target``) over the BFCL tasks that have
a recorded outcome of the bundled SmolLM2-135M: two edge experts (``edge-grammar``: recorded
correctness and tokens, modelled small-GPU speed; ``edge-short``: same model with a 48-token
budget on a 2x faster device, modelled), a cloud over a real mahimahi LTE trace, Poisson and
bursty arrivals. Reports mean QoS (utility with the SLO penalty, micro-dollars per step),
accuracy, SLO-violation rate, p50/p95 latency and utilisation per target. Seeded, reproducible.

Usage: python benchmarks/multi_target.py [--requests 600] [--seed 0] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from langchain_netgpt.bench.multi_target import MultiTargetConfig, format_table, run_multi_target
from langchain_netgpt.bench.report import (
    default_data_files,
    default_edge_outcomes,
    default_trace_files,
)

ROOT = Path(__file__).resolve().parents[1]
REGIMES = {
    # Cloud dollars at face value: the cloud (90% right, ~$30 per million steps) wins most steps.
    "cloud-at-face-value": 1.0,
    # A tight cloud budget (each cloud dollar counts 10x): the edge experts carry the load.
    "cloud-costly": 10.0,
}
# The costly-cloud regime again with a QoS policy that assumes no batch interference.
BLIND = "cloud-costly, policy blind to interference"


def main() -> None:
    """Run the simulation, print the table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="Requests per workload.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of everything random.")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "multi_target.json"
    )
    args = parser.parse_args()
    out: dict[str, object] = {"machine": platform.platform(), "regimes": {}}
    runs = [(label, weight, None) for label, weight in REGIMES.items()]
    runs.append((BLIND, REGIMES["cloud-costly"], 0.0))
    for label, cloud_weight, policy_interference in runs:
        config = MultiTargetConfig(
            requests=args.requests,
            seed=args.seed,
            cloud_usd_weight=cloud_weight,
            policy_interference=policy_interference,
        )
        started = time.perf_counter()
        report = run_multi_target(
            default_data_files(), default_edge_outcomes(), default_trace_files(), config
        )
        elapsed = time.perf_counter() - started
        print(
            f"\n== {label} (lambda_c = {cloud_weight:g}): "
            f"{report['tasks']['with_outcomes']} tasks with recorded outcomes "
            f"({report['tasks']['test']} test), trace {report['trace']}, "
            f"{args.requests} requests per workload, {elapsed:.1f} s"
        )
        print(format_table(report))
        report["elapsed_s"] = elapsed
        out["regimes"][label] = report  # type: ignore[index]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
