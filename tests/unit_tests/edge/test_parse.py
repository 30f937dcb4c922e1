import json
import re

from langchain_netgpt.edge.tools import new_tool_call_id, parse_edge_output

NAMES = ["get_weather", "multiply"]


def test_a_tool_call_document_becomes_tool_calls_with_fresh_ids() -> None:
    text = json.dumps(
        {
            "tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Paris"}},
                {"name": "multiply", "arguments": {"a": 2, "b": 3}},
            ]
        }
    )

    parsed = parse_edge_output(text, NAMES)

    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("multiply", {"a": 2, "b": 3}),
    ]
    ids = [c["id"] for c in parsed.tool_calls]
    assert all(re.fullmatch(r"call_[0-9a-f]{32}", i or "") for i in ids)
    assert len(set(ids)) == 2
    assert parsed.content == ""


def test_tool_call_ids_are_fresh_on_every_call() -> None:
    assert new_tool_call_id() != new_tool_call_id()


def test_an_answer_document_becomes_plain_content() -> None:
    parsed = parse_edge_output('{"answer": "It is sunny."}', NAMES)

    assert (parsed.content, parsed.tool_calls) == ("It is sunny.", [])


def test_an_escalate_document_carries_its_reason() -> None:
    parsed = parse_edge_output('{"escalate": true, "reason": "needs web search"}', NAMES)

    assert parsed.escalate_reason == "needs web search"
    assert (parsed.content, parsed.tool_calls) == ("", [])


def test_an_answer_cut_off_by_the_token_budget_keeps_its_text() -> None:
    parsed = parse_edge_output('{"answer": "Paris is the capital of Fra', NAMES)

    assert parsed.content == "Paris is the capital of Fra"


def test_a_tool_call_cut_off_by_the_token_budget_is_an_invalid_call() -> None:
    text = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Par'

    parsed = parse_edge_output(text, NAMES)

    assert parsed.tool_calls == []
    assert len(parsed.invalid_tool_calls) == 1
    assert parsed.invalid_tool_calls[0]["args"] == text
    assert "incomplete" in (parsed.invalid_tool_calls[0]["error"] or "")


def test_a_call_to_an_unbound_tool_is_an_invalid_call_naming_the_bound_tools() -> None:
    parsed = parse_edge_output('{"tool_calls": [{"name": "launch", "arguments": {}}]}', NAMES)

    assert parsed.tool_calls == []
    assert parsed.invalid_tool_calls[0]["name"] == "launch"
    assert "get_weather, multiply" in (parsed.invalid_tool_calls[0]["error"] or "")


def test_free_text_around_a_json_document_is_ignored() -> None:
    text = 'Sure! {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]} Done.'

    parsed = parse_edge_output(text, NAMES)

    assert parsed.tool_calls[0]["args"] == {"city": "Rome"}


def test_a_bare_call_object_from_free_decoding_is_accepted() -> None:
    parsed = parse_edge_output('{"name": "multiply", "arguments": {"a": 1, "b": 4}}', NAMES)

    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("multiply", {"a": 1, "b": 4})]


def test_text_without_a_json_document_is_a_plain_answer() -> None:
    parsed = parse_edge_output("  The weather is nice today.\n", NAMES)

    assert parsed.content == "The weather is nice today."
    assert parsed.tool_calls == []


def test_a_tool_call_list_cut_off_by_the_token_budget_keeps_its_complete_calls() -> None:
    text = (
        '{"tool_calls": [{"name": "multiply", "arguments": {"a": 1, "b": 2}}, '
        '{"name": "multiply", "arguments": {"a": 3, "b": 4}}, {"name": "multi'
    )

    parsed = parse_edge_output(text, NAMES)

    assert [c["args"] for c in parsed.tool_calls] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert parsed.invalid_tool_calls == []
