"""The pairs benchmark report as Markdown, and the files a ``--pairs`` run writes.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_render import fmt_usd

        assert fmt_usd(0.0012345) == "1234.5"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_netgpt.bench.pair_fit import SCORERS
from langchain_netgpt.bench.pair_report import PairBenchReport
from langchain_netgpt.bench.report_markdown import target_verdict

__all__ = ["fmt_usd", "render_pair_markdown", "write_pair_report"]

SCENARIO_POLICIES = (
    "always-edge",
    "always-cloud",
    "oracle",
    "netgpt-text",
    "netgpt-text-static-link",
    "netgpt-text-no-queue",
    "best-fixed-text",
    "netgpt-features",
    "best-fixed-sw-ranking",
    "best-fixed-mf",
    "best-fixed-classifier-head",
)


def fmt_usd(value: float) -> str:
    """A USD amount per step in micro-dollars, one decimal."""
    return f"{value * 1e6:.1f}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _quality_lines(report: PairBenchReport) -> list[str]:
    q = report.quality_only
    lines = [
        "## Quality only (no network): routing curves on the test halves",
        "",
        f"Each router ranks a seed's test half; the k lowest scores go to the cloud, for every k. "
        f"Means over {len(report.splits)} seeds; 95% bootstrap intervals over test questions "
        f"({q['resamples']} resamples per seed). `{q['best']}` is the scorer the criteria judge "
        "(chosen on the train halves before any test half was read).",
        "",
        "| router | trained on | APGR | 95% CI | CPT(50%) | CPT(80%) | APGR of "
        f"`{q['best']}` minus this (95% CI) |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for name in SCORERS:
        s = q["scorers"][name]
        diff = q["difference_vs_best"].get(name)
        d = (
            "-"
            if diff is None
            else f"{diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]"
        )
        lines.append(
            f"| {name} | train half | {s['apgr']:.3f} | [{s['apgr_ci95'][0]:.3f}, "
            f"{s['apgr_ci95'][1]:.3f}] | {s['cpt50']:.3f} | {s['cpt80']:.3f} | {d} |"
        )
    pub = report.routellm_published
    lines += [
        "",
        f"RouteLLM's own GSM8K figures, quoted from {pub['source']}; **{pub['trained_on']}**:",
        "",
        "| training data | router | APGR | CPT(50%) | CPT(80%) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in pub["rows"]:
        lines.append(
            f"| {row['data']} | {row['router']} | {row['apgr']:.3f} | {row['cpt50']:.3f} | "
            f"{row['cpt80']:.3f} |"
        )
    return lines


def _scenario_lines(report: PairBenchReport) -> list[str]:
    lines = [
        "",
        "## Network scenarios at the default prices (means over seeds)",
        "",
        "`best-fixed-*` is the fixed threshold of highest utility on that scenario's test half, "
        "chosen in hindsight (an upper bound for any fixed threshold on that router's score).",
    ]
    keys = sorted({(r["trace"], r["base_rtt_ms"], r["workload"]) for r in report.scenarios})
    for trace, rtt, workload in keys:
        rows = [
            r
            for r in report.scenarios
            if (r["trace"], r["base_rtt_ms"], r["workload"]) == (trace, rtt, workload)
        ]
        lines += [
            "",
            f"### {trace}, base RTT {rtt:g} ms, {workload} arrivals",
            "",
            "| policy | quality | cloud share | PGR | p50 (s) | p95 (s) | price (µUSD/step) | "
            "utility (µUSD/step) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in SCENARIO_POLICIES:
            ps = [r["policies"][name] for r in rows]
            lines.append(
                f"| {name} | {_mean([p['quality'] for p in ps]):.3f} | "
                f"{_mean([p['cloud_share'] for p in ps]):.3f} | "
                f"{_mean([p['pgr'] for p in ps]):.3f} | "
                f"{_mean([p['latency_p50_s'] for p in ps]):.2f} | "
                f"{_mean([p['latency_p95_s'] for p in ps]):.2f} | "
                f"{fmt_usd(_mean([p['price_usd_per_step'] for p in ps]))} | "
                f"{fmt_usd(_mean([p['utility_usd_per_step'] for p in ps]))} |"
            )
    lines += [
        "",
        "Closed form (`netgpt-text`) minus the best fixed threshold on the same scorer, per step, "
        "pooled over seeds and workloads (95% bootstrap interval over questions):",
        "",
        "| trace | mean (µUSD/step) | 95% CI | beats |",
        "|---|---:|---|---|",
    ]
    for trace, n in report.network.items():
        lines.append(
            f"| {trace} | {fmt_usd(n['mean'])} | [{fmt_usd(n['low'])}, {fmt_usd(n['high'])}] | "
            f"{'yes' if n['beats'] else 'no'} |"
        )
    return lines


def _economics_lines(report: PairBenchReport) -> list[str]:
    peers = ["best-fixed-sw-ranking", "best-fixed-mf", "best-fixed-classifier-head"]
    lines = [
        "",
        "## Economics: mean utility (µUSD/step) over every scenario and seed",
        "",
        "`static link`: the closed form shown one fixed, typical network state instead of the "
        "forecast at each step; `no queue`: blind to the edge queue's wait (ablations).",
        "",
        "| V (USD) | lambda_t (USD/s) | always-edge | always-cloud | netgpt-text (cloud share) | "
        "static link | no queue | best fixed text | netgpt - best fixed (95% CI) | "
        + " | ".join(peers)
        + " | oracle |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|" + "---:|" * len(peers) + "---:|",
    ]
    for row in report.economics:
        ci = row["netgpt_minus_best_fixed_ci"]
        lines.append(
            f"| {row['value_usd']:g} | {row['latency_usd_per_s']:g} | "
            f"{fmt_usd(row['always-edge'])} | {fmt_usd(row['always-cloud'])} | "
            f"{fmt_usd(row['netgpt-text'])} ({row['netgpt-text cloud share']:.2f}) | "
            f"{fmt_usd(row['netgpt-text-static-link'])} | {fmt_usd(row['netgpt-text-no-queue'])} | "
            f"{fmt_usd(row['best-fixed-text'])} | {fmt_usd(ci['mean'])} "
            f"[{fmt_usd(ci['low'])}, {fmt_usd(ci['high'])}] | "
            + " | ".join(fmt_usd(row[p]) for p in peers)
            + f" | {fmt_usd(row['oracle'])} |"
        )
    return lines


def render_pair_markdown(report: PairBenchReport) -> str:
    """The report as Markdown: provenance, profiles, prices, curves, scenarios, economics."""
    d = report.data
    c = report.config
    lines = [
        "# NetGPT pairs benchmark",
        "",
        f"- Data: {', '.join(report.pair_files)}: {d['rows']} rows after dropping "
        f"{d['contaminated_dropped']} contaminated; edge {', '.join(d['edge_model'])} "
        f"(quality {d['edge_quality']:.3f}), cloud {', '.join(d['cloud_model'])} "
        f"(quality {d['cloud_quality']:.3f}); edge alone better on "
        f"{d['edge_only_better']:.1%}, cloud alone on {d['cloud_only_better']:.1%}.",
        f"- Edge profile: {report.profiles['edge']}",
        f"- Cloud profile: {report.profiles['cloud']}",
        f"- Missing answers: {report.output_estimate[0] if report.output_estimate else '-'}.",
        f"- Splits: seeds {c['seeds']}, {report.splits[0]['train']} train / "
        f"{report.splits[0]['test']} test questions each (by id, stratified by category); every "
        "router is trained on the train half and scored on the test half only.",
        f"- Prices: V = ${c['value_correct_usd']:g}, lambda_t = ${c['latency_usd_per_s']:g}/s, "
        f"lambda_c = {c['cloud_usd_weight']:g}. {report.prices_reason}",
        f"- Network: traces {', '.join(report.trace_files)}, base RTTs {c['base_rtts_ms']} ms, "
        f"{c['network_forecast']} forecast; workloads {', '.join(c['workloads'])}.",
        "",
        "## Targets",
        "",
    ]
    for _name, value in report.criteria.items():
        lines.append(f"- {value['criterion']}: **{target_verdict(value['met'])}**")
    lines += ["", *_quality_lines(report), *_scenario_lines(report), *_economics_lines(report)]
    return "\n".join(lines) + "\n"


def write_pair_report(report: PairBenchReport, out: str | Path) -> list[Path]:
    """Write ``pairs-report.json`` and ``pairs-report.md`` into ``out``.

    Returns:
        The files written.
    """
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = report.model_dump(mode="json")
    json_path = directory / "pairs-report.json"
    json_path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    md_path = directory / "pairs-report.md"
    md_path.write_text(render_pair_markdown(report), encoding="utf-8")
    return [json_path, md_path]
