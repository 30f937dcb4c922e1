"""A small, dependency-free JSON Schema validator for tool-call arguments.

It covers the subset of JSON Schema that tool definitions use (OpenAI function parameters, the
schemas LangChain derives from pydantic models, converted BFCL function docs): ``type`` (one name
or a list), ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``,
``patternProperties``, ``items`` / ``prefixItems``, ``minItems`` / ``maxItems`` /
``uniqueItems``, ``minLength`` / ``maxLength`` / ``pattern``, ``minimum`` / ``maximum`` /
``exclusiveMinimum`` / ``exclusiveMaximum`` / ``multipleOf``, ``anyOf`` / ``oneOf`` /
``allOf`` / ``not`` and local ``$ref`` pointers (``#/$defs/...``). Annotations (``description``,
``title``, ``default``, ``format``, ...) and unknown keywords are ignored, as the specification
says. The router checks every tool call with it, so it interprets the schema directly without
building anything per call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

__all__ = ["schema_problems", "validate_json_schema"]

_MAX_REPR = 60
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_OBJECT_KEYWORDS = frozenset(
    {"required", "properties", "patternProperties", "additionalProperties"}
)
_ARRAY_KEYWORDS = frozenset(
    {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems"}
)
_NUMBER_KEYWORDS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)
_COMBINATOR_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "not"})


def validate_json_schema(instance: object, schema: Mapping[str, Any] | bool) -> list[str]:
    """Validate a JSON-like value against a JSON Schema.

    Args:
        instance: The value to check (``dict``, ``list``/``tuple``, ``str``, ``int``, ``float``,
            ``bool`` or ``None``), typically a tool call's parsed arguments.
        schema: The JSON Schema (a mapping, or ``True``/``False``).

    Returns:
        Human-readable problems, each starting with the JSON path of the offending value
        (``$`` is the root, e.g. ``$.conditions[0].field: ...``); an empty list when the value
        is valid.

    Example:
        >>> schema = {"type": "object", "properties": {"n": {"type": "integer"}},
        ...           "required": ["n"], "additionalProperties": False}
        >>> validate_json_schema({"n": 5}, schema)
        []
        >>> validate_json_schema({"n": "5", "m": 1}, schema)
        ["$.n: expected integer, got str '5'", "$: unexpected property 'm'"]
    """
    problems: list[str] = []
    root = schema if isinstance(schema, Mapping) else {}
    _validate(instance, schema, "$", problems, root)
    return problems


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _describe(value: object) -> str:
    return f"{type(value).__name__} {_short(value)}"


def _child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _has_type(value: object, type_name: str) -> bool | None:
    """Whether ``value`` has JSON type ``type_name``; ``None`` when the name is unknown."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if type_name == "number":
        return _is_number(value)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "object":
        return type(value) is dict or isinstance(value, Mapping)
    if type_name == "array":
        return isinstance(value, list | tuple)
    if type_name == "null":
        return value is None
    return None


