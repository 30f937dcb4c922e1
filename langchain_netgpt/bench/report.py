"""Run the replay benchmark end to end and write its report (Markdown, JSON, Pareto plots).

:func:`run_benchmark` loads BFCL files and recorded outcomes, splits the tasks, fits the learned
scorer and the edge latency model on the train split, and replays every policy on the test split
under every (trace, workload) scenario. :func:`write_report` writes ``report.md``,
``report.json`` and the two Pareto PNGs. The same inputs and seed give the same ``report.json``.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.report import BenchReport

        print(BenchReport.model_fields["scenarios"].description)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.bench.metrics import PolicyMetrics, apgr, cost_to_reach, pgr, summarize
from langchain_netgpt.bench.policies import (
    CURVE_FAMILIES,
    HEURISTIC,
    LEARNED,
    PolicyFamily,
    ReplayPolicy,
    calibrate_latency_model,
    constant,
    fit_scorers,
    fixed_threshold,
    netgpt,
    netgpt_policy,
    oracle,
    random_at,
)
from langchain_netgpt.bench.record import EdgeOutcome, load_edge_outcomes
from langchain_netgpt.bench.replay import (
    BenchConfig,
    ReplayTask,
    Scenario,
    cloud_draws,
    edge_speed_statement,
    pair_traces,
    prepare_tasks,
    replay,
    split_tasks,
    stable_seed,
)
from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.bfcl_tasks import load_bfcl
from langchain_netgpt.recorded.edge_outcomes import BUNDLED_EDGE_OUTCOMES
from langchain_netgpt.routing.latency import LatencyModel

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "BenchReport",
    "CurveSummary",
    "ScenarioReport",
    "default_data_files",
    "default_edge_outcomes",
    "default_trace_files",
    "run_benchmark",
    "write_report",
]

REPORT_SCHEMA_VERSION = 1

HEADLINE = (
    "always-edge",
    "always-cloud",
    "oracle",
    "netgpt-heuristic",
    "netgpt-learned",
    "netgpt-learned-budget",
)


class CurveSummary(BaseModel):
    """Routing quality of one family of operating points (RouteLLM metrics)."""

    model_config = ConfigDict(extra="forbid")

    family: str
    points: list[tuple[float, float]] = Field(description="(cloud share, PGR), sorted.")
    apgr: float
    cpt50: float
    cpt80: float


class ScenarioReport(BaseModel):
    """Every policy's results under one (trace, base RTT, workload) scenario."""

    model_config = ConfigDict(extra="forbid")

    name: str
    trace: str
    base_rtt_ms: float
    workload: str
    mean_arrival_rate_per_s: float
    edge_accuracy: float
    cloud_accuracy: float
    policies: list[PolicyMetrics]
    curves: list[CurveSummary]
    best_fixed: str = Field(description="The fixed-threshold point of highest utility.")
    dynamic_beats_best_fixed: bool
    random_matched: list[dict[str, float]] = Field(
        description="For each netgpt-learned point: cloud share, its accuracy, random's expected "
        "accuracy at that share (the edge-cloud line) and a realised seeded random run's."
    )
    beats_random_everywhere: bool = Field(
        description="netgpt-learned beats random's expected accuracy at every matched share."
    )
    beats_realised_random: int = Field(
        description="Matched shares where netgpt-learned also beats the realised random run."
    )
    thresholds: dict[str, float] = Field(
        description="The closed-form netgpt-learned policy's per-step threshold tau (quantiles "
        "p5/p50/p95 and min), the highest learned score on the test split, and the share of "
        "steps whose score cleared tau: why the policy keeps (or does not keep) steps on the edge."
    )

    def policy(self, name: str) -> PolicyMetrics:
        """The metrics of the policy called ``name``.

        Raises:
            KeyError: No such policy in this scenario.
        """
        for metrics in self.policies:
            if metrics.policy == name:
                return metrics
        raise KeyError(f"no policy {name!r} in scenario {self.name!r}")

    def curve(self, family: str) -> CurveSummary:
        """The curve of ``family``.

        Raises:
            KeyError: No such curve.
        """
        for curve in self.curves:
            if curve.family == family:
                return curve
        raise KeyError(f"no curve {family!r} in scenario {self.name!r}")


