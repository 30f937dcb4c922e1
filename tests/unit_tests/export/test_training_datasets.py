"""SFT, preference and GRPO datasets in TRL's conversational formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_netgpt import RouteTrace
from langchain_netgpt.export import export_grpo, export_preferences, export_sft, load_export


def _jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sft_keeps_the_cloud_answers_and_says_why_the_others_were_skipped(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    summary = export_sft(routed_traces, tmp_path / "sft.jsonl", format="jsonl")
    assert (summary.rows_read, summary.rows_written) == (4, 3)
    assert summary.skipped == {"not served by the cloud": 1}


def test_sft_rows_end_with_the_cloud_tool_call_in_openai_form(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    export_sft(routed_traces[:1], tmp_path / "sft.jsonl", format="jsonl")
    (row,) = _jsonl(tmp_path / "sft.jsonl")
    user, answer = row["messages"]
    assert (user["role"], user["content"]) == ("user", "Weather in Oslo?")
    (call,) = answer["tool_calls"]
    assert answer["role"] == "assistant" and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert json.loads(row["tools"])[0]["function"]["name"] == "get_weather"


def test_sft_keeps_system_tool_and_earlier_assistant_turns(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    export_sft(routed_traces[1:2], tmp_path / "sft.jsonl", format="jsonl")
    (row,) = _jsonl(tmp_path / "sft.jsonl")
    assert [m["role"] for m in row["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
    ]
    assert row["messages"][3]["tool_call_id"] == "c1"


def test_a_fallback_from_an_invalid_edge_call_becomes_a_preference_pair(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    summary = export_preferences(routed_traces, tmp_path / "p.jsonl", format="jsonl")
    (row,) = _jsonl(tmp_path / "p.jsonl")
    assert summary.rows_written == 1
    chosen = json.loads(row["chosen"][0]["tool_calls"][0]["function"]["arguments"])
    rejected = json.loads(row["rejected"][0]["tool_calls"][0]["function"]["arguments"])
    assert chosen == {"amount": 10.0, "to": "USD"} and rejected == {"amount": "ten"}
    assert (row["chosen_target"], row["rejected_target"]) == ("cloud", "edge")
    assert row["prompt"][-1] == {
        "role": "user",
        "content": "And convert 10 EUR to USD.",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    }


def test_steps_without_a_refused_answer_give_no_pair(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    summary = export_preferences(routed_traces, tmp_path / "p.jsonl", format="jsonl")
    assert summary.skipped == {"no refused answer from another target": 3}


def test_grpo_rows_carry_the_cloud_calls_as_reference(
    routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    export_grpo(routed_traces, tmp_path / "g.jsonl", format="jsonl")
    rows = _jsonl(tmp_path / "g.jsonl")
    assert [json.loads(r["reference_calls"]) for r in rows] == [
        [{"name": "get_weather", "arguments": {"city": "Oslo"}}],
        [{"name": "convert", "arguments": {"amount": 10.0, "to": "USD"}}],
        [],
    ]
    assert rows[2]["reference_text"] == "Paris is in France."
    assert [r["escalated"] for r in rows] == [False, False, False]
    assert all(r["prompt"][-1]["role"] == "user" for r in rows)


@pytest.mark.parametrize("exporter", [export_sft, export_preferences, export_grpo])
def test_parquet_and_jsonl_exports_load_as_the_same_dataset(
    exporter: object, routed_traces: list[RouteTrace], tmp_path: Path
) -> None:
    exporter(routed_traces, tmp_path / "d.jsonl", format="jsonl")  # type: ignore[operator]
    exporter(routed_traces, tmp_path / "d.parquet", format="parquet")  # type: ignore[operator]
    from_jsonl = load_export(tmp_path / "d.jsonl")
    from_parquet = load_export(tmp_path / "d.parquet")
    assert from_parquet.to_list() == from_jsonl.to_list() and len(from_parquet) > 0


def test_an_hf_folder_holds_the_sft_rows(routed_traces: list[RouteTrace], tmp_path: Path) -> None:
    export_sft(routed_traces, tmp_path / "hf", format="hf")
    dataset = load_export(tmp_path / "hf")
    assert dataset.column_names[:2] == ["messages", "tools"] and len(dataset) == 3
    assert json.loads(dataset.info.description)["kind"] == "netgpt.sft"


def test_an_empty_export_still_has_its_columns(tmp_path: Path) -> None:
    summary = export_sft([], tmp_path / "e.parquet")
    dataset = load_export(tmp_path / "e.parquet")
    assert summary.rows_written == 0 and dataset.column_names[:2] == ["messages", "tools"]
