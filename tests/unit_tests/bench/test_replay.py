from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from langchain_netgpt.bench.metrics import summarize
from langchain_netgpt.bench.policies import constant
from langchain_netgpt.bench.replay import (
    BenchConfig,
    Scenario,
    pair_traces,
    prepare_tasks,
    replay,
    split_tasks,
)
from langchain_netgpt.bench.report import render_markdown, run_benchmark, write_report
from langchain_netgpt.bench.workload import PoissonArrivals
from langchain_netgpt.recorded import load_bfcl
from langchain_netgpt.recorded.edge_outcomes import load_edge_outcomes

from .conftest import BenchFiles, write_outcomes

SMALL = BenchConfig(
    sweep_points=6, cloud_weight_sweep=[0.0, 1.0, 5.0, 30.0], random_shares=[0.25, 0.5, 0.75]
)


def _tasks(files: BenchFiles):  # type: ignore[no-untyped-def]
    tasks = [t for f in files.data for t in load_bfcl(f)]
    return prepare_tasks(tasks, load_edge_outcomes(files.outcomes).rows)


def _scenario(files: BenchFiles, rtt_ms: float = 100.0) -> Scenario:
    spec = next(s for s in pair_traces(files.traces) if s.name == "toy")
    return Scenario(
        spec, base_rtt_ms=rtt_ms, workload_name="p", workload=PoissonArrivals(rate_per_s=1.0)
    )


def test_down_and_up_files_pair_into_one_trace_and_a_lone_file_serves_both(
    bench_files: BenchFiles,
) -> None:
    specs = {s.name: s for s in pair_traces(bench_files.traces)}
    assert set(specs) == {"toy", "flat.trace"}
    assert (specs["toy"].down.suffix, specs["toy"].up.suffix) == (".down", ".up")
    assert specs["flat.trace"].down == specs["flat.trace"].up


def test_split_is_disjoint_stratified_and_seeded(bench_files: BenchFiles) -> None:
    tasks = _tasks(bench_files)
    train, test = split_tasks(tasks, test_fraction=0.5, seed=1)
    assert not {t.task.id for t in train} & {t.task.id for t in test}
    assert sum(t.task.category == "irrelevance" for t in test) == 15
    again = split_tasks(tasks, test_fraction=0.5, seed=1)[1]
    assert [t.task.id for t in again] == [t.task.id for t in test]


def test_steps_arriving_together_queue_at_the_edge(bench_files: BenchFiles) -> None:
    tasks = _tasks(bench_files)[:3]
    draws = {t.task.id: True for t in tasks}
    recorded = SMALL.model_copy(update={"edge_profile": None})  # serve the recorded 2 s each
    results = replay(
        tasks, [0.0, 0.0, 0.0], _scenario(bench_files), constant("edge").make(), recorded, draws
    )
    assert [r.latency_s for r in results] == [2.0, 4.0, 6.0]
    assert [r.edge_wait_s for r in results] == [0.0, 2.0, 4.0]


def test_cloud_latency_pays_rtt_compute_and_the_outage_in_the_uplink_trace(
    bench_files: BenchFiles,
) -> None:
    scenario = _scenario(bench_files, rtt_ms=100.0)
    clear = scenario.cloud_latency_s(at_s=0.1, up_bytes=3000, down_bytes=600, compute_s=0.5)
    in_outage = scenario.cloud_latency_s(at_s=0.6, up_bytes=3000, down_bytes=600, compute_s=0.5)
    assert clear == pytest.approx(0.6, abs=0.01)
    assert in_outage == pytest.approx(0.6 + 0.9, abs=0.01)  # waits for the link to return


def test_report_counts_tasks_without_an_outcome_as_skipped(bench_files: BenchFiles) -> None:
    partial = write_outcomes(bench_files.root / "partial.jsonl", skip=5)
    report = run_benchmark(bench_files.data, bench_files.traces, partial, config=SMALL)
    assert report.edge_outcomes["tasks_in_files"] == 60
    assert report.edge_outcomes["tasks_skipped_without_outcome"] == 10
    assert report.split["train"] + report.split["test"] == 50


def test_edge_accuracy_is_reported_per_category(bench_files: BenchFiles) -> None:
    report = run_benchmark(bench_files.data, bench_files.traces, bench_files.outcomes, config=SMALL)
    assert report.edge_accuracy_by_category["toyadd"]["accuracy"] == pytest.approx(0.8)
    assert report.edge_accuracy_by_category["irrelevance"]["accuracy"] == 0.0
    assert "simulated" in report.cloud_mode and "0.9" in report.cloud_mode


