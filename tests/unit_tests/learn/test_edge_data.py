"""Exported rows become exactly the prompt and completion the edge model reads and writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_netgpt.edge.prompt import render_messages
from langchain_netgpt.edge.tools import (
    ToolChoice,
    ToolSpec,
    parse_edge_output,
    render_tools_prompt,
)
from langchain_netgpt.learn.data_io import file_sha256, read_rows
from langchain_netgpt.learn.edge_data import (
    EdgeFormatOptions,
    RowFormatError,
    calls_from_reference,
    format_grpo_row,
    format_sft_row,
    rows_from_bfcl,
)
from langchain_netgpt.recorded import load_bfcl

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def _call(name: str, arguments: object) -> dict[str, object]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def _row(answer: dict[str, object]) -> dict[str, object]:
    return {
        "messages": [{"role": "user", "content": "Weather in Paris?"}, answer],
        "tools": [WEATHER],
    }


def test_the_prompt_is_what_the_edge_renders_for_the_same_messages_and_tools() -> None:
    from langchain_core.messages import HumanMessage

    answer = {
        "role": "assistant",
        "content": "",
        "tool_calls": [_call("get_weather", {"city": "Paris"})],
    }
    example = format_sft_row(_row(answer))

    spec = ToolSpec.from_any(WEATHER)
    suffix = render_tools_prompt([spec], ToolChoice("auto"))
    expected = render_messages([HumanMessage("Weather in Paris?")], system_suffix=suffix)
    assert example.turns == expected


def test_a_tool_call_answer_becomes_the_edge_json_with_arguments_in_schema_order() -> None:
    arguments = json.dumps({"unit": "c", "city": "Paris"})
    answer = {"role": "assistant", "content": "", "tool_calls": [_call("get_weather", arguments)]}
    example = format_sft_row(_row(answer))
    assert example.completion == (
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]}'
    )
    parsed = parse_edge_output(example.completion, ["get_weather"])
    assert parsed.tool_calls[0]["args"] == {"city": "Paris", "unit": "c"}


def test_a_text_answer_becomes_an_answer_document() -> None:
    example = format_sft_row(_row({"role": "assistant", "content": "Take an umbrella."}))
    assert json.loads(example.completion) == {"answer": "Take an umbrella."}


def test_tool_turns_before_the_answer_are_rendered_as_the_edge_shows_them() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", **_call("get_weather", {"city": "Paris"})}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny."},
        ],
        "tools": json.dumps([WEATHER]),
    }
    example = format_sft_row(row)
    assert [t["role"] for t in example.turns] == ["system", "user", "assistant", "user"]
    assert example.turns[-1]["content"] == "Result of tool get_weather: sunny"


def test_an_answer_the_grammar_cannot_produce_is_refused_with_the_reason() -> None:
    bad_enum = {
        "role": "assistant",
        "content": "",
        "tool_calls": [_call("get_weather", {"city": "Paris", "unit": "kelvin"})],
    }
    with pytest.raises(RowFormatError, match="grammar cannot produce"):
        format_sft_row(_row(bad_enum))


def test_several_calls_are_refused_unless_parallel_calls_are_on() -> None:
    calls = [_call("get_weather", {"city": "Paris"}), _call("get_weather", {"city": "Rome"})]
    row = _row({"role": "assistant", "content": "", "tool_calls": calls})
    with pytest.raises(RowFormatError):
        format_sft_row(row)
    example = format_sft_row(row, EdgeFormatOptions(parallel_tool_calls=True))
    assert len(json.loads(example.completion)["tool_calls"]) == 2


def test_arrow_null_filled_tool_schemas_are_restored() -> None:
    padded = json.loads(json.dumps(WEATHER))
    padded["function"]["parameters"]["properties"]["city"]["enum"] = None
    answer = {
        "role": "assistant",
        "content": "",
        "tool_calls": [_call("get_weather", {"city": "Oslo", "unit": None})],
    }
    example = format_sft_row(
        {"messages": [{"role": "user", "content": "x"}, answer], "tools": [padded]}
    )
    assert json.loads(example.completion)["tool_calls"][0]["arguments"] == {"city": "Oslo"}


def test_a_grpo_row_renders_its_prompt_with_escalation_when_asked() -> None:
    row = {"prompt": [{"role": "user", "content": "Weather?"}], "tools": [WEATHER]}
    example = format_grpo_row(row, EdgeFormatOptions(allow_escalation=True))
    assert '"escalate": true' in example.turns[0]["content"]
    assert example.completion == ""


def test_reference_calls_accept_the_exporter_json_string() -> None:
    calls = calls_from_reference('[{"name": "f", "arguments": {"x": 1}}]')
    assert calls == [{"name": "f", "arguments": {"x": 1}}]
    assert calls_from_reference("[]") == []


def test_bfcl_ground_truth_rows_format_for_the_edge(shared_data: Path) -> None:
    tasks = load_bfcl(shared_data / "bfcl" / "BFCL_v4_simple_python.json", limit=5)
    rows = rows_from_bfcl(tasks)
    examples = [format_sft_row(r) for r in rows]
    first = json.loads(examples[0].completion)["tool_calls"][0]
    assert first["name"] == tasks[0].tools[0]["function"]["name"]
    assert all(json.loads(r["reference_calls"]) for r in rows)


def test_jsonl_rows_round_trip_exactly_and_hash_stably(tmp_path: Path) -> None:
    path = tmp_path / "sft.jsonl"
    row = _row({"role": "assistant", "content": "ok"})
    path.write_text(json.dumps(row) + "\n\n")
    assert read_rows(path) == [row]
    assert file_sha256(path) == file_sha256(path)


def test_a_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": []}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        read_rows(path)
