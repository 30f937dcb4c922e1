"""Grading tool calls against BFCL ground truth with BFCL's AST-checker semantics.

The rules follow ``bfcl_eval``'s ``ast_checker`` for Python categories:

* the number of calls must equal the number of ground-truth calls (irrelevance: no call at all;
  relevance: at least one), and each call must name the expected function;
* every parameter the function doc marks ``required`` must be given, every given parameter must
  exist in the doc and in the ground truth, and a ground-truth parameter whose allowed values do
  not include ``""`` must be given;
* the value must have the doc's type, with BFCL's leniency: an ``int`` is accepted where a
  ``float`` is expected, a tuple where an array is, and a value of the ground truth's own type
  where the doc says otherwise (BFCL's "variable" case);
* the value must equal one allowed value: strings compare case-insensitively after removing
  spaces and ``,./-_*^`` (BFCL's ``standardize_string``), lists element by element, dicts key by
  key against their own lists of allowed values (recursively);
* categories whose name contains ``parallel`` accept the calls in any order (a perfect matching
  between calls and ground truth, rather than BFCL's greedy first-fit, which can miss one).

Java and JavaScript categories pass arguments as source-code strings; BFCL parses them with its
own converters, which this module does not replicate: it compares the standardised strings with
the standardised (JSON-encoded where not a string) allowed values, an approximation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_netgpt.routing._jsonschema import validate_json_schema

if TYPE_CHECKING:
    from langchain_netgpt.recorded.bfcl_tasks import BfclTask

__all__ = ["CallCheck", "check_calls"]

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
}
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")
_MAX_REPR = 80


@dataclass(frozen=True)
class CallCheck:
    """The verdict on one model turn's tool calls for a BFCL task.

    Attributes:
        schema_valid: Every call names a tool bound for the task and its arguments validate
            against that tool's JSON Schema (required present, no unknown keys, right types,
            enums respected).
        correct: The calls are right under BFCL's AST-checker semantics.
        reason: Why they are not correct (``""`` when ``correct``).
        schema_problems: The schema violations, one per line (empty when ``schema_valid``).

    Example:
        >>> check = CallCheck(schema_valid=True, correct=False, reason="wrong function")
        >>> check.correct, check.reason
        (False, 'wrong function')
    """

    schema_valid: bool
    correct: bool
    reason: str
    schema_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Call:
    name: str  # as the model wrote it
    original: str | None  # the BFCL function name, None when the task has no such tool
    args: Mapping[str, Any]


def check_calls(task: BfclTask, calls: Sequence[Mapping[str, Any]]) -> CallCheck:
    """Grade a model's tool calls for ``task``: schema validity and BFCL correctness.

    Args:
        task: The BFCL task that was asked.
        calls: The calls the model made, as LangChain's ``AIMessage.tool_calls`` give them:
            ``{"name": <sanitised or BFCL name>, "args": {...}}`` (an OpenAI-style
            ``"arguments"`` JSON string is accepted in place of ``"args"``). Empty when the
            model answered in text.

    Returns:
        The verdict; see :class:`CallCheck`.

    Raises:
        ValueError: A call has no string ``name`` or its arguments are not a JSON object.
    """
    parsed = [_parse_call(task, call, index) for index, call in enumerate(calls)]
    parameters = {
        function["name"]: tool["function"]["parameters"]
        for function, tool in zip(task.functions, task.tools, strict=True)
    }
    schema_problems: list[str] = []
    for index, call in enumerate(parsed):
        label = f"call {index} ({call.name})"
        if call.original is None:
            schema_problems.append(f"{label}: no such tool (bound: {sorted(parameters)})")
            continue
        schema_problems.extend(
            f"{label}: {p}" for p in validate_json_schema(call.args, parameters[call.original])
        )
    reason = _correctness_reason(task, parsed)
    return CallCheck(
        schema_valid=not schema_problems,
        correct=not reason,
        reason=reason,
        schema_problems=tuple(schema_problems),
    )


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lowercase, ``'`` -> ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _parse_call(task: BfclTask, call: Mapping[str, Any], index: int) -> _Call:
    if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
        raise ValueError(f"call {index} must be a mapping with a string 'name', got {call!r}")
    args: Any = call.get("args")
    if args is None:
        args = call.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"call {index}: arguments are not valid JSON: {exc.msg}") from exc
    if not isinstance(args, Mapping):
        raise ValueError(f"call {index}: arguments must be a JSON object, got {_short(args)}")
    try:
        original: str | None = task.original_name(call["name"])
    except KeyError:
        original = None
    return _Call(name=call["name"], original=original, args=args)


def _correctness_reason(task: BfclTask, calls: list[_Call]) -> str:
    names = [call.name for call in calls]
    if not task.expects_call:
        return f"expected no function call, got {len(calls)}: {names}" if calls else ""
    if task.ground_truth is None:  # relevance: any call counts
        return "" if calls else "expected at least one function call, got none"
    unknown = [call.name for call in calls if call.original is None]
    if unknown:
        return f"called function(s) the task does not offer: {unknown}"
    expected = task.ground_truth
    if len(calls) != len(expected):
        return f"wrong number of calls: expected {len(expected)}, got {len(calls)} ({names})"
    docs = {function["name"]: function for function in task.functions}
    if "parallel" in task.category:
        return _match_unordered(docs, task.language, expected, calls)
    for index, (truth, call) in enumerate(zip(expected, calls, strict=True)):
        reason = _check_call(docs, task.language, truth, call)
        if reason:
            return reason if len(expected) == 1 else f"call {index}: {reason}"
    return ""


def _match_unordered(
    docs: Mapping[str, Mapping[str, Any]],
    language: str,
    expected: list[dict[str, Any]],
    calls: list[_Call],
) -> str:
    size = len(expected)
    reasons = [[_check_call(docs, language, truth, call) for call in calls] for truth in expected]
    owner = [-1] * size  # owner[call index] = ground-truth index matched to it

    def assign(truth_index: int, visited: set[int]) -> bool:  # Kuhn's augmenting path
        for call_index in range(size):
            if reasons[truth_index][call_index] or call_index in visited:
                continue
            visited.add(call_index)
            if owner[call_index] < 0 or assign(owner[call_index], visited):
                owner[call_index] = truth_index
                return True
        return False

    for truth_index, truth in enumerate(expected):
        if assign(truth_index, set()):
            continue
        name = next(iter(truth))
        details = [
            r for c, r in zip(calls, reasons[truth_index], strict=True) if c.original == name
        ]
        detail = next((r for r in details if r), "")
        if not details:
            detail = f"no call to {name!r}"
        elif not detail:
            detail = "every call that fits is needed for another expected call"
        return f"no call matches expected call {truth_index} ({name}): {detail}"
    return ""


def _check_call(
    docs: Mapping[str, Mapping[str, Any]],
    language: str,
    truth: Mapping[str, Any],
    call: _Call,
) -> str:
    ((name, allowed_params),) = truth.items()
    if call.original != name:
        return f"wrong function: expected {name!r}, got {call.original!r}"
    parameters = docs[name].get("parameters")
    parameters = parameters if isinstance(parameters, Mapping) else {}
    properties = parameters.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = parameters.get("required")
    for param in required if isinstance(required, list) else []:
        if param not in call.args:
            return f"{name}: missing required parameter {param!r}"
    for param, value in call.args.items():
        if param not in properties or param not in allowed_params:
            return f"{name}: unexpected parameter {param!r}"
        schema = properties[param] if isinstance(properties[param], Mapping) else {}
        allowed = allowed_params[param]
        if language == "python":
            problem = _check_value(param, value, schema, allowed)
        else:
            problem = _check_source_value(param, value, allowed)
        if problem:
            return f"{name}: {problem}"
    for param, allowed in allowed_params.items():
        if param not in call.args and "" not in allowed:
            return f"{name}: missing parameter {param!r} (the ground truth requires a value)"
    return ""


def _check_value(param: str, value: Any, schema: Mapping[str, Any], allowed: list[Any]) -> str:
    declared = schema.get("type")
    expected = _PY_TYPES.get(declared) if isinstance(declared, str) else None
    if expected is float and type(value) is int:
        value = float(value)
    if expected is list and type(value) is tuple:
        value = list(value)
    if expected is not None and type(value) is not expected:
        truth_type = next((type(a) for a in allowed if a != ""), None)
        if truth_type is None or type(value) is not truth_type:  # not BFCL's "variable" case
            return (
                f"parameter {param!r} must be {declared}, "
                f"got {type(value).__name__} {_short(value)}"
            )
    elif expected is list:
        problem = _check_items(param, value, schema.get("items"), allowed)
        if problem:
            return problem
    if not any(_matches(value, option) for option in allowed):
        return f"parameter {param!r}: {_short(value)} is not among the accepted {_short(allowed)}"
    return ""


def _check_items(param: str, value: list[Any], items: Any, allowed: list[Any]) -> str:
    declared = items.get("type") if isinstance(items, Mapping) else None
    expected = _PY_TYPES.get(declared) if isinstance(declared, str) else None
    if expected is None:
        return ""
    truth_types = {type(x) for a in allowed if isinstance(a, list) for x in a}
    for index, item in enumerate(value):
        kind = type(item)
        if kind is expected or kind in truth_types or (expected is float and kind is int):
            continue
        if expected is list and kind is tuple:
            continue
        return (
            f"parameter {param!r}: item {index} must be {declared}, "
            f"got {kind.__name__} {_short(item)}"
        )
    return ""


def _check_source_value(param: str, value: Any, allowed: list[Any]) -> str:
    if isinstance(value, str):
        given = standardize_string(value)
        accepted = {
            standardize_string(a if isinstance(a, str) else json.dumps(a))
            for a in allowed
            if a != ""
        }
        if given in accepted:
            return ""
    elif any(_matches(value, option) for option in allowed):
        return ""
    return f"parameter {param!r}: {_short(value)} is not among the accepted {_short(allowed)}"


def _matches(value: Any, option: Any) -> bool:
    """Whether a given value equals one allowed value, with BFCL's leniency."""
    if isinstance(option, str):
        return isinstance(value, str) and standardize_string(value) == standardize_string(option)
    if isinstance(option, bool) or isinstance(value, bool):
        return type(option) is type(value) and option == value
    if isinstance(option, int | float):
        return isinstance(value, int | float) and value == option
    if option is None:
        return value is None
    if isinstance(option, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(option)
            and all(_matches(v, o) for v, o in zip(value, option, strict=True))
        )
    if isinstance(option, Mapping):
        return isinstance(value, Mapping) and _dict_matches(value, option)
    return bool(value == option)


def _dict_matches(value: Mapping[str, Any], option: Mapping[str, Any]) -> bool:
    """A dict value against a ground-truth dict whose entries are lists of allowed values."""
    for key, item in value.items():
        if key not in option:
            return False
        choices = option[key] if isinstance(option[key], list) else [option[key]]
        if not any(_matches(item, choice) for choice in choices):
            return False
    for key, choices in option.items():
        if key not in value and not (isinstance(choices, list) and "" in choices):
            return False
    return True
