"""Replay benchmark under other seeds, latency prices and cloud distances: where does it hold?

``netgpt bench`` reports one configuration. This script reruns it (same files, same recorded
edge outcomes) and, for every run and scenario, prints the closed-form NetGPT policy with the
learned scorer against the best fixed threshold and always-cloud (utility in micro-dollars per
step), its cloud share, the share of steps whose score cleared the threshold, the NetGPT curve's
APGR / CPT(50%), and how many matched cloud shares it beats random at. Three sweeps:

- ``seed``: other task splits (and cloud draws, arrivals) at the default utility;
- ``latency price``: ``lambda_t`` (USD per second of latency) around the default $0.0005/s;
- ``cloud distance``: the base RTTs multiplied (a farther cloud region);
- ``network forecast``: the default causal forecast against the oracle one that reads the trace
  ahead (the wait each payload will really meet): what perfect network prediction would add.

Usage: python benchmarks/replay_sensitivity.py [--seeds 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

from langchain_netgpt.bench.replay import BenchConfig
from langchain_netgpt.bench.report import (
    BenchReport,
    default_data_files,
    default_edge_outcomes,
    default_trace_files,
    run_benchmark,
)

ROOT = Path(__file__).resolve().parents[1]
LATENCY_PRICES = (0.0002, 0.0005, 0.001, 0.002)
RTT_FACTORS = (1.0, 3.0)


def _rows(report: BenchReport, sweep: str, setting: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in report.scenarios:
        dynamic = s.policy("netgpt-learned")
        best = s.policy(s.best_fixed)
        cloud = s.policy("always-cloud")
        curve = s.curve("netgpt-learned")
        wins = sum(p["accuracy"] > p["random_expected_accuracy"] for p in s.random_matched)
        rows.append(
            {
                "sweep": sweep,
                "setting": setting,
                "scenario": s.name,
                "workload": s.workload,
                "dynamic_uusd": dynamic.utility_mean * 1e6,
                "best_fixed_uusd": best.utility_mean * 1e6,
                "best_fixed": best.policy,
                "always_cloud_uusd": cloud.utility_mean * 1e6,
                "dynamic_minus_best_fixed_uusd": (dynamic.utility_mean - best.utility_mean) * 1e6,
                "dynamic_cloud_share": dynamic.cloud_share,
                "cleared_tau": s.thresholds.get("share_score_cleared_tau", 0.0),
                "apgr": curve.apgr,
                "cpt50": curve.cpt50,
                "beats_random": f"{wins}/{len(s.random_matched)}",
                "criteria": {k: v["met"] for k, v in report.criteria.items()},
            }
        )
    return rows


def _runs(base: BenchConfig, seeds: int) -> list[tuple[str, str, BenchConfig]]:
    """(sweep, setting, config) of every run: seeds, latency prices, RTT factors, forecasts."""
    runs: list[tuple[str, str, BenchConfig]] = [
        ("seed", f"seed={seed}", base.model_copy(update={"seed": seed})) for seed in range(seeds)
    ]
    runs += [
        (
            "latency price",
            f"lambda_t={price:g}",
            base.model_copy(update={"latency_usd_per_s": price}),
        )
        for price in LATENCY_PRICES
    ]
    runs += [
        (
            "cloud distance",
            f"rtt x{factor:g}",
            base.model_copy(update={"base_rtts_ms": [r * factor for r in base.base_rtts_ms]}),
        )
        for factor in RTT_FACTORS
    ]
    runs += [
        (
            "network forecast",
            forecast,
            base.model_copy(update={"network_forecast": forecast}),
        )
        for forecast in ("causal", "oracle")
    ]
    return runs


def _print_tables(rows: list[dict[str, Any]]) -> None:
    """One Markdown table per sweep, then the criteria of every run."""
    for sweep in dict.fromkeys(r["sweep"] for r in rows):
        print(f"\n## {sweep}\n")
        print(
            "| setting | scenario | NetGPT | best fixed | always-cloud | diff | NetGPT cloud "
            "share | cleared tau | APGR | CPT50 | beats random |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in (r for r in rows if r["sweep"] == sweep):
            print(
                f"| {r['setting']} | {r['scenario']} | {r['dynamic_uusd']:.1f} | "
                f"{r['best_fixed_uusd']:.1f} | {r['always_cloud_uusd']:.1f} | "
                f"{r['dynamic_minus_best_fixed_uusd']:+.1f} | {r['dynamic_cloud_share']:.3f} | "
                f"{r['cleared_tau']:.3f} | {r['apgr']:.3f} | {r['cpt50']:.3f} | "
                f"{r['beats_random']} |"
            )
    settings = dict.fromkeys((r["sweep"], r["setting"]) for r in rows)
    print("\n## criteria per run\n")
    for sweep, setting in settings:
        met = next(r["criteria"] for r in rows if (r["sweep"], r["setting"]) == (sweep, setting))
        print(
            f"- {sweep} {setting}: "
            + ", ".join(f"{k}={'met' if v else 'NOT'}" for k, v in met.items())
        )


def main() -> None:
    """Run every sweep, print one table per sweep and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="Seeds 0..N-1 for the seed sweep.")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "replay_sensitivity.json",
    )
    args = parser.parse_args()
    data, traces, outcomes = default_data_files(), default_trace_files(), default_edge_outcomes()
    if not data or not traces:
        raise SystemExit("../shared/data (BFCL files and network traces) is not beside the repo")
    runs = _runs(BenchConfig(), args.seeds)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for sweep, setting, config in runs:
        report = run_benchmark(data, traces, outcomes, config=config)
        rows.extend(_rows(report, sweep, setting))
        print(f"  {sweep} {setting}: done at {time.perf_counter() - started:.0f} s", flush=True)
    _print_tables(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {"platform": platform.platform(), "python": platform.python_version()},
                "seconds": time.perf_counter() - started,
                "rows": rows,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
