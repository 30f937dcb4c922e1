from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_netgpt.routing import RequestFeatures
from langchain_netgpt.routing.features import FEATURE_NAMES, ToolsSummary

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "when": {
                    "type": "object",
                    "properties": {"day": {"type": "string"}, "hour": {"type": "integer"}},
                },
            },
            "required": ["city"],
        },
    },
}


def _openai_payload_bytes(messages: list[dict[str, str]], tools: list[dict]) -> int:
    body = {"model": "gpt-4o-mini", "messages": messages, "tools": tools, "stream": False}
    return len(json.dumps(body))


def test_payload_bytes_track_the_serialised_openai_request_within_ten_percent() -> None:
    question = "What will the weather be in Paris tomorrow at noon? " * 5
    features = RequestFeatures.from_messages(
        [SystemMessage("You are helpful."), HumanMessage(question)], [WEATHER]
    )
    expected = _openai_payload_bytes(
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": question},
        ],
        [WEATHER],
    )
    assert features.payload_bytes == pytest.approx(expected, rel=0.1)


def test_tool_summary_counts_tools_depth_and_required_params() -> None:
    summary = ToolsSummary.from_tools([WEATHER, WEATHER])
    assert summary.tool_count == 2
    assert summary.schema_depth == 2
    assert summary.required_params == 2
    assert summary.total_params == 4


def test_turn_index_and_new_tokens_follow_the_conversation() -> None:
    first = RequestFeatures.from_messages([HumanMessage("hello there")])
    later = RequestFeatures.from_messages(
        [
            HumanMessage("hello there " * 50),
            AIMessage("hi", response_metadata={"netgpt": {"target": "cloud"}}),
            HumanMessage("and now?"),
        ]
    )
    assert first.turn_index == 0 and first.new_tokens == first.prompt_tokens
    assert later.turn_index == 1
    assert later.new_tokens < later.prompt_tokens
    assert later.previous_target == "cloud"


def test_tool_result_as_last_message_is_flagged() -> None:
    features = RequestFeatures.from_messages(
        [
            HumanMessage("weather?"),
            AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "X"}, "id": "1"}]),
            ToolMessage("sunny", tool_call_id="1"),
        ]
    )
    assert features.after_tool_result


def test_switched_side_is_one_only_when_the_previous_turn_ran_elsewhere() -> None:
    features = RequestFeatures.from_messages(
        [HumanMessage("x"), AIMessage("y", response_metadata={"netgpt": {"target": "cloud"}})]
    )
    index = FEATURE_NAMES.index("switched_side")
    assert features.vector(target="edge")[index] == 1.0
    assert features.vector(target="cloud")[index] == 0.0


def test_empty_messages_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        RequestFeatures.from_messages([])


def test_non_messages_are_rejected_with_their_position() -> None:
    with pytest.raises(TypeError, match=r"messages\[1\]"):
        RequestFeatures.from_messages([HumanMessage("ok"), "not a message"])  # type: ignore[list-item]


def test_malformed_tools_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"tools\[0\]"):
        ToolsSummary.from_tools(["get_weather"])  # type: ignore[list-item]


def test_features_round_trip_through_a_dict() -> None:
    features = RequestFeatures.from_messages([HumanMessage("a and b")], [WEATHER])
    assert RequestFeatures.from_dict(features.to_dict()) == features
    with pytest.raises(ValueError, match="unknown"):
        RequestFeatures.from_dict({**features.to_dict(), "bogus": 1})


def test_question_unrelated_to_the_tool_has_low_overlap_features() -> None:
    bmi = {
        "type": "function",
        "function": {
            "name": "determine_body_mass_index",
            "description": "Calculate body mass index given weight and height.",
            "parameters": {"type": "object", "properties": {"weight": {"type": "number"}}},
        },
    }
    related = RequestFeatures.from_messages(
        [HumanMessage("Determine the body mass index for weight 70 kg")], [bmi]
    )
    unrelated = RequestFeatures.from_messages(
        [HumanMessage("Who painted the Mona Lisa in Florence?")], [bmi]
    )
    assert related.tool_name_overlap > 0.5 > unrelated.tool_name_overlap
    assert related.question_coverage > unrelated.question_coverage


def test_distinct_numbers_in_the_question_are_counted() -> None:
    features = RequestFeatures.from_messages([HumanMessage("Add 3 and 4.5, then 3 and 10")])
    assert features.number_count == 3
