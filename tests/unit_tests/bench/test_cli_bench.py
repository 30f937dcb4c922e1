from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from langchain_netgpt.cli import app

from .conftest import BenchFiles

runner = CliRunner()


def _args(files: BenchFiles, out: Path) -> list[str]:
    args = ["bench", "--out", str(out), "--edge-outcomes", str(files.outcomes), "--no-plots"]
    for path in files.data:
        args += ["--data", str(path)]
    for path in files.traces:
        args += ["--trace", str(path)]
    return args


def test_bench_replays_files_it_has_never_seen(bench_files: BenchFiles, tmp_path: Path) -> None:
    result = runner.invoke(app, [*_args(bench_files, tmp_path / "out"), "--base-rtt-ms", "60"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["data_files"] == ["BFCL_v4_toyadd.json", "BFCL_v4_irrelevance.json"]
    assert {s["trace"] for s in report["scenarios"]} == {"toy", "flat.trace"}
    assert {s["base_rtt_ms"] for s in report["scenarios"]} == {60.0}
    assert (tmp_path / "out" / "report.md").is_file()


def test_bench_with_a_missing_file_exits_with_a_one_line_reason(
    bench_files: BenchFiles, tmp_path: Path
) -> None:
    args = [*_args(bench_files, tmp_path / "out"), "--data", str(tmp_path / "nope.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "file not found" in result.output and "nope.json" in result.output


def test_bench_rejects_a_cloud_accuracy_above_one(bench_files: BenchFiles, tmp_path: Path) -> None:
    result = runner.invoke(app, [*_args(bench_files, tmp_path / "o"), "--cloud-accuracy", "1.5"])
    assert result.exit_code == 2
    assert "cloud_accuracy" in result.output


def test_bench_with_a_non_trace_file_exits_non_zero(
    bench_files: BenchFiles, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.down"
    bad.write_text("not a timestamp\n")
    args = [*_args(bench_files, tmp_path / "out")[:8], "--trace", str(bad)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "not an integer" in result.output


def test_bench_edge_speed_recorded_serves_the_recorded_wall_times(
    bench_files: BenchFiles, tmp_path: Path
) -> None:
    result = runner.invoke(app, [*_args(bench_files, tmp_path / "o"), "--edge-speed", "recorded"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["config"]["edge_profile"] is None
    assert "recorded wall times" in report["edge_speed"]


def test_bench_rejects_an_unknown_edge_speed(bench_files: BenchFiles, tmp_path: Path) -> None:
    result = runner.invoke(app, [*_args(bench_files, tmp_path / "o"), "--edge-speed", "tpu"])
    assert result.exit_code == 2
    assert "--edge-speed" in result.output and "'tpu'" in result.output
