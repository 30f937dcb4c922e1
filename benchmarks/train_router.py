"""train-router on the BFCL/LTE replay: learned vs logging policy value, over several splits.

The real ``NetGPTRouter`` replays BFCL tasks (edge = the bundled SmolLM2-135M's recorded answers,
cloud = ground truth, network = mahimahi LTE traces under base RTTs of 30-3000 ms) with an
epsilon-greedy NetGPT policy (``langchain_netgpt.learn.routing_log``); the traces are exported as
router data; ``train_router`` is run with several seeds (each seed is another task-level split).
For every split it reports the held-out values (USD per step, 95% bootstrap CI) of the learned
policy (DR and IPS), of the logging policy's deterministic rule (DR) and of the logging policy
itself (mean reward), the paired gain, the DR / IPS interval widths and the learned threshold at
the 10th / 50th / 90th RTT percentile. Compare within a run, not across machines.

Usage: python benchmarks/train_router.py [--max-tasks N] [--seeds 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_netgpt.export.router_data import export_router_data
from langchain_netgpt.learn import RouterReplayConfig, replay_router_log, train_router

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "data").resolve()


def _ci(estimate: Any) -> dict[str, float]:
    return {"value": estimate.value, "ci_low": estimate.ci_low, "ci_high": estimate.ci_high}


def _split_result(fit: Any, seed: int, fit_s: float) -> dict[str, Any]:
    by = {(policy, e.estimator): e for policy, e in fit.estimates}
    learned_dr, learned_ips = by[("learned", "dr")], by[("learned", "ips")]
    return {
        "seed": seed,
        "n_train": fit.n_train,
        "n_test": fit.n_test,
        "learned_dr": _ci(learned_dr),
        "learned_ips": _ci(learned_ips),
        "logging_rule_dr": _ci(by[("logging rule", "dr")]),
        "logging_on_policy": _ci(fit.logging),
        "gain_dr_minus_logging": _ci(by[("learned - logging", "dr - on-policy")]),
        "dr_ci_width": learned_dr.ci_width,
        "ips_ci_width": learned_ips.ci_width,
        "tau_by_rtt": fit.tau_by_rtt,
        "tau_falls_with_rtt": fit.tau_falls_with_rtt,
        "fit_s": fit_s,
    }


def _usd(x: dict[str, float]) -> str:
    return f"{x['value'] * 1e3:.3f} [{x['ci_low'] * 1e3:.3f}, {x['ci_high'] * 1e3:.3f}]"


def _print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'seed':>4}  {'learned DR':>24}  {'logging':>24}  {'rule DR':>24}  "
        f"{'gain':>24}  {'DR/IPS width':>12}  tau@p10/p50/p90"
    )
    print(header)
    for r in results:
        taus = "/".join(f"{tau:.2f}" for _, tau in r["tau_by_rtt"])
        print(
            f"{r['seed']:>4}  {_usd(r['learned_dr']):>24}  {_usd(r['logging_on_policy']):>24}  "
            f"{_usd(r['logging_rule_dr']):>24}  {_usd(r['gain_dr_minus_logging']):>24}  "
            f"{r['dr_ci_width'] / r['ips_ci_width']:>12.2f}  {taus}"
        )


def main() -> None:
    """Run the replay once, train with every seed, print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-tasks", type=int, default=None, help="First N recorded tasks.")
    parser.add_argument("--seeds", type=int, default=5, help="Splits (seeds 0..N-1).")
    parser.add_argument("--data", type=Path, default=SHARED, help="The shared data folder.")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "train_router.json"
    )
    args = parser.parse_args()

    config = RouterReplayConfig(
        bfcl_dir=args.data / "bfcl",
        traces_dir=args.data / "network-traces",
        max_tasks=args.max_tasks,
    )
    started = time.perf_counter()
    traces = replay_router_log(config)
    replay_s = time.perf_counter() - started
    tasks = len({t.session_id for t in traces})
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "router.jsonl"
        export_router_data(traces, data, format="jsonl")
        for seed in range(args.seeds):
            started = time.perf_counter()
            fit = train_router(data, Path(tmp) / "policy.json", seed=seed)
            results.append(_split_result(fit, seed, time.perf_counter() - started))

    print(f"{len(traces)} steps over {tasks} tasks (replay {replay_s:.1f} s); values in mUSD/step")
    _print_table(results)
    beats = sum(r["learned_dr"]["value"] > r["logging_on_policy"]["value"] for r in results)
    print(f"learned DR > logging mean reward on {beats}/{len(results)} splits")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "train_router",
                "python": platform.python_version(),
                "machine": platform.machine(),
                "steps": len(traces),
                "tasks": tasks,
                "replay_s": replay_s,
                "config": config.model_dump(mode="json"),
                "splits": results,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
