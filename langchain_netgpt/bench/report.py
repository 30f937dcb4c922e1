"""Run the replay benchmark end to end and write its report (Markdown, JSON, Pareto plots).

:func:`run_benchmark` loads BFCL files and recorded outcomes, splits the tasks, fits the learned
scorer and the edge latency model on the train split, and replays every policy on the test split
under every (trace, workload) scenario (each one a
:func:`~langchain_netgpt.bench.scenario_report.build_scenario_report`). :func:`write_report`
writes ``report.md`` (:mod:`~langchain_netgpt.bench.report_markdown`), ``report.json`` and the two
Pareto PNGs. The same inputs and seed give the same ``report.json``.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.report import BenchReport

        print(BenchReport.model_fields["scenarios"].description)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.bench.policies import calibrate_latency_model, fit_scorers
from langchain_netgpt.bench.record import EdgeOutcome, EdgeOutcomes, load_edge_outcomes
from langchain_netgpt.bench.replay import (
    BenchConfig,
    ReplayTask,
    Scenario,
    cloud_draws,
    edge_speed_statement,
    pair_traces,
    prepare_tasks,
    split_tasks,
)
from langchain_netgpt.bench.report_markdown import TARGETS, render_markdown, target_verdict
from langchain_netgpt.bench.scenario_report import (
    CurveSummary,
    ScenarioReport,
    build_scenario_report,
)
from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.bfcl_tasks import load_bfcl
from langchain_netgpt.recorded.edge_outcomes import BUNDLED_EDGE_OUTCOMES

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "TARGETS",
    "BenchReport",
    "CurveSummary",
    "ScenarioReport",
    "default_data_files",
    "default_edge_outcomes",
    "default_trace_files",
    "render_markdown",
    "run_benchmark",
    "target_verdict",
    "write_report",
]

REPORT_SCHEMA_VERSION = 1


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


def _replay_scenarios(
    trace_files: Sequence[str | Path],
    test: Sequence[ReplayTask],
    config: BenchConfig,
    draws: dict[str, bool],
    latency_model: Any,
    on_scenario: Callable[[str, int, int], None] | None,
) -> list[ScenarioReport]:
    """One scenario report per (trace, workload); each trace gets its base RTT in turn."""
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
            scenarios.append(build_scenario_report(scenario, test, config, draws, latency_model))
            if on_scenario is not None:
                on_scenario(scenario.name, len(scenarios), total)
    return scenarios


def _cloud_mode(
    cloud_outcomes: str | Path | None, cloud: EdgeOutcomes | None, config: BenchConfig
) -> str:
    """How the cloud's answers were obtained, as the report states it."""
    if cloud is not None:
        return f"recorded cloud outcomes from {cloud_outcomes} (model {cloud.header.model})"
    return (
        f"simulated: BFCL ground truth, right with probability {config.cloud_accuracy:g} "
        "(seeded per task; a wrong answer counts as a schema-valid wrong call)"
    )


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
    scenarios = _replay_scenarios(trace_files, test, config, draws, latency_model, on_scenario)
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
        cloud_mode=_cloud_mode(cloud_outcomes, cloud, config),
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
