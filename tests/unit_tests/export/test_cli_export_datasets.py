"""``netgpt export --store/--traces``: datasets from trace files, filters, summary, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from langchain_netgpt import RouteTrace
from langchain_netgpt.cli import app
from langchain_netgpt.export import load_export, read_router_data
from langchain_netgpt.tracing.store import TraceStore


def export(*args: str) -> Any:
    return CliRunner().invoke(app, ["export", *args])


@pytest.fixture
def trace_file(routed_traces: list[RouteTrace], tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(t.to_json() + "\n" for t in routed_traces))
    return path


def test_sft_from_a_jsonl_trace_file_prints_rows_written_and_skipped(
    trace_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sft.parquet"
    result = export("--traces", str(trace_file), "--kind", "sft", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert len(load_export(out)) == 3
    assert "written" in result.stdout and "skipped: not served by the cloud" in result.stdout


def test_router_data_from_a_trace_store_takes_the_reward_params(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    with TraceStore(tmp_path / "traces.db") as store:
        store.write_many(routed_traces)
    out = tmp_path / "router.jsonl"
    result = export(
        "--store", str(tmp_path / "traces.db"), "--format", "jsonl", "--out", str(out),
        "--value-usd", "0.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = read_router_data(out)
    assert data.params.value_usd == 0.5 and len(data.rows) == 4


def test_filters_select_the_route_and_the_session(trace_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    result = export(
        "--traces", str(trace_file), "--format", "jsonl", "--out", str(out),
        "--route", "cloud", "--session", "s1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = read_router_data(out).rows
    assert {(r["final_target"], r["session_id"]) for r in rows} == {("cloud", "s1")}
    assert len(rows) == 2


def test_since_in_the_future_exports_nothing(trace_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    result = export(
        "--traces", str(trace_file), "--format", "jsonl", "--out", str(out),
        "--since", "2999-01-01T00:00:00Z",
    )  # fmt: skip
    assert result.exit_code == 0 and read_router_data(out).rows == []


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--kind", "dpo"], "--kind must be one of router, sft, preferences, grpo, got 'dpo'"),
        (["--format", "csv"], "--format must be one of jsonl, parquet, hf, got 'csv'"),
        (["--since", "yesterday"], "time must be Unix seconds or ISO 8601"),
        (["--kind", "sft", "--lambda-t", "1"], "apply to --kind router, not sft"),
        (["--lambda-c", "-1"], "--lambda-c"),
    ],
)
def test_bad_options_exit_2_with_a_one_line_reason(
    args: list[str], reason: str, trace_file: Path, tmp_path: Path
) -> None:
    result = export("--traces", str(trace_file), "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("netgpt export: error: ") and reason in line


def test_two_sources_at_once_are_refused(trace_file: Path, tmp_path: Path) -> None:
    result = export("--traces", str(trace_file), "--store", str(trace_file), "--out", "x")
    assert result.exit_code == 2 and "give one source" in result.stderr


def test_an_existing_output_needs_overwrite(trace_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    out.write_bytes(b"x")
    refused = export("--traces", str(trace_file), "--out", str(out))
    replaced = export("--traces", str(trace_file), "--out", str(out), "--overwrite")
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    assert replaced.exit_code == 0 and len(read_router_data(out).rows) == 4