class BenchReport(BaseModel):
    """A whole benchmark run: inputs, edge accuracy, split, and one report per scenario."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = REPORT_SCHEMA_VERSION
    config: dict[str, Any]
    data_files: list[str]
    trace_files: list[str]
    edge_outcomes: dict[str, Any] = Field(
        description="The outcomes file, its model, and how many tasks it covered."
    )
    cloud_mode: str = Field(description="How cloud answers were obtained (stated in reports).")
    edge_speed: str = Field(
        description="How edge correctness and edge speed were obtained (stated in reports)."
    )
    edge_accuracy_by_category: dict[str, dict[str, float]]
    split: dict[str, Any]
    learned_scorer: dict[str, Any]
    edge_latency_model: dict[str, Any]
    scenarios: list[ScenarioReport] = Field(description="One entry per (trace, workload).")
    criteria: dict[str, Any]


def _shared_data() -> Path | None:
    """``../shared/data`` beside the project root (a source checkout), or beside the cwd."""
    candidates = [
        Path(__file__).resolve().parents[2].parent / "shared" / "data",
        Path.cwd().resolve().parent / "shared" / "data",
    ]
    return next((c for c in candidates if c.is_dir()), None)


def default_data_files() -> list[Path]:
    """Every BFCL file in ``../shared/data/bfcl`` (empty when that folder is absent)."""
    root = _shared_data()
    return sorted((root / "bfcl").glob("*.json")) if root is not None else []


def default_trace_files() -> list[Path]:
    """Every mahimahi file in ``../shared/data/network-traces`` (empty when absent)."""
    root = _shared_data()
    if root is None:
        return []
    return sorted(p for p in (root / "network-traces").iterdir() if p.is_file())


def default_edge_outcomes() -> Path:
    """The committed recording of the bundled edge model over the BFCL files."""
    return BUNDLED_EDGE_OUTCOMES


def _accuracy_by_category(rows: Sequence[EdgeOutcome]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for category in sorted({r.category for r in rows}):
        mine = [r for r in rows if r.category == category]
        out[category] = {
            "tasks": float(len(mine)),
            "accuracy": sum(r.correct for r in mine) / len(mine),
            "schema_valid": sum(r.schema_valid for r in mine) / len(mine),
            "mean_latency_s": sum(r.latency_s for r in mine) / len(mine),
        }
    if rows:
        out["all"] = {
            "tasks": float(len(rows)),
            "accuracy": sum(r.correct for r in rows) / len(rows),
            "schema_valid": sum(r.schema_valid for r in rows) / len(rows),
            "mean_latency_s": sum(r.latency_s for r in rows) / len(rows),
        }
    return out


def _nearest_rank(ordered: Sequence[float], numerator: int, denominator: int) -> float:
    """The value ``numerator / denominator`` of the way through ``ordered`` (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(numerator * (len(ordered) - 1) / denominator))]


def _interior_quantiles(ordered: Sequence[float], points: int) -> set[float]:
    """The ``points - 2`` evenly spaced interior quantiles of ``ordered`` (sorted)."""
    return {_nearest_rank(ordered, k, points - 1) for k in range(1, points - 1)}


def _thresholds(test: Sequence[ReplayTask], scorer: str, points: int) -> list[float]:
    scores = sorted(item.scores[scorer] for item in test)
    picks = {0.0, 1.0 + 1e-9} | _interior_quantiles(scores, points)
    return sorted(min(1.0, p) for p in picks)


def _run(
    policy: ReplayPolicy,
    scenario: Scenario,
    test: Sequence[ReplayTask],
    arrivals: Sequence[float],
    config: BenchConfig,
    draws: dict[str, bool],
) -> PolicyMetrics:
    results = replay(
        test,
        arrivals,
        scenario,
        policy.make(),
        config,
        draws,
        fallback=config.fallback_on_invalid and policy.fallback,
    )
    return summarize(
        results, policy=policy.name, family=policy.family.value, parameter=policy.parameter
    )


