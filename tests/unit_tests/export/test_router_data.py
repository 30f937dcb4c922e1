"""Router (bandit) data: one row per step with context, action, propensity and reward."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from langchain_netgpt import NetGPTPolicy, RouteTrace
from langchain_netgpt.export import (
    ROUTER_COLUMNS,
    RewardParams,
    export_router_data,
    read_router_data,
    read_router_traces,
)
from langchain_netgpt.routing.features import FEATURE_NAMES, RequestFeatures


def test_reward_params_default_to_the_netgpt_policy_weights() -> None:
    policy = NetGPTPolicy()
    assert RewardParams().model_dump() == {
        "value_usd": policy.value_correct_usd,
        "lambda_t": policy.latency_usd_per_s,
        "lambda_c": policy.cloud_usd_weight,
    }


def test_reward_params_reject_a_negative_latency_price() -> None:
    with pytest.raises(ValidationError, match="lambda_t"):
        RewardParams(lambda_t=-1)


def test_router_rows_hold_the_decision_the_network_and_the_scorer_features(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    export_router_data(routed_traces, tmp_path / "r.jsonl", format="jsonl")
    data = read_router_data(tmp_path / "r.jsonl")
    trace, row = routed_traces[1], data.rows[1]
    assert list(row) == list(ROUTER_COLUMNS)
    assert (row["action"], row["final_target"], row["fallback"]) == ("edge", "cloud", True)
    assert row["rtt_ms"] == trace.network.rtt_ms
    expected = RequestFeatures.from_dict(trace.features).vector(target="edge")
    assert [row[f"f_{name}"] for name in FEATURE_NAMES] == pytest.approx(list(expected))


def test_the_reward_uses_the_params_recorded_in_the_file(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    params = RewardParams(value_usd=1.0, lambda_t=0.5, lambda_c=2.0)
    export_router_data(routed_traces, tmp_path / "r.jsonl", format="jsonl", params=params)
    data = read_router_data(tmp_path / "r.jsonl")
    assert data.params == params
    for row in data.rows:
        assert row["reward"] == pytest.approx(
            row["quality"] - 0.5 * row["latency_s"] - 2.0 * row["price_usd"]
        )


def test_quality_is_feedback_when_given_and_the_validity_proxy_otherwise(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    rated = routed_traces[0].model_copy(update={"quality": 0.25})
    failed = routed_traces[2].model_copy(update={"error": "no target answered"})
    export_router_data([rated, routed_traces[1], failed], tmp_path / "r.jsonl", format="jsonl")
    rows = read_router_data(tmp_path / "r.jsonl").rows
    assert [(r["quality"], r["quality_source"]) for r in rows] == [
        (0.25, "feedback"),
        (1.0, "validity"),
        (0.0, "validity"),
    ]


def test_the_propensity_of_the_logging_policy_is_kept(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    explored = routed_traces[0].model_copy(update={"propensity": 0.1})
    export_router_data([explored], tmp_path / "r.jsonl", format="jsonl")
    assert read_router_data(tmp_path / "r.jsonl").rows[0]["propensity"] == 0.1


def test_the_jsonl_file_starts_with_a_header_naming_kind_version_and_params(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    export_router_data(routed_traces, tmp_path / "r.jsonl", format="jsonl")
    header = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert (header["kind"], header["schema_version"]) == ("netgpt.router_data", 1)
    assert header["params"] == RewardParams().model_dump()


def test_parquet_and_jsonl_round_trips_give_the_same_rows(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    export_router_data(routed_traces, tmp_path / "r.jsonl", format="jsonl")
    export_router_data(routed_traces, tmp_path / "r.parquet", format="parquet")
    from_jsonl = read_router_data(tmp_path / "r.jsonl")
    from_parquet = read_router_data(tmp_path / "r.parquet")
    assert from_parquet.rows == from_jsonl.rows and len(from_parquet.rows) == 4
    assert from_parquet.params == from_jsonl.params


def test_an_hf_dataset_folder_reads_back_with_its_params(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    params = RewardParams(value_usd=0.01)
    export_router_data(routed_traces, tmp_path / "hf", format="hf", params=params)
    data = read_router_data(tmp_path / "hf")
    assert data.params == params and [r["trace_id"] for r in data.rows] == [
        t.trace_id for t in routed_traces
    ]


def test_the_parquet_writer_flushes_one_row_group_per_batch(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    many = (t.model_copy(update={"trace_id": f"t{i}"}) for i in range(25) for t in routed_traces)
    summary = export_router_data(many, tmp_path / "r.parquet", batch_rows=30)
    parquet = pq.ParquetFile(tmp_path / "r.parquet")
    assert summary.rows_written == 100
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [
        30,
        30,
        30,
        10,
    ]


def test_export_refuses_to_overwrite_an_existing_file(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    (tmp_path / "r.parquet").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_router_data(routed_traces, tmp_path / "r.parquet")


def test_an_interrupted_export_leaves_no_file(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    def broken() -> object:
        yield routed_traces[0]
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        export_router_data(broken(), tmp_path / "r.parquet")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_reading_a_file_of_another_kind_names_what_was_expected(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    (tmp_path / "x.jsonl").write_text('{"kind": "netgpt.sft"}\n')
    with pytest.raises(ValueError, match=r"not router data: expected a 'netgpt.router_data'"):
        read_router_data(tmp_path / "x.jsonl")


def test_the_fast_field_parser_gives_the_same_rows_as_full_traces(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    lines = tmp_path / "traces.jsonl"
    lines.write_text("".join(t.to_json() + "\n" for t in routed_traces))
    export_router_data(routed_traces, tmp_path / "full.jsonl", format="jsonl")
    export_router_data(read_router_traces(lines), tmp_path / "fast.jsonl", format="jsonl")
    assert read_router_data(tmp_path / "fast.jsonl") == read_router_data(tmp_path / "full.jsonl")


def test_the_fast_field_parser_names_a_corrupt_line(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    lines = tmp_path / "traces.jsonl"
    lines.write_text("{}\n" + routed_traces[0].to_json() + "\n")
    with pytest.raises(ValueError, match="line 1 is not a valid trace"):
        list(read_router_traces(lines))
