"""The multi-target simulation benchmark, on toy recordings."""

from __future__ import annotations

from langchain_netgpt.bench.multi_target import (
    MultiTargetConfig,
    format_table,
    multi_target_bench_row,
    run_multi_target,
)

from .conftest import BenchFiles

POLICIES = {"qos", "least-loaded", "round-robin", "random", "netgpt-two-target"}


def _run(files: BenchFiles, **kwargs: object) -> dict[str, object]:
    config = MultiTargetConfig(**{"requests": 80, **kwargs})  # type: ignore[arg-type]
    return run_multi_target(files.data, files.outcomes, files.traces, config)


def test_every_policy_runs_under_every_workload(bench_files: BenchFiles) -> None:
    report = _run(bench_files)
    rows = report["results"]
    assert {(r["workload"], r["policy"]) for r in rows} == {  # type: ignore[union-attr]
        (w, p) for w in ("poisson", "bursty") for p in POLICIES
    }


def test_the_simulation_is_reproducible_with_a_seed(bench_files: BenchFiles) -> None:
    assert _run(bench_files, seed=4)["results"] == _run(bench_files, seed=4)["results"]


def test_shares_sum_to_one_and_utilisation_stays_in_range(bench_files: BenchFiles) -> None:
    for row in _run(bench_files)["results"]:  # type: ignore[attr-defined]
        assert abs(sum(row["share"].values()) - 1.0) < 1e-9
        assert all(0.0 <= u <= 1.0 + 1e-9 for u in row["utilisation"].values())


def test_qos_misses_fewer_slos_than_round_robin_under_bursts(bench_files: BenchFiles) -> None:
    rows = {
        r["policy"]: r
        for r in _run(bench_files, requests=200)["results"]  # type: ignore[attr-defined]
        if r["workload"] == "bursty"
    }
    assert rows["qos"]["slo_violation_rate"] <= rows["round-robin"]["slo_violation_rate"]
    assert rows["qos"]["mean_qos_usd"] > rows["round-robin"]["mean_qos_usd"]


def test_bench_row_says_why_when_no_trace_is_given(bench_files: BenchFiles) -> None:
    row = multi_target_bench_row(bench_files.data, bench_files.outcomes, [])
    assert row["part"] == "multi-target" and "not measured" in row["result"]


def test_table_has_a_line_per_policy_and_workload(bench_files: BenchFiles) -> None:
    table = format_table(_run(bench_files))
    assert len(table.splitlines()) == 2 + 2 * len(POLICIES)
