"""The GBNF grammar the llama.cpp runtime builds accepts the same JSON as transformers' xgrammar."""

import json
from typing import Any

import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string

# The JSON-schema-to-GBNF converter is llama-cpp-python's (built by `make install` where a C++
# compiler is); without it the llama.cpp runtime is not used at all.
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not built here")

from langchain_netgpt.edge.llama_grammar import schema_to_gbnf
from langchain_netgpt.edge.tools import ToolSpec, build_output_schema, normalize_tool_choice
from langchain_netgpt.errors import EdgeModelError


def add(a: int, b: float, note: str = "x") -> int:
    """Add two numbers."""
    return a


def pick(colour: str, sizes: list[int], exact: bool = False) -> str:
    """Pick a colour."""
    return colour


def _schema(choice: str = "auto") -> dict[str, Any]:
    specs = [ToolSpec.from_any(add), ToolSpec.from_any(pick)]
    schema = build_output_schema(
        specs,
        normalize_tool_choice(choice, [s.name for s in specs]),
        parallel_tool_calls=False,
        max_argument_chars=20,
        max_answer_chars=50,
    )
    assert schema is not None
    return schema


CANDIDATES = [
    '{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2.5}}]}',
    '{"tool_calls": [{"name": "add", "arguments": {"a": -10, "b": 2e3, "note": "y"}}]}',
    '{"tool_calls": [{"name": "pick", "arguments": {"colour": "red", "sizes": [1, 2]}}]}',
    '{"tool_calls": [{"name": "pick", "arguments": {"colour": "r\\u00e9d", "sizes": []}}]}',
    '{"answer": "hi"}',
    '{"answer": "line\\nbreak"}',
    # rejected by both:
    '{"tool_calls":[{"name":"add","arguments":{"a":1,"b":2.5}}]}',
    '{ "answer": "hi" }',
    '{"answer": "raw\nnewline"}',
    '{"tool_calls": [{"name": "add", "arguments": {"b": 2.5, "a": 1}}]}',
    '{"tool_calls": [{"name": "add", "arguments": {"a": 1.5, "b": 2}}]}',
    '{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2, "c": 3}}]}',
    '{"tool_calls": [{"name": "mul", "arguments": {"a": 1, "b": 2}}]}',
    '{"answer": "' + "x" * 51 + '"}',
    '{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, '
    '{"name": "add", "arguments": {"a": 1, "b": 2}}]}',
]


@pytest.mark.parametrize("choice", ["auto", "required", "add"])
def test_gbnf_and_xgrammar_accept_exactly_the_same_documents(choice: str) -> None:
    schema = _schema(choice)
    gbnf = xgr.Grammar.from_ebnf(schema_to_gbnf(schema))
    reference = xgr.Grammar.from_json_schema(
        json.dumps(schema), any_whitespace=False, strict_mode=True
    )

    verdicts = [
        (text, _is_grammar_accept_string(gbnf, text), _is_grammar_accept_string(reference, text))
        for text in CANDIDATES
    ]

    assert [v for v in verdicts if v[1] != v[2]] == []
    assert any(v[1] for v in verdicts) and not all(v[1] for v in verdicts)


def test_the_gbnf_grammar_uses_python_json_separators_and_no_free_whitespace() -> None:
    grammar = schema_to_gbnf(_schema())

    assert 'space ::= ""' in grammar
    assert '": "' in grammar and '", "' in grammar


def test_a_long_string_bound_is_written_with_the_repetition_operator() -> None:
    grammar = schema_to_gbnf(
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": 2000}}}
    )

    assert "char{0,2000}" in grammar


def test_a_bound_beyond_llama_cpp_limit_is_refused_with_the_alternative() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5000}}}

    with pytest.raises(EdgeModelError, match="grammar_engine='xgrammar'"):
        schema_to_gbnf(schema)


def test_no_schema_means_any_json_object() -> None:
    grammar = xgr.Grammar.from_ebnf(schema_to_gbnf(None))

    assert _is_grammar_accept_string(grammar, '{"x": [1, {"y": null}]}')
    assert not _is_grammar_accept_string(grammar, "[1, 2]")


def test_an_untyped_parameter_accepts_any_json_value_as_in_xgrammar() -> None:
    # BFCL has parameters with only a description; xgrammar reads them as any JSON value.
    schema = {
        "type": "object",
        "properties": {"data": {"description": "The training data for the model."}},
        "required": ["data"],
        "additionalProperties": False,
    }
    gbnf = xgr.Grammar.from_ebnf(schema_to_gbnf(schema))
    for text in ('{"data": [1, 2]}', '{"data": "csv"}', '{"data": {"x": null}}'):
        assert _is_grammar_accept_string(gbnf, text), text
    assert not _is_grammar_accept_string(gbnf, '{"other": 1}')