def _scenario_report(
    scenario: Scenario,
    test: Sequence[ReplayTask],
    config: BenchConfig,
    draws: dict[str, bool],
    latency_model: Any,
) -> ScenarioReport:
    import random as _random

    order = list(test)
    _random.Random(stable_seed(config.seed, "order", scenario.name)).shuffle(order)
    arrivals = scenario.workload.times(
        len(order), _random.Random(stable_seed(config.seed, "arrivals", scenario.name))
    )
    policies: list[ReplayPolicy] = [constant("edge"), constant("cloud"), oracle()]
    taus: list[float] = []
    for scorer in (HEURISTIC, LEARNED):
        policies.append(
            netgpt(
                f"netgpt-{scorer}",
                config=config,
                latency_model=latency_model,
                scorer=scorer,
                thresholds=taus if scorer == LEARNED else None,
            )
        )
        # The NetGPT curve: its network-dependent threshold shifted by a constant (what a cloud
        # budget does), so the score still ranks steps and the network still moves the bar.
        for offset in _tau_offsets(scenario, test, config, latency_model, scorer):
            policies.append(
                netgpt(
                    f"netgpt-{scorer}@tau{offset:+.3f}",
                    config=config,
                    latency_model=latency_model,
                    scorer=scorer,
                    tau_offset=offset,
                    family=PolicyFamily.netgpt(scorer),
                )
            )
        # A second curve from the cloud-price weight alone (kept for comparison: a high weight
        # ranks steps by their cloud price rather than by their score).
        for weight in config.cloud_weight_sweep:
            policies.append(
                netgpt(
                    f"netgpt-{scorer}@w={weight:g}",
                    config=config,
                    latency_model=latency_model,
                    scorer=scorer,
                    cloud_usd_weight=weight,
                    family=PolicyFamily.netgpt_cost(scorer),
                )
            )
        for threshold in _thresholds(test, scorer, config.sweep_points):
            policies.append(fixed_threshold(threshold, scorer=scorer))
    policies.append(
        netgpt(
            "netgpt-learned-budget",
            config=config,
            latency_model=latency_model,
            scorer=LEARNED,
            budget=True,
        )
    )
    policies.extend(random_at(share, config=config) for share in config.random_shares)
    metrics = [_run(p, scenario, order, arrivals, config, draws) for p in policies]
    by_name = {m.policy: m for m in metrics}
    thresholds = _threshold_summary(taus, [item.scores[LEARNED] for item in order])
    edge_acc = by_name["always-edge"].accuracy
    cloud_acc = by_name["always-cloud"].accuracy
    gap = cloud_acc - edge_acc
    for m in metrics:
        m.pgr = (
            pgr(m.accuracy, edge_accuracy=edge_acc, cloud_accuracy=cloud_acc) if gap > 0 else None
        )
    # Random at the cloud share of every netgpt-learned operating point.
    matched: list[dict[str, float]] = []
    learned_points = [m for m in metrics if m.family == PolicyFamily.NETGPT_LEARNED]
    for m in learned_points:
        if 0.0 < m.cloud_share < 1.0:
            rnd = _run(
                random_at(m.cloud_share, config=config, family=PolicyFamily.RANDOM_MATCHED),
                scenario,
                order,
                arrivals,
                config,
                draws,
            )
            rnd.pgr = (
                pgr(rnd.accuracy, edge_accuracy=edge_acc, cloud_accuracy=cloud_acc)
                if gap > 0
                else None
            )
            metrics.append(rnd)
            matched.append(
                {
                    "cloud_share": m.cloud_share,
                    "accuracy": m.accuracy,
                    "random_expected_accuracy": edge_acc + m.cloud_share * gap,
                    "random_accuracy": rnd.accuracy,
                    "random_cloud_share": rnd.cloud_share,
                }
            )
    curves: list[CurveSummary] = []
    if gap > 0:
        for family in CURVE_FAMILIES:
            points = sorted(
                (m.cloud_share, m.pgr) for m in metrics if m.family == family and m.pgr is not None
            )
            curves.append(
                CurveSummary(
                    family=family.value,
                    points=points,
                    apgr=apgr(points),
                    cpt50=cost_to_reach(points, 0.5),
                    cpt80=cost_to_reach(points, 0.8),
                )
            )
    fixed = [m for m in metrics if m.family == PolicyFamily.FIXED_LEARNED]
    best_fixed = max(fixed, key=lambda m: m.utility_mean)
    return ScenarioReport(
        name=scenario.name,
        trace=scenario.trace.name,
        base_rtt_ms=scenario.base_rtt_ms,
        workload=scenario.workload_name,
        mean_arrival_rate_per_s=scenario.workload.mean_rate_per_s,
        edge_accuracy=edge_acc,
        cloud_accuracy=cloud_acc,
        policies=metrics,
        curves=curves,
        best_fixed=best_fixed.policy,
        dynamic_beats_best_fixed=by_name["netgpt-learned"].utility_mean > best_fixed.utility_mean,
        random_matched=matched,
        beats_random_everywhere=bool(matched)
        and all(p["accuracy"] > p["random_expected_accuracy"] for p in matched),
        beats_realised_random=sum(p["accuracy"] > p["random_accuracy"] for p in matched),
        thresholds=thresholds,
    )


