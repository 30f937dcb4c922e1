"""The replay benchmark's report as Markdown, and the words it uses for its targets.

:func:`render_markdown` turns a :class:`~langchain_netgpt.bench.report.BenchReport` into
``report.md``: provenance, the edge model's own accuracy, the targets, and one table per
scenario. :data:`TARGETS` and :func:`target_verdict` say the targets in a reader's words (the
CLI and the pairs report use them too).

Example:
    .. code-block:: python

        from langchain_netgpt.bench.report_markdown import target_verdict

        print(target_verdict(True))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_netgpt.bench.report import BenchReport

__all__ = ["HEADLINE", "TARGETS", "render_markdown", "target_verdict"]

HEADLINE = (
    "always-edge",
    "always-cloud",
    "oracle",
    "netgpt-heuristic",
    "netgpt-learned",
    "netgpt-learned-budget",
)
"""The policies every scenario table shows (with the best fixed threshold after them)."""

TARGETS: dict[str, str] = {
    "learned_apgr_at_least_half_reaching_pgr_half_within_half_cloud": (
        "The learned router recovers at least half of the cloud's accuracy gain over the whole "
        "cost curve (APGR >= 0.5) and half of it with at most half of the steps on the cloud "
        "(CPT(50%) <= 0.5), in every scenario"
    ),
    "learned_operating_point_at_most_half_cloud": (
        "At its default threshold the learned router sends at most half of the steps to the cloud"
    ),
    "budget_row_pgr_at_least_half_within_its_cap": (
        "Under the cloud-share cap, the learned router still recovers at least half of the "
        "cloud's accuracy gain"
    ),
    "learned_beats_random_at_every_matched_share": (
        "The learned router is more accurate than random routing at every cloud share tried"
    ),
    "dynamic_beats_best_fixed_on_two_of_three_traces": (
        "The network-aware threshold earns more than the best fixed threshold on at least two "
        "of three network traces per workload"
    ),
}
"""What each target of :attr:`BenchReport.criteria` means, in a reader's words."""


def target_verdict(met: bool) -> str:
    """How a report says whether a target was reached."""
    return "reached" if met else "not reached"


def _forecast_statement(forecast: str) -> str:
    """What the policies were told about the link, as the report says it."""
    if forecast == "causal":
        return (
            "causal forecast (the policies see the trace before each step only: bandwidth over "
            "the window, base RTT plus the wait forecast from the uplink's silence so far and the "
            "silences it showed before)."
        )
    return (
        "oracle forecast (the policies see the wait each payload will really meet, read ahead "
        "in the trace: an upper bound on network forecasting, not what a deployed router knows)."
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_markdown(report: BenchReport) -> str:
    """The report as Markdown: provenance, edge accuracy, and one table per scenario."""
    e = report.edge_outcomes
    lines = [
        "# NetGPT replay benchmark",
        "",
        f"- Edge: `{e['model']}` on `{e['device']}` (recorded in `{e['file']}`), "
        f"{e['tasks_covered']} of {e['tasks_in_files']} tasks covered "
        f"({e['tasks_skipped_without_outcome']} skipped without an outcome); "
        f"**{report.edge_speed}**.",
        f"- Cloud: {report.cloud_mode}.",
        f"- Split: {report.split['train']} train / {report.split['test']} test tasks "
        f"({report.split['by']}); every policy is scored on the test split only.",
        f"- Utility: {report.config['value_correct_usd']} USD x correct - "
        f"{report.config['latency_usd_per_s']} USD/s x latency - "
        f"{report.config['cloud_usd_weight']} x cloud price (NetGPTPolicy's own defaults unless "
        f"configured); seed {report.config['seed']}. Budget row: cloud share capped at "
        f"{report.config['budget_cloud_share']:g}.",
        f"- Network: {_forecast_statement(report.config.get('network_forecast', 'oracle'))}",
        "",
        "## Edge model's own BFCL accuracy (all recorded tasks)",
        "",
        "| category | tasks | accuracy | schema-valid | mean latency (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for category, row in report.edge_accuracy_by_category.items():
        lines.append(
            f"| {category} | {int(row['tasks'])} | {row['accuracy']:.3f} | "
            f"{row['schema_valid']:.3f} | {row['mean_latency_s']:.2f} |"
        )
    lines += ["", "## Targets", ""]
    for name, value in report.criteria.items():
        lines.append(f"- {TARGETS.get(name, name)}: **{target_verdict(value['met'])}**")
    for s in report.scenarios:
        lines += [
            "",
            f"## {s.name} (mean arrival rate {s.mean_arrival_rate_per_s:.3f}/s)",
            "",
            "| policy | accuracy | valid | cloud share | p50 (s) | p95 (s) | mean (s) | "
            "price (USD, total) | PGR | utility (µUSD/step) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        shown = [s.policy(n) for n in HEADLINE] + [s.policy(s.best_fixed)]
        for m in shown:
            label = m.policy if m.policy != s.best_fixed else f"best fixed ({m.policy})"
            lines.append(
                f"| {label} | {m.accuracy:.3f} | {m.validity:.3f} | {m.cloud_share:.3f} | "
                f"{m.latency_p50_s:.2f} | {m.latency_p95_s:.2f} | {m.latency_mean_s:.2f} | "
                f"{m.price_usd:.4f} | {_fmt(m.pgr)} | {m.utility_mean * 1e6:.1f} |"
            )
        lines += ["", "| curve | APGR | CPT(50%) | CPT(80%) |", "|---|---:|---:|---:|"]
        for c in s.curves:
            lines.append(f"| {c.family} | {c.apgr:.3f} | {c.cpt50:.3f} | {c.cpt80:.3f} |")
        if s.thresholds:
            t = s.thresholds
            lines += [
                "",
                f"netgpt-learned's threshold tau over the steps: min {t['tau_min']:.3f}, "
                f"p5 {t['tau_p5']:.3f}, median {t['tau_p50']:.3f}, p95 {t['tau_p95']:.3f}; "
                f"highest calibrated learned score {t['max_score']:.3f}; "
                f"{t['share_score_cleared_tau']:.1%} of steps cleared tau.",
            ]
        wins = sum(p["accuracy"] > p["random_expected_accuracy"] for p in s.random_matched)
        verdict = "beats" if s.dynamic_beats_best_fixed else "does not beat"
        lines += [
            "",
            f"netgpt-learned beats random at {wins} of {len(s.random_matched)} matched cloud "
            f"shares (expected accuracy; {s.beats_realised_random} against a realised seeded "
            f"random run); dynamic threshold {verdict} the best fixed threshold ({s.best_fixed}) "
            "in utility.",
        ]
    return "\n".join(lines) + "\n"