def _json_equal(a: object, b: object) -> bool:
    """Equality as JSON sees it: ``True`` is not ``1``, ``1`` is ``1.0``, containers deep."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _resolve_ref(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for raw in ref[1:].split("/"):
        if not raw:
            continue
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _validate(
    instance: object,
    schema: Any,
    path: str,
    problems: list[str],
    root: Mapping[str, Any],
) -> None:
    if type(schema) is not dict:  # fast path: schemas are almost always plain dicts
        if schema is True:
            return
        if schema is False:
            problems.append(f"{path}: no value is allowed here, got {_describe(instance)}")
            return
        if not isinstance(schema, Mapping):
            return
    if not schema:
        return

    if "$ref" in schema and isinstance(schema["$ref"], str):
        ref = schema["$ref"]
        target = _resolve_ref(ref, root)
        if target is None:
            problems.append(f"{path}: schema error: cannot resolve $ref {ref!r}")
            return
        _validate(instance, target, path, problems, root)

    declared = schema.get("type")
    if declared is not None and not _check_type(instance, declared, path, problems):
        return  # a wrong type makes the keyword checks below meaningless noise

    if "enum" in schema:
        allowed = schema["enum"]
        if isinstance(allowed, Sequence) and not any(_json_equal(instance, e) for e in allowed):
            problems.append(f"{path}: {_short(instance)} is not one of {_short(list(allowed))}")
    if "const" in schema and not _json_equal(instance, schema["const"]):
        problems.append(f"{path}: expected {_short(schema['const'])}, got {_short(instance)}")

    kind = type(instance)
    if kind is str:
        if not _STRING_KEYWORDS.isdisjoint(schema):
            _check_string(instance, schema, path, problems)  # type: ignore[arg-type]
    elif kind is dict or (kind is not list and isinstance(instance, Mapping)):
        if not _OBJECT_KEYWORDS.isdisjoint(schema):
            _check_object(instance, schema, path, problems, root)  # type: ignore[arg-type]
    elif kind is list or kind is tuple:
        if not _ARRAY_KEYWORDS.isdisjoint(schema):
            _check_array(instance, schema, path, problems, root)  # type: ignore[arg-type]
    elif _is_number(instance):
        if not _NUMBER_KEYWORDS.isdisjoint(schema):
            _check_number(instance, schema, path, problems)
    elif isinstance(instance, str):
        _check_string(instance, schema, path, problems)

    if not _COMBINATOR_KEYWORDS.isdisjoint(schema):
        _check_combinators(instance, schema, path, problems, root)


def _check_type(instance: object, declared: Any, path: str, problems: list[str]) -> bool:
    if type(declared) is str:
        verdict = _has_type(instance, declared)
        if verdict:
            return True
        names = [declared]
    elif isinstance(declared, list) and all(isinstance(n, str) for n in declared):
        names = declared
        verdicts = [_has_type(instance, name) for name in names]
        if any(verdicts):
            return True
        verdict = False if any(v is False for v in verdicts) else None
    else:
        problems.append(f"{path}: schema error: 'type' must be a string or a list of strings")
        return False
    if verdict is None and names:
        problems.append(f"{path}: schema error: unknown type {_short(declared)}")
        return False
    expected = " or ".join(names)
    problems.append(f"{path}: expected {expected}, got {_describe(instance)}")
    return False


def _check_object(
    instance: Mapping[Any, Any],
    schema: Mapping[str, Any],
    path: str,
    problems: list[str],
    root: Mapping[str, Any],
) -> None:
    required = schema.get("required")
    if isinstance(required, list):
        for name in required:
            if name not in instance:
                problems.append(f"{path}: missing required property {name!r}")
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    patterns = schema.get("patternProperties")
    additional = schema.get("additionalProperties", True)
    for key, value in instance.items():
        key_text = str(key)
        matched = False
        if key in properties:
            matched = True
            _validate(value, properties[key], _child_path(path, key_text), problems, root)
        if isinstance(patterns, Mapping):
            for pattern, sub in patterns.items():
                if re.search(pattern, key_text):
                    matched = True
                    _validate(value, sub, _child_path(path, key_text), problems, root)
        if matched:
            continue
        if additional is False:
            problems.append(f"{path}: unexpected property {key_text!r}")
        elif isinstance(additional, Mapping):
            _validate(value, additional, _child_path(path, key_text), problems, root)


def _check_array(
    instance: Sequence[Any],
    schema: Mapping[str, Any],
    path: str,
    problems: list[str],
    root: Mapping[str, Any],
) -> None:
    size = len(instance)
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if _is_number(min_items) and size < min_items:
        problems.append(f"{path}: expected at least {min_items} items, got {size}")
    if _is_number(max_items) and size > max_items:
        problems.append(f"{path}: expected at most {max_items} items, got {size}")
    prefix = schema.get("prefixItems")
    items = schema.get("items")
    if isinstance(items, list):  # draft-07 tuple form
        prefix, items = items, schema.get("additionalItems")
    start = 0
    if isinstance(prefix, list):
        start = min(len(prefix), size)
        for index in range(start):
            _validate(instance[index], prefix[index], f"{path}[{index}]", problems, root)
    if items is not None and items is not True:
        for index in range(start, size):
            _validate(instance[index], items, f"{path}[{index}]", problems, root)
    if schema.get("uniqueItems") is True:
        for i in range(size):
            if any(_json_equal(instance[i], instance[j]) for j in range(i)):
                problems.append(f"{path}: items must be unique, {_short(instance[i])} repeats")
                break


def _check_string(instance: str, schema: Mapping[str, Any], path: str, problems: list[str]) -> None:
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    if _is_number(min_length) and len(instance) < min_length:
        problems.append(f"{path}: expected at least {min_length} characters, got {len(instance)}")
    if _is_number(max_length) and len(instance) > max_length:
        problems.append(f"{path}: expected at most {max_length} characters, got {len(instance)}")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            found = re.search(pattern, instance) is not None
        except re.error:
            problems.append(f"{path}: schema error: invalid pattern {pattern!r}")
            return
        if not found:
            problems.append(f"{path}: {_short(instance)} does not match pattern {pattern!r}")


def _check_number(
    instance: float, schema: Mapping[str, Any], path: str, problems: list[str]
) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    exclusive_min, exclusive_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if _is_number(minimum):
        if exclusive_min is True and instance <= minimum:  # draft-04 boolean form
            problems.append(f"{path}: {instance} must be > {minimum}")
        elif instance < minimum:
            problems.append(f"{path}: {instance} must be >= {minimum}")
    if _is_number(maximum):
        if exclusive_max is True and instance >= maximum:
            problems.append(f"{path}: {instance} must be < {maximum}")
        elif instance > maximum:
            problems.append(f"{path}: {instance} must be <= {maximum}")
    if _is_number(exclusive_min) and instance <= exclusive_min:
        problems.append(f"{path}: {instance} must be > {exclusive_min}")
    if _is_number(exclusive_max) and instance >= exclusive_max:
        problems.append(f"{path}: {instance} must be < {exclusive_max}")
    multiple = schema.get("multipleOf")
    if _is_number(multiple) and multiple > 0:
        quotient = instance / multiple
        if math.isfinite(quotient) and not math.isclose(quotient, round(quotient), abs_tol=1e-9):
            problems.append(f"{path}: {instance} is not a multiple of {multiple}")


def _check_combinators(
    instance: object,
    schema: Mapping[str, Any],
    path: str,
    problems: list[str],
    root: Mapping[str, Any],
) -> None:
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        for sub in all_of:
            _validate(instance, sub, path, problems, root)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of:
        failures = [_sub_problems(instance, sub, path, root) for sub in any_of]
        if all(failures):
            problems.append(
                f"{path}: {_short(instance)} matches none of the anyOf schemas "
                f"(first: {failures[0][0]})"
            )
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of:
        failures = [_sub_problems(instance, sub, path, root) for sub in one_of]
        matches = sum(1 for f in failures if not f)
        if matches == 0:
            problems.append(
                f"{path}: {_short(instance)} matches none of the oneOf schemas "
                f"(first: {failures[0][0]})"
            )
        elif matches > 1:
            problems.append(f"{path}: {_short(instance)} matches {matches} oneOf schemas, not 1")
    if "not" in schema and not _sub_problems(instance, schema["not"], path, root):
        problems.append(f"{path}: {_short(instance)} must not match the 'not' schema")


def _sub_problems(instance: object, schema: Any, path: str, root: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    _validate(instance, schema, path, found, root)
    return found


_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("not", "additionalProperties", "items", "additionalItems")


def schema_problems(schema: object, path: str = "parameters") -> list[str]:
    """Structural problems of a JSON Schema (``[]`` when the keywords used are well formed).

    Checks what would otherwise make validation silently accept anything: unknown ``type``
    names, ``properties`` that are not schemas, ``required`` that is not a list of names,
    ``enum`` that is not a list. Unknown keywords are allowed (the specification ignores them).
    """
    if isinstance(schema, bool):
        return []
    if not isinstance(schema, Mapping):
        return [f"{path}: a schema must be an object or a boolean, got {_describe(schema)}"]
    problems: list[str] = []
    declared = schema.get("type")
    if declared is not None:
        names = declared if isinstance(declared, list) else [declared]
        bad = [n for n in names if not isinstance(n, str) or n not in _JSON_TYPES]
        if bad:
            problems.append(
                f"{path}.type: unknown type {_short(bad[0])}; expected one of {sorted(_JSON_TYPES)}"
            )
    required = schema.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(n, str) for n in required)
    ):
        problems.append(f"{path}.required must be a list of property names, got {_short(required)}")
    if "enum" in schema and not isinstance(schema["enum"], list):
        problems.append(f"{path}.enum must be a list, got {_short(schema['enum'])}")
    for key in _SCHEMA_MAPS:
        children = schema.get(key)
        if children is None:
            continue
        if not isinstance(children, Mapping):
            problems.append(f"{path}.{key} must be an object of schemas, got {_short(children)}")
            continue
        for name, child in children.items():
            problems.extend(schema_problems(child, f"{path}.{key}.{name}"))
    for key in _SCHEMA_LISTS:
        children = schema.get(key)
        if children is None:
            continue
        if not isinstance(children, list):
            problems.append(f"{path}.{key} must be a list of schemas, got {_short(children)}")
            continue
        for i, child in enumerate(children):
            problems.extend(schema_problems(child, f"{path}.{key}[{i}]"))
    for key in _SCHEMA_ONE:
        child = schema.get(key)
        if child is None:
            continue
        if key == "items" and isinstance(child, list):  # draft-7 tuple form
            for i, item in enumerate(child):
                problems.extend(schema_problems(item, f"{path}.items[{i}]"))
        else:
            problems.extend(schema_problems(child, f"{path}.{key}"))
    return problems