def _tau_offsets(
    scenario: Scenario,
    test: Sequence[ReplayTask],
    config: BenchConfig,
    latency_model: LatencyModel,
    scorer: str,
) -> list[float]:
    """Offsets that spread the shifted-threshold curve over cloud shares from 0 to 1.

    Quantiles of each test step's margin ``score - tau`` at the trace's start (the network moves
    during the replay, so the realised shares land near, not on, the quantiles), plus offsets
    that send every step to the edge and to the cloud.
    """
    policy = netgpt_policy(config, latency_model)
    margins: list[float] = []
    for item in test:
        network = scenario.network(0.0, item.features.payload_bytes)
        tau = policy.raw_threshold(latency_model.estimate(item.features, network))
        if math.isfinite(tau):
            margins.append(item.scores[scorer] - tau)
    if not margins:
        return [0.0]
    margins.sort()
    picks = {margins[0] - 1.0, margins[-1] + 1.0} | _interior_quantiles(
        margins, config.sweep_points
    )
    return sorted(round(p, 6) for p in picks)


def _threshold_summary(taus: Sequence[float], scores: Sequence[float]) -> dict[str, float]:
    finite = sorted(t for t in taus if math.isfinite(t))
    if not finite:
        return {}

    cleared = sum(s >= t for s, t in zip(scores, taus, strict=True))
    return {
        "tau_min": finite[0],
        "tau_p5": _nearest_rank(finite, 1, 20),
        "tau_p50": _nearest_rank(finite, 1, 2),
        "tau_p95": _nearest_rank(finite, 19, 20),
        "link_down_steps": float(len(taus) - len(finite)),
        "max_score": max(scores) if scores else 0.0,
        "share_score_cleared_tau": cleared / len(taus) if taus else 0.0,
    }


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


def _criteria(scenarios: Sequence[ScenarioReport]) -> dict[str, Any]:
    per_workload: dict[str, dict[str, Any]] = {}
    for s in scenarios:
        entry = per_workload.setdefault(s.workload, {"traces": 0, "dynamic_wins": 0})
        entry["traces"] += 1
        entry["dynamic_wins"] += int(s.dynamic_beats_best_fixed)
    learned: list[dict[str, Any]] = []
    for s in scenarios:
        point = s.policy("netgpt-learned")
        try:
            curve = s.curve("netgpt-learned")
        except KeyError:
            continue
        learned.append(
            {
                "scenario": s.name,
                "apgr": curve.apgr,
                "cpt50": curve.cpt50,
                "operating_cloud_share": point.cloud_share,
                "operating_pgr": point.pgr,
            }
        )
    budget: list[dict[str, Any]] = [
        {
            "scenario": s.name,
            "cloud_share": s.policy("netgpt-learned-budget").cloud_share,
            "accuracy": s.policy("netgpt-learned-budget").accuracy,
            "pgr": s.policy("netgpt-learned-budget").pgr,
        }
        for s in scenarios
    ]
    apgr_ok = bool(learned) and all(p["apgr"] >= 0.5 and p["cpt50"] <= 0.5 for p in learned)
    operating_ok = bool(learned) and all(p["operating_cloud_share"] <= 0.5 for p in learned)
    dynamic_ok = all(
        e["dynamic_wins"] >= min(2, e["traces"]) for e in per_workload.values()
    ) and bool(per_workload)
    return {
        "learned_apgr_at_least_half_reaching_pgr_half_within_half_cloud": {
            "met": apgr_ok,
            "per_scenario": learned,
        },
        "learned_operating_point_at_most_half_cloud": {"met": operating_ok},
        "budget_row_pgr_at_least_half_within_its_cap": {
            "met": bool(budget) and all(b["pgr"] is not None and b["pgr"] >= 0.5 for b in budget),
            "per_scenario": budget,
        },
        "learned_beats_random_at_every_matched_share": {
            "met": all(s.beats_random_everywhere for s in scenarios),
            "per_scenario": {s.name: s.beats_random_everywhere for s in scenarios},
        },
        "dynamic_beats_best_fixed_on_two_of_three_traces": {
            "met": dynamic_ok,
            "per_workload": per_workload,
        },
    }


