from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_netgpt.bench.pair_bench import (
    PairBenchConfig,
    ScenarioSteps,
    build_pair_tasks,
    replay_pairs,
)
from langchain_netgpt.bench.pair_render import render_pair_markdown
from langchain_netgpt.bench.pair_report import run_pair_benchmark
from langchain_netgpt.bench.replay import Scenario, pair_traces
from langchain_netgpt.bench.workload import PoissonArrivals
from langchain_netgpt.cli import app
from langchain_netgpt.learn.policy_file import PolicyFile, load_policy_scorer
from langchain_netgpt.recorded.pair_outcomes import PairRow
from langchain_netgpt.routing.latency import LatencyModel
from langchain_netgpt.routing.scoring import load_scorer
from langchain_netgpt.routing.text_scorer import CloudRelativeScorer

from .pair_fixtures import TRACES, graded_row, real_rows, write_rows

runner = CliRunner()
VERIZON = [TRACES / "Verizon-LTE-short.down", TRACES / "Verizon-LTE-short.up"]


def _small_config(**extra: object) -> PairBenchConfig:
    return PairBenchConfig(
        seeds=[0],
        embedders=["hashed"],
        workloads={"poisson": PoissonArrivals(rate_per_s=0.2)},
        value_grid=[0.05],
        latency_price_grid=[0.0005],
        sweep_points=5,
        bootstrap=100,
        **extra,
    )


@pytest.fixture(scope="module")
def small_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rows(tmp_path_factory.mktemp("pairs") / "gsm8k-slice.jsonl", real_rows(160))


def test_the_pairs_benchmark_reports_curves_peers_scenarios_and_criteria(small_pairs: Path) -> None:
    report = run_pair_benchmark([small_pairs], VERIZON, config=_small_config())
    q = report.quality_only
    assert set(q["scorers"]) == {
        "text",
        "text-edge",
        "features",
        "sw-ranking",
        "mf",
        "classifier-head",
        "random",
    }
    assert set(q["difference_vs_best"]) == set(q["scorers"]) - {"text"}
    assert {r["trace"] for r in report.scenarios} == {"Verizon-LTE-short"}
    policies = report.scenarios[0]["policies"]
    assert policies["always-cloud"]["cloud_share"] == 1.0
    assert policies["oracle"]["quality"] >= policies["always-cloud"]["quality"]
    assert set(report.criteria) == {
        "quality_only_apgr",
        "quality_only_cpt80",
        "beats_every_peer",
        "network_beats_best_fixed",
        "operating_point",
    }
    assert report.data["contaminated_dropped"] > 0  # the first rows are marked contaminated
    assert "baseten.co" in report.profiles["edge"]
    assert "Table 3" in render_pair_markdown(report)


def test_the_same_seed_gives_the_same_report(small_pairs: Path) -> None:
    first = run_pair_benchmark([small_pairs], VERIZON, config=_small_config())
    second = run_pair_benchmark([small_pairs], VERIZON, config=_small_config())
    assert first.model_dump_json() == second.model_dump_json()


def test_graded_multi_turn_rows_replay_with_a_cloud_call_per_turn(tmp_path: Path) -> None:
    rows = [
        PairRow.model_validate(graded_row(i, 6, 8, later_user_turns=["More."] * (i % 2)))
        for i in range(4)
    ]
    config = _small_config()
    tasks = build_pair_tasks(rows, config.edge, config.cloud)
    scenario = Scenario(
        pair_traces(VERIZON)[0],
        base_rtt_ms=80.0,
        workload_name="poisson",
        workload=PoissonArrivals(rate_per_s=0.01),
    )
    steps = ScenarioSteps.build(scenario, tasks, config, LatencyModel(), (50, 50), seed=0)
    by_id = {t.id: i for i, t in enumerate(steps.tasks)}
    one, two = by_id["chat-0"], by_id["chat-1"]
    assert steps.cloud_price_usd[two] > steps.cloud_price_usd[one]
    assert steps.edge_service_s[two] > steps.edge_service_s[one]
    cloud = replay_pairs(steps, lambda i, wait: True)
    assert cloud.quality == [0.8] * 4


def test_netgpt_bench_pairs_writes_the_report(small_pairs: Path, tmp_path: Path) -> None:
    args = [
        "bench",
        "--pairs",
        str(small_pairs),
        "--out",
        str(tmp_path / "out"),
        "--text-embedder",
        "hashed",
        "--pair-seeds",
        "1",
    ]
    for trace in VERIZON:
        args += ["--trace", str(trace)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "pairs-report.json").read_text())
    assert report["config"]["seeds"] == [0] and report["config"]["embedders"] == ["hashed"]
    assert (tmp_path / "out" / "pairs-report.md").is_file()


def test_netgpt_bench_pairs_rejects_an_unknown_embedder_in_one_line(small_pairs: Path) -> None:
    result = runner.invoke(app, ["bench", "--pairs", str(small_pairs), "--text-embedder", "bert"])
    assert result.exit_code == 2
    assert "--text-embedder must be one of minilm, hashed" in result.output


def test_netgpt_bench_pairs_with_a_missing_file_exits_with_its_name(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "--pairs", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "nope.jsonl" in result.output


def test_train_router_pairs_writes_a_scorer_the_router_can_load(
    small_pairs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scorer.json"
    result = runner.invoke(
        app,
        [
            "train-router",
            "--pairs",
            str(small_pairs),
            "--out",
            str(out),
            "--text-embedder",
            "hashed",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out routing curves" in result.output and "APGR" in result.output
    scorer = load_scorer(out)
    assert isinstance(scorer, CloudRelativeScorer)
    policy = PolicyFile.model_validate(
        {
            "scorer": json.loads(out.read_text()),
            "threshold": {
                "bias": 0.0,
                "weights": [0, 0, 0, 0],
                "means": [0, 0, 0, 0],
                "scales": [1, 1, 1, 1],
            },
        }
    )
    policy.save(tmp_path / "policy.json")
    assert isinstance(load_policy_scorer(tmp_path / "policy.json"), CloudRelativeScorer)