def test_learned_router_sends_what_the_edge_fails_to_the_cloud(bench_files: BenchFiles) -> None:
    report = run_benchmark(bench_files.data, bench_files.traces, bench_files.outcomes, config=SMALL)
    for scenario in report.scenarios:
        edge = scenario.policy("always-edge")
        learned = scenario.policy("netgpt-learned")
        oracle = scenario.policy("oracle")
        assert learned.accuracy > edge.accuracy
        assert oracle.accuracy >= max(m.accuracy for m in scenario.policies)
        assert scenario.curve("netgpt-learned").apgr > scenario.curve("random").apgr
        assert scenario.beats_random_everywhere


def test_budget_policy_keeps_the_cloud_share_near_its_cap(bench_files: BenchFiles) -> None:
    config = SMALL.model_copy(update={"budget_cloud_share": 0.2})
    report = run_benchmark(
        bench_files.data, bench_files.traces, bench_files.outcomes, config=config
    )
    for scenario in report.scenarios:
        assert scenario.policy("netgpt-learned-budget").cloud_share <= 0.2 + 2 / 30


def test_recorded_cloud_outcomes_replace_the_simulated_cloud(bench_files: BenchFiles) -> None:
    cloud = write_outcomes(bench_files.root / "cloud.jsonl", latency_s=0.3)
    report = run_benchmark(
        bench_files.data,
        bench_files.traces,
        bench_files.outcomes,
        config=SMALL,
        cloud_outcomes=cloud,
    )
    assert report.cloud_mode.startswith("recorded cloud outcomes")
    # The "cloud" file holds the edge's own answers, so the cloud is exactly as accurate.
    scenario = report.scenarios[0]
    assert scenario.policy("always-cloud").accuracy == scenario.policy("always-edge").accuracy