def run_benchmark(
    data_files: Sequence[str | Path],
    trace_files: Sequence[str | Path],
    edge_outcomes: str | Path,
    *,
    config: BenchConfig | None = None,
    cloud_outcomes: str | Path | None = None,
    on_scenario: Callable[[str, int, int], None] | None = None,
) -> BenchReport:
    """Replay every policy over the test split under every scenario.

    Args:
        data_files: BFCL files (answers in ``possible_answer/`` beside them).
        trace_files: Mahimahi traces (``X.down``/``X.up`` pairs, or single files).
        edge_outcomes: Recorded edge outcomes (a partial file is fine: tasks without an
            outcome are skipped and counted).
        config: Benchmark settings.
        cloud_outcomes: Recorded cloud outcomes in the same format; by default the cloud is
            BFCL ground truth right with probability ``config.cloud_accuracy``.
        on_scenario: Called with ``(scenario name, done, total)`` after each scenario.

    Returns:
        The report.

    Raises:
        BenchmarkDataError: A file is bad, or too few tasks have outcomes to split and score.
        FileNotFoundError: A trace file does not exist.
    """
    config = config or BenchConfig()
    if not data_files:
        raise BenchmarkDataError("no BFCL data files given", path="<none>")
    if not trace_files:
        raise BenchmarkDataError("no network trace files given", path="<none>")
    tasks = [task for file in data_files for task in load_bfcl(file)]
    edge = load_edge_outcomes(edge_outcomes)
    cloud = load_edge_outcomes(cloud_outcomes) if cloud_outcomes is not None else None
    prepared = prepare_tasks(tasks, edge.rows, cloud.rows if cloud is not None else None)
    categories = sorted({t.task.category for t in prepared})
    if len(prepared) < 4:
        raise BenchmarkDataError(
            f"only {len(prepared)} of {len(tasks)} tasks have a recorded outcome in "
            f"{edge_outcomes}; at least 4 are needed to split and score",
            path=str(edge_outcomes),
        )
    train, test = split_tasks(prepared, test_fraction=config.test_fraction, seed=config.seed)
    scorer = fit_scorers(train, prepared)
    latency_model = calibrate_latency_model(train, config.cloud, config.edge_profile)
    draws = cloud_draws(prepared, config)
    specs = pair_traces(trace_files)
    scenarios: list[ScenarioReport] = []
    total = len(specs) * len(config.workloads)
    for index, spec in enumerate(specs):
        rtt = config.base_rtts_ms[index % len(config.base_rtts_ms)]
        for workload_name, workload in config.workloads.items():
            scenario = Scenario(
                spec,
                base_rtt_ms=rtt,
                workload_name=workload_name,
                workload=workload,
                window_s=config.window_s,
                forecast=config.network_forecast,
            )
            scenarios.append(_scenario_report(scenario, test, config, draws, latency_model))
            if on_scenario is not None:
                on_scenario(scenario.name, len(scenarios), total)
    cloud_mode = (
        f"recorded cloud outcomes from {cloud_outcomes} (model {cloud.header.model})"
        if cloud is not None
        else f"simulated: BFCL ground truth, right with probability {config.cloud_accuracy:g} "
        "(seeded per task; a wrong answer counts as a schema-valid wrong call)"
    )
    task_ids = {t.id for t in tasks}
    recorded = [r for r in edge.rows.values() if r.id in task_ids]
    return BenchReport(
        config=config.model_dump(mode="json"),
        data_files=[Path(f).name for f in data_files],
        trace_files=[Path(f).name for f in trace_files],
        edge_outcomes={
            "file": Path(edge_outcomes).name,
            "model": edge.header.model,
            "device": edge.header.device,
            "settings": edge.header.settings,
            "tasks_in_files": len(tasks),
            "tasks_covered": len(prepared),
            "tasks_skipped_without_outcome": len(tasks) - len(prepared),
        },
        cloud_mode=cloud_mode,
        edge_speed=edge_speed_statement(config.edge_profile),
        edge_accuracy_by_category=_accuracy_by_category(recorded),
        split={
            "by": "task id, stratified by category, seeded",
            "train": len(train),
            "test": len(test),
            "test_by_category": {c: sum(t.task.category == c for t in test) for c in categories},
            "policies_scored_on": "test",
        },
        learned_scorer=scorer.model_dump(),
        edge_latency_model=latency_model.edge.model_dump()
        | {"expected_output_tokens": latency_model.expected_output_tokens},
        scenarios=scenarios,
        criteria=_criteria(scenarios),
    )


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


def write_report(report: BenchReport, out: str | Path, *, plots: bool = True) -> list[Path]:
    """Write ``report.json``, ``report.md`` and (with ``plots``) the two Pareto PNGs.

    Returns:
        The files written.
    """
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "report.json"
    json_path.write_text(
        json.dumps(report.model_dump(mode="json"), indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    md_path = directory / "report.md"
    md_path.write_text(render_markdown(report), encoding="utf-8")
    written = [json_path, md_path]
    if plots:
        from langchain_netgpt.bench.plots import plot_pareto

        written.extend(plot_pareto(report, directory))
    return written
