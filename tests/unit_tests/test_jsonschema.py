"""The small JSON Schema validator used to check tool-call arguments."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_netgpt.routing._jsonschema import validate_json_schema

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def test_valid_arguments_have_no_problems() -> None:
    assert validate_json_schema({"city": "Paris", "unit": "celsius", "days": 3}, WEATHER) == []


def test_missing_required_property_is_reported() -> None:
    assert validate_json_schema({"unit": "celsius"}, WEATHER) == [
        "$: missing required property 'city'"
    ]


def test_unknown_property_is_reported_when_additional_properties_are_off() -> None:
    assert validate_json_schema({"city": "Paris", "country": "FR"}, WEATHER) == [
        "$: unexpected property 'country'"
    ]


def test_additional_properties_schema_validates_the_extra_values() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "number"}}
    assert validate_json_schema({"a": 1, "b": 2.5}, schema) == []
    assert validate_json_schema({"a": "x"}, schema) == ["$.a: expected number, got str 'x'"]


def test_wrong_type_is_reported_with_path_and_value() -> None:
    assert validate_json_schema({"city": "Paris", "days": "3"}, WEATHER) == [
        "$.days: expected integer, got str '3'"
    ]


@pytest.mark.parametrize(
    ("value", "type_name", "ok"),
    [
        (5, "integer", True),
        (5.0, "integer", True),
        (5.5, "integer", False),
        (True, "integer", False),
        (True, "number", False),
        (3, "number", True),
        (None, "null", True),
        ((1, 2), "array", True),
        ("x", "boolean", False),
    ],
)
def test_type_keyword_follows_json_semantics(value: Any, type_name: str, ok: bool) -> None:
    assert (validate_json_schema(value, {"type": type_name}) == []) is ok


def test_list_of_types_accepts_any_of_them() -> None:
    schema = {"type": ["string", "null"]}
    assert validate_json_schema(None, schema) == []
    assert validate_json_schema(3, schema) == ["$: expected string or null, got int 3"]


def test_enum_distinguishes_true_from_one() -> None:
    schema = {"enum": [1, "a"]}
    assert validate_json_schema(1.0, schema) == []
    assert validate_json_schema(True, schema) == ["$: True is not one of [1, 'a']"]


def test_numeric_bounds_are_checked() -> None:
    assert validate_json_schema({"city": "x", "days": 15}, WEATHER) == ["$.days: 15 must be <= 14"]
    schema = {"type": "number", "exclusiveMinimum": 0}
    assert validate_json_schema(0, schema) == ["$: 0 must be > 0"]


def test_array_items_are_validated_with_indexed_paths() -> None:
    schema = {
        "type": "object",
        "properties": {
            "conditions": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}},
                    "required": ["field"],
                },
            }
        },
    }
    problems = validate_json_schema({"conditions": [{"field": "a"}, {"field": 2}, {}]}, schema)
    assert problems == [
        "$.conditions[1].field: expected string, got int 2",
        "$.conditions[2]: missing required property 'field'",
    ]
    assert validate_json_schema({"conditions": []}, schema) == [
        "$.conditions: expected at least 1 items, got 0"
    ]


def test_any_of_needs_one_match_and_one_of_exactly_one() -> None:
    any_of = {"anyOf": [{"type": "integer"}, {"type": "number"}]}
    one_of = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
    assert validate_json_schema(3, any_of) == []
    assert validate_json_schema(3.5, one_of) == []
    assert validate_json_schema(3, one_of) == ["$: 3 matches 2 oneOf schemas, not 1"]
    assert validate_json_schema("x", any_of)[0].startswith("$: 'x' matches none of the anyOf")


def test_local_refs_are_resolved() -> None:
    schema = {
        "type": "object",
        "properties": {"point": {"$ref": "#/$defs/Point"}},
        "$defs": {"Point": {"type": "object", "required": ["x"]}},
    }
    assert validate_json_schema({"point": {"x": 1}}, schema) == []
    assert validate_json_schema({"point": {}}, schema) == ["$.point: missing required property 'x'"]


def test_unresolvable_ref_and_unknown_type_are_schema_errors() -> None:
    assert validate_json_schema(1, {"$ref": "#/$defs/Nope"}) == [
        "$: schema error: cannot resolve $ref '#/$defs/Nope'"
    ]
    assert validate_json_schema({}, {"type": "dict"}) == ["$: schema error: unknown type 'dict'"]


def test_string_constraints_are_checked() -> None:
    schema = {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}
    assert validate_json_schema("abc", schema) == []
    assert validate_json_schema("abcd", schema) == ["$: expected at most 3 characters, got 4"]
    assert validate_json_schema("AB", schema) == ["$: 'AB' does not match pattern '^[a-z]+$'"]


def test_boolean_schemas_and_empty_schema() -> None:
    assert validate_json_schema({"anything": [1]}, {}) == []
    assert validate_json_schema(1, True) == []
    assert validate_json_schema(1, False) == ["$: no value is allowed here, got int 1"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


def _exact_schema(value: Any) -> dict[str, Any]:
    """The tightest schema this validator understands that ``value`` satisfies."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "enum": [value]}
    if isinstance(value, int | float):
        return {"type": "number", "minimum": value, "maximum": value}
    if isinstance(value, str):
        return {"type": "string", "minLength": len(value), "maxLength": len(value)}
    if isinstance(value, list):
        return {
            "type": "array",
            "prefixItems": [_exact_schema(v) for v in value],
            "items": False,
            "minItems": len(value),
        }
    return {
        "type": "object",
        "properties": {k: _exact_schema(v) for k, v in value.items()},
        "required": list(value),
        "additionalProperties": False,
    }


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_every_value_satisfies_its_own_exact_schema(value: Any) -> None:
    assert validate_json_schema(value, _exact_schema(value)) == []


@settings(max_examples=60, deadline=None)
@given(json_values, json_values)
def test_exact_schema_of_a_different_value_rejects(value: Any, other: Any) -> None:
    schema = _exact_schema(other)
    same = validate_json_schema(value, schema) == []
    # Only values that compare equal as JSON (1 == 1.0) may pass another value's exact schema.
    assert not same or _json_equal(value, other)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