def test_same_seed_gives_identical_report_json(bench_files: BenchFiles, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        report = run_benchmark(
            bench_files.data, bench_files.traces, bench_files.outcomes, config=SMALL
        )
        write_report(report, tmp_path / name, plots=False)
        runs.append((tmp_path / name / "report.json").read_bytes())
    assert runs[0] == runs[1]
    other = run_benchmark(
        bench_files.data,
        bench_files.traces,
        bench_files.outcomes,
        config=SMALL.model_copy(update={"seed": 7}),
    )
    assert json.loads(runs[0])["scenarios"] != other.model_dump(mode="json")["scenarios"]


def test_report_files_include_markdown_json_and_both_pareto_plots(
    bench_files: BenchFiles, tmp_path: Path
) -> None:
    config = SMALL.model_copy(update={"workloads": {"poisson": PoissonArrivals(rate_per_s=0.2)}})
    report = run_benchmark(
        bench_files.data, bench_files.traces[:2], bench_files.outcomes, config=config
    )
    written = write_report(report, tmp_path / "out")
    assert sorted(p.name for p in written) == [
        "pareto_accuracy_vs_cloud_share.png",
        "pareto_accuracy_vs_latency.png",
        "report.json",
        "report.md",
    ]
    assert (tmp_path / "out" / "pareto_accuracy_vs_latency.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| netgpt-learned |" in markdown and "APGR" in markdown


def test_edge_profile_replaces_recorded_latency_with_token_based_service(
    bench_files: BenchFiles,
) -> None:
    from langchain_netgpt.routing.latency import SideProfile

    profile = SideProfile(overhead_s=1.0, prefill_tokens_per_s=120.0, decode_tokens_per_s=20.0)
    config = SMALL.model_copy(update={"edge_profile": profile})
    tasks = [t for t in _tasks(bench_files) if t.task.category == "toyadd"][:2]
    draws = {t.task.id: True for t in tasks}
    results = replay(
        tasks, [0.0, 100.0], _scenario(bench_files), constant("edge").make(), config, draws
    )
    assert [r.latency_s for r in results] == [3.0, 3.0]  # 1 + 120/120 + 20/20


def test_default_utility_is_the_policys_own_so_it_is_scored_on_what_it_optimises() -> None:
    from langchain_netgpt.routing.policy import NetGPTPolicy

    policy, config = NetGPTPolicy(), BenchConfig()
    assert config.value_correct_usd == policy.value_correct_usd
    assert config.latency_usd_per_s == policy.latency_usd_per_s
    assert config.cloud_usd_weight == policy.cloud_usd_weight
    assert config.budget_cloud_share == 0.5


def test_default_edge_speed_comes_from_recorded_tokens_on_the_gpu_edge_profile(
    bench_files: BenchFiles, tmp_path: Path
) -> None:
    from langchain_netgpt.routing.latency import DEFAULT_EDGE

    task = _tasks(bench_files)[0]
    results = replay(
        [task], [0.0], _scenario(bench_files), constant("edge").make(), SMALL, {task.task.id: True}
    )
    expected = (
        DEFAULT_EDGE.overhead_s
        + task.edge.input_tokens / DEFAULT_EDGE.prefill_tokens_per_s
        + task.edge.output_tokens / DEFAULT_EDGE.decode_tokens_per_s
    )
    assert results[0].latency_s == pytest.approx(expected)
    assert results[0].latency_s != task.edge.latency_s
    report = run_benchmark(bench_files.data, bench_files.traces, bench_files.outcomes, config=SMALL)
    write_report(report, tmp_path / "out", plots=False)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "edge speed modelled from recorded tokens on the gpu (DEFAULT_EDGE) profile" in markdown


def test_netgpt_curve_shifts_its_dynamic_threshold_across_all_cloud_shares(
    bench_files: BenchFiles,
) -> None:
    report = run_benchmark(bench_files.data, bench_files.traces, bench_files.outcomes, config=SMALL)
    for scenario in report.scenarios:
        shifted = [
            m
            for m in scenario.policies
            if m.family == "netgpt-learned" and m.policy != "netgpt-learned"
        ]
        assert all(m.parameter is not None for m in shifted)
        shares = sorted(m.cloud_share for m in shifted)
        assert shares[0] == 0.0 and shares[-1] == 1.0
        # The price-weight sweep is kept as its own curve, apart from the shifted threshold.
        assert scenario.curve("netgpt-learned-cost").points
        t = scenario.thresholds
        assert t["tau_p5"] <= t["tau_p50"] <= t["tau_p95"]
        assert 0.0 <= t["share_score_cleared_tau"] <= 1.0
        assert 0.0 <= t["max_score"] <= 1.0
        closed_form = scenario.policy("netgpt-learned")
        assert closed_form.cloud_share == pytest.approx(1 - t["share_score_cleared_tau"])
    assert "threshold tau over the steps" in render_markdown(report)


def test_an_invalid_edge_answer_falls_back_to_the_cloud_like_the_router(
    bench_files: BenchFiles,
) -> None:
    first = _tasks(bench_files)[0]
    invalid = dataclasses.replace(
        first, edge=first.edge.model_copy(update={"schema_valid": False, "correct": False})
    )
    draws = {invalid.task.id: True}
    recorded = SMALL.model_copy(update={"edge_profile": None})  # the recorded 2 s
    scenario = _scenario(bench_files)
    on = replay([invalid], [0.0], scenario, lambda view: "edge", recorded, draws)[0]
    assert on.fallback and on.target == "edge"
    assert on.correct and on.valid and on.price_usd > 0
    assert on.latency_s > 2.0 + 0.1  # the edge's 2 s, then the RTT and the cloud's answer
    off = replay([invalid], [0.0], scenario, lambda view: "edge", recorded, draws, fallback=False)[
        0
    ]
    assert not off.fallback and not off.correct and off.price_usd == 0 and off.latency_s == 2.0
    metrics = summarize([on, off], policy="p", family="p")
    assert metrics.cloud_share == 0.5 and metrics.fallback_share == 0.5


def test_policies_see_a_causal_network_forecast_unless_the_oracle_is_asked_for(
    bench_files: BenchFiles,
) -> None:
    assert BenchConfig().network_forecast == "causal"
    spec = next(s for s in pair_traces(bench_files.traces) if s.name == "toy")
    scenarios = {
        forecast: Scenario(
            spec,
            base_rtt_ms=50,
            workload_name="p",
            workload=PoissonArrivals(rate_per_s=1.0),
            forecast=forecast,
        )
        for forecast in ("causal", "oracle")
    }
    assert scenarios["causal"].monitor.forecast == "causal"
    assert scenarios["oracle"].monitor.forecast == "oracle"
    report = run_benchmark(
        bench_files.data,
        bench_files.traces,
        bench_files.outcomes,
        config=SMALL.model_copy(update={"network_forecast": "oracle"}),
    )
    assert report.config["network_forecast"] == "oracle"
    assert "- Network: oracle forecast" in render_markdown(report)
    with pytest.raises(ValueError, match="network_forecast"):
        BenchConfig(network_forecast="psychic")  # type: ignore[arg-type]
