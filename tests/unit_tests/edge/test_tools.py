from typing import Any

import pytest
from pydantic import BaseModel, Field

from langchain_netgpt.edge.tools import (
    ToolChoice,
    ToolSpec,
    bound_strings,
    build_output_schema,
    normalize_tool_choice,
    render_tools_prompt,
)
from langchain_netgpt.routing._jsonschema import validate_json_schema


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


class Multiply(BaseModel):
    """Multiply two integers."""

    a: int = Field(description="first factor")
    b: int = Field(description="second factor")


NO_ARGS_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "ping", "description": "Check the service."},
}


@pytest.fixture
def tools() -> list[ToolSpec]:
    return [ToolSpec.from_any(get_weather), ToolSpec.from_any(Multiply)]


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def test_tool_spec_reads_a_python_function_with_its_docstring_and_parameters() -> None:
    spec = ToolSpec.from_any(get_weather)

    assert (spec.name, spec.description) == ("get_weather", "Get the current weather for a city.")
    assert spec.parameters["properties"]["city"]["type"] == "string"
    assert spec.parameters["required"] == ["city"]


def test_tool_spec_gives_a_tool_without_parameters_an_empty_object_schema() -> None:
    spec = ToolSpec.from_any(NO_ARGS_TOOL)

    assert spec.parameters == {"type": "object", "properties": {}}


def test_tool_spec_round_trips_through_the_openai_tool_format() -> None:
    spec = ToolSpec.from_any(Multiply)

    assert ToolSpec.from_any(spec.to_openai()) == spec


@pytest.mark.parametrize("choice", [None, "auto"])
def test_auto_tool_choice_spellings_normalise_to_auto(choice: Any) -> None:
    assert normalize_tool_choice(choice, ["a"]) == ToolChoice("auto")


@pytest.mark.parametrize("choice", ["required", "any", True])
def test_required_tool_choice_spellings_normalise_to_required(choice: Any) -> None:
    assert normalize_tool_choice(choice, ["a"]) == ToolChoice("required")


@pytest.mark.parametrize("choice", ["none", False])
def test_none_tool_choice_spellings_normalise_to_none(choice: Any) -> None:
    assert normalize_tool_choice(choice, ["a"]) == ToolChoice("none")


@pytest.mark.parametrize(
    "choice", ["b", {"type": "function", "function": {"name": "b"}}, {"name": "b"}]
)
def test_a_named_tool_choice_normalises_to_that_tool(choice: Any) -> None:
    assert normalize_tool_choice(choice, ["a", "b"]) == ToolChoice("named", "b")


def test_an_unknown_tool_name_is_rejected_with_the_bound_names() -> None:
    with pytest.raises(ValueError, match=r"'nope'.*not bound.*'a', 'b'"):
        normalize_tool_choice("nope", ["a", "b"])


def test_requiring_a_tool_with_no_tools_bound_is_rejected() -> None:
    with pytest.raises(ValueError, match="requires at least one bound tool"):
        normalize_tool_choice("required", [])


def test_a_tool_choice_of_an_unsupported_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="unsupported type int"):
        normalize_tool_choice(3, ["a"])


def test_auto_schema_admits_a_valid_call_and_a_plain_answer(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("auto"))
    assert schema is not None

    call = {"tool_calls": [_call("get_weather", {"city": "Paris"})]}
    assert validate_json_schema(call, schema) == []
    assert validate_json_schema({"answer": "hello"}, schema) == []


def test_auto_schema_rejects_arguments_that_break_the_tool_schema(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("auto"))
    assert schema is not None

    wrong_type = {"tool_calls": [_call("Multiply", {"a": "two", "b": 3})]}
    missing = {"tool_calls": [_call("Multiply", {"a": 2})]}
    unknown_tool = {"tool_calls": [_call("launch", {})]}
    for bad in (wrong_type, missing, unknown_tool):
        assert validate_json_schema(bad, schema) != []


def test_required_schema_rejects_a_plain_answer(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("required"))
    assert schema is not None

    assert validate_json_schema({"answer": "hi"}, schema) != []
    call = {"tool_calls": [_call("Multiply", {"a": 2, "b": 3})]}
    assert validate_json_schema(call, schema) == []


def test_required_schema_rejects_an_empty_list_of_calls(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("required"))
    assert schema is not None

    assert validate_json_schema({"tool_calls": []}, schema) != []


