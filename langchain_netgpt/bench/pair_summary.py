"""Turn the per-seed replays of the pairs benchmark into its report and its criteria.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_summary import CRITERIA

        assert "quality_only_apgr" in CRITERIA
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_netgpt.bench.pair_bench import DEFAULT_VALUE_REASON, PairBenchConfig, ReplayArrays
from langchain_netgpt.bench.pair_fit import OURS, PEERS, SCORERS
from langchain_netgpt.bench.pair_metrics import bootstrap_apgr, cluster_bootstrap_mean
from langchain_netgpt.recorded.pair_outcomes import PairRow, outcome_summary

__all__ = ["CRITERIA", "summarise"]

CRITERIA = {
    "quality_only_apgr": "The best scorer recovers at least 65% of the cloud's accuracy gain over "
    "the whole cost curve (APGR >= 0.65, mean over seeds, held-out tasks)",
    "quality_only_cpt80": "The best scorer reaches 80% of the cloud's accuracy gain with at most "
    "55% of the steps on the cloud (CPT(80%) <= 0.55)",
    "beats_every_peer": "The best scorer beats every re-implemented published router in APGR "
    "(95% confidence interval of the difference above 0)",
    "network_beats_best_fixed": "The network-aware threshold earns more per step than the best "
    "fixed threshold (chosen in hindsight) on at least 2 of 3 network traces (95% confidence "
    "interval above 0)",
    "operating_point": "At its default threshold the router reaches 80% of the cloud's accuracy "
    "gain with at most 60% of the steps on the cloud on at least one trace",
}
BEST = "text"
"""The scorer the criteria judge, fixed before any test half was read (train-half CV chose it)."""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _stats(
    arrays: ReplayArrays, value: float, lt: float, weight: float, edge_acc: float, cloud_acc: float
) -> dict[str, float]:
    n = len(arrays.quality)
    acc = sum(arrays.quality) / n
    lat = sorted(arrays.latency_s)
    util = arrays.utility(value, lt, weight)
    return {
        "quality": acc,
        "cloud_share": sum(arrays.cloud) / n,
        "pgr": (acc - edge_acc) / (cloud_acc - edge_acc) if cloud_acc > edge_acc else 0.0,
        "latency_p50_s": lat[n // 2],
        "latency_p95_s": lat[min(n - 1, round(0.95 * (n - 1)))],
        "price_usd_per_step": sum(arrays.price_usd) / n,
        "utility_usd_per_step": sum(util) / n,
    }


def _best(
    runs: list[tuple[float, ReplayArrays]], value: float, lt: float, weight: float
) -> tuple[float, ReplayArrays, list[float]]:
    best: tuple[float, float, ReplayArrays, list[float]] | None = None
    for threshold, arrays in runs:
        u = arrays.utility(value, lt, weight)
        m = sum(u) / len(u)
        if best is None or m > best[0] + 1e-15:
            best = (m, threshold, arrays, u)
    assert best is not None
    return best[1], best[2], best[3]


def _scenario_rows(
    per_seed: Sequence[dict[str, Any]], config: PairBenchConfig
) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[Any]]]]:
    v, lt, w = config.value_correct_usd, config.latency_usd_per_s, config.cloud_usd_weight
    rows: list[dict[str, Any]] = []
    diffs: dict[str, dict[str, list[Any]]] = {}
    for seed in per_seed:
        for scenario, steps, runs in seed["scenarios"]:
            base = runs["base"]
            edge_acc = _mean(base["always-edge"].quality)
            cloud_acc = _mean(base["always-cloud"].quality)
            policies = {name: _stats(a, v, lt, w, edge_acc, cloud_acc) for name, a in base.items()}
            for scorer in (*OURS, "text-static-link", "text-no-queue"):
                arrays = runs["netgpt"][(scorer, v, lt)]
                policies[f"netgpt-{scorer}"] = _stats(arrays, v, lt, w, edge_acc, cloud_acc)
            for scorer in SCORERS:
                threshold, arrays, _ = _best(runs["fixed"][scorer], v, lt, w)
                policies[f"best-fixed-{scorer}"] = {
                    **_stats(arrays, v, lt, w, edge_acc, cloud_acc),
                    "threshold": threshold,
                }
            rows.append(
                {
                    "seed": seed["seed"],
                    "trace": scenario.trace.name,
                    "base_rtt_ms": scenario.base_rtt_ms,
                    "workload": scenario.workload_name,
                    "policies": policies,
                }
            )
            _, _, fixed_u = _best(runs["fixed"][BEST], v, lt, w)
            net_u = runs["netgpt"][(BEST, v, lt)].utility(v, lt, w)
            entry = diffs.setdefault(
                scenario.trace.name, {"values": [], "tasks": [], "by_workload": []}
            )
            entry["values"].extend(a - b for a, b in zip(net_u, fixed_u, strict=True))
            entry["tasks"].extend(t.id for t in steps.tasks)
            entry["by_workload"].append((scenario.workload_name, _mean(net_u) - _mean(fixed_u)))
    return rows, diffs


def _economics(per_seed: Sequence[dict[str, Any]], config: PairBenchConfig) -> list[dict[str, Any]]:
    w = config.cloud_usd_weight
    table = []
    for value in config.value_grid:
        for lt in config.latency_price_grid:
            cells: dict[str, list[float]] = {}
            diffs: list[float] = []
            tasks: list[str] = []
            for seed in per_seed:
                for _, steps, runs in seed["scenarios"]:
                    for name, arrays in runs["base"].items():
                        cells.setdefault(name, []).append(_mean(arrays.utility(value, lt, w)))
                    for ablation in ("text-static-link", "text-no-queue"):
                        other = runs["netgpt"][(ablation, value, lt)]
                        cells.setdefault(f"netgpt-{ablation}", []).append(
                            _mean(other.utility(value, lt, w))
                        )
                    net = runs["netgpt"][("text", value, lt)]
                    cells.setdefault("netgpt-text", []).append(_mean(net.utility(value, lt, w)))
                    cells.setdefault("netgpt-text cloud share", []).append(
                        _mean([float(c) for c in net.cloud])
                    )
                    for scorer in SCORERS:
                        _, _, u = _best(runs["fixed"][scorer], value, lt, w)
                        cells.setdefault(f"best-fixed-{scorer}", []).append(_mean(u))
                        if scorer == BEST:
                            net_u = net.utility(value, lt, w)
                            diffs.extend(a - b for a, b in zip(net_u, u, strict=True))
                            tasks.extend(t.id for t in steps.tasks)
            row: dict[str, Any] = {"value_usd": value, "latency_usd_per_s": lt}
            row.update({k: _mean(v) for k, v in sorted(cells.items())})
            row["netgpt_minus_best_fixed_ci"] = cluster_bootstrap_mean(
                diffs, tasks, resamples=config.bootstrap, seed=config.seeds[0]
            )
            table.append(row)
    return table


def _quality_only(
    per_seed: Sequence[dict[str, Any]], config: PairBenchConfig, base_seed: int
) -> dict[str, Any]:
    per_scorer = {
        s: {
            "per_seed": [{"seed": d["seed"], **d["curves"][s]} for d in per_seed],
            "apgr": _mean([d["curves"][s]["apgr"] for d in per_seed]),
            "cpt50": _mean([d["curves"][s]["cpt50"] for d in per_seed]),
            "cpt80": _mean([d["curves"][s]["cpt80"] for d in per_seed]),
        }
        for s in SCORERS
    }
    routers = [BEST, *[s for s in SCORERS if s != BEST]]
    boot = bootstrap_apgr(
        [d["quality"] for d in per_seed], routers, resamples=config.bootstrap, seed=base_seed
    )
    for s in SCORERS:
        per_scorer[s]["apgr_ci95"] = boot["apgr"][s]
    return {
        "best": BEST,
        "scorers": per_scorer,
        "difference_vs_best": boot["difference"],
        "resamples": boot["resamples_used"],
    }


def summarise(
    per_seed: Sequence[dict[str, Any]],
    config: PairBenchConfig,
    pair_files: Sequence[str | Path],
    trace_files: Sequence[str | Path],
    rows: Sequence[PairRow],
    dropped: int,
) -> Any:
    """The :class:`~langchain_netgpt.bench.pair_report.PairBenchReport` of a run."""
    from langchain_netgpt.bench.pair_report import ROUTELLM_PUBLISHED_GSM8K, PairBenchReport

    base_seed = config.seeds[0]
    quality = _quality_only(per_seed, config, base_seed)
    scenario_rows, diffs = _scenario_rows(per_seed, config)
    network: dict[str, Any] = {}
    for trace, entry in sorted(diffs.items()):
        ci = cluster_bootstrap_mean(
            entry["values"], entry["tasks"], resamples=config.bootstrap, seed=base_seed
        )
        network[trace] = {
            **ci,
            "beats": ci["low"] > 0,
            "by_workload": {
                wl: _mean([d for name, d in entry["by_workload"] if name == wl])
                for wl in sorted({n for n, _ in entry["by_workload"]})
            },
        }
    operating: dict[str, dict[str, float]] = {}
    for trace in sorted(diffs):
        mine = [r["policies"]["netgpt-text"] for r in scenario_rows if r["trace"] == trace]
        operating[trace] = {
            "cloud_share": _mean([p["cloud_share"] for p in mine]),
            "pgr": _mean([p["pgr"] for p in mine]),
            "quality": _mean([p["quality"] for p in mine]),
        }
    best = quality["scorers"][BEST]
    peer_diffs = {p: quality["difference_vs_best"][p] for p in PEERS}
    wins = sum(v["beats"] for v in network.values())
    criteria = {
        "quality_only_apgr": {"met": best["apgr"] >= 0.65, "value": best["apgr"]},
        "quality_only_cpt80": {"met": best["cpt80"] <= 0.55, "value": best["cpt80"]},
        "beats_every_peer": {
            "met": all(d["low"] > 0 for d in peer_diffs.values()),
            "differences": peer_diffs,
        },
        "network_beats_best_fixed": {
            "met": wins >= min(2, len(network)),
            "traces_won": wins,
            "traces": len(network),
        },
        "operating_point": {
            "met": any(o["pgr"] >= 0.8 and o["cloud_share"] <= 0.6 for o in operating.values()),
            "per_trace": operating,
        },
    }
    for key, text in CRITERIA.items():
        criteria[key]["criterion"] = text
    return PairBenchReport(
        config=config.model_dump(mode="json"),
        pair_files=[Path(p).name for p in pair_files],
        trace_files=[Path(p).name for p in trace_files],
        data={
            **outcome_summary(rows),
            "contaminated_dropped": dropped,
            "decontaminated": config.drop_contaminated,
        },
        profiles={"edge": config.edge.statement(), "cloud": config.cloud.statement()},
        prices_reason=DEFAULT_VALUE_REASON,
        output_estimate=[d["output_estimate"] for d in per_seed],
        splits=[d["split"] for d in per_seed],
        fits=[d["fit"] for d in per_seed],
        quality_only=quality,
        routellm_published=ROUTELLM_PUBLISHED_GSM8K,
        scenarios=scenario_rows,
        network=network,
        economics=_economics(per_seed, config),
        criteria=criteria,
    )