def test_named_schema_admits_only_the_named_tool(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("named", "Multiply"))
    assert schema is not None

    assert validate_json_schema({"tool_calls": [_call("Multiply", {"a": 1, "b": 2})]}, schema) == []
    weather = {"tool_calls": [_call("get_weather", {"city": "Oslo"})]}
    assert validate_json_schema(weather, schema) != []


def test_none_choice_without_escalation_means_free_text(tools: list[ToolSpec]) -> None:
    assert build_output_schema(tools, ToolChoice("none")) is None


def test_no_tools_and_no_escalation_means_free_text() -> None:
    assert build_output_schema([], ToolChoice("auto")) is None


def test_parallel_calls_off_admits_one_call_only(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("required"), parallel_tool_calls=False)
    assert schema is not None

    one = {"tool_calls": [_call("get_weather", {"city": "Oslo"})]}
    two = {"tool_calls": [_call("get_weather", {"city": "Oslo"})] * 2}
    assert validate_json_schema(one, schema) == []
    assert validate_json_schema(two, schema) != []


def test_parallel_calls_on_admits_several_calls(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("required"), parallel_tool_calls=True)
    assert schema is not None

    calls = [_call("get_weather", {"city": "Oslo"}), _call("Multiply", {"a": 1, "b": 2})]
    two = {"tool_calls": calls}
    assert validate_json_schema(two, schema) == []


def test_the_plain_answer_branch_is_bounded(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("auto"), max_answer_chars=10)
    assert schema is not None

    assert validate_json_schema({"answer": "x" * 10}, schema) == []
    assert validate_json_schema({"answer": "x" * 11}, schema) != []


def test_escalation_adds_an_escalate_branch(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("auto"), allow_escalation=True)
    assert schema is not None

    assert validate_json_schema({"escalate": True, "reason": "too hard"}, schema) == []
    assert validate_json_schema({"escalate": False, "reason": "too hard"}, schema) != []


def test_escalation_without_tools_constrains_to_answer_or_escalate() -> None:
    schema = build_output_schema([], ToolChoice("auto"), allow_escalation=True)
    assert schema is not None

    assert validate_json_schema({"answer": "hi"}, schema) == []
    assert validate_json_schema({"escalate": True, "reason": "?"}, schema) == []
    assert validate_json_schema({"tool_calls": []}, schema) != []


def test_without_escalation_the_escalate_document_is_rejected(tools: list[ToolSpec]) -> None:
    schema = build_output_schema(tools, ToolChoice("auto"))
    assert schema is not None

    assert validate_json_schema({"escalate": True, "reason": "too hard"}, schema) != []


def test_bound_strings_caps_free_form_strings_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "free": {"type": "string"},
            "unit": {"type": "string", "enum": ["C", "F"]},
            "code": {"type": "string", "pattern": "^[A-Z]+$"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }

    bounded = bound_strings(schema, 5)

    props = bounded["properties"]
    assert props["free"]["maxLength"] == 5
    assert "maxLength" not in props["unit"]
    assert "maxLength" not in props["code"]
    assert props["tags"]["items"]["maxLength"] == 5
    assert props["maybe"]["anyOf"][0]["maxLength"] == 5
    assert "maxLength" not in schema["properties"]["free"]  # the input is not mutated


def test_bound_strings_treats_a_parameter_named_type_as_a_property() -> None:
    schema = {
        "type": "object",
        "properties": {"type": {"type": "string", "description": "kind"}},
        "required": ["type"],
    }

    bounded = bound_strings(schema, 7)

    expected = {"type": "string", "description": "kind", "maxLength": 7}
    assert bounded["properties"]["type"] == expected
    assert bounded["required"] == ["type"]


def test_the_tools_prompt_lists_every_tool_with_its_schema(tools: list[ToolSpec]) -> None:
    text = render_tools_prompt(tools, ToolChoice("auto"))

    assert '"name": "get_weather"' in text
    assert '"description": "Multiply two integers."' in text
    assert '"city": {"type": "string"}' in text
    assert '{"answer": "<your reply>"}' in text


def test_the_tools_prompt_for_a_named_choice_offers_only_that_tool(
    tools: list[ToolSpec],
) -> None:
    text = render_tools_prompt(tools, ToolChoice("named", "Multiply"))

    assert "get_weather" not in text
    assert "You must call the tool 'Multiply'." in text
    assert '"answer"' not in text


def test_the_tools_prompt_describes_escalation_when_allowed(tools: list[ToolSpec]) -> None:
    text = render_tools_prompt(tools, ToolChoice("auto"), allow_escalation=True)

    assert '{"escalate": true, "reason": "<why>"}' in text
