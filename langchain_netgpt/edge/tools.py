"""Tool rendering, the output JSON schema the edge model is constrained to, and parsing its output.

The edge model always answers with one JSON document when tools (or escalation) are in play::

    {"tool_calls": [{"name": "<tool>", "arguments": {...}}, ...]}   # call tools
    {"answer": "<text>"}                                              # plain answer
    {"escalate": true, "reason": "<text>"}                            # hand over (opt-in)

:func:`build_output_schema` makes the JSON schema of that document for a tool choice; xgrammar
compiles it into a grammar, so a constrained model can only emit calls whose ``arguments`` satisfy
the bound tool's parameter schema. :func:`parse_edge_output` turns the text back into tool calls.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import InvalidToolCall, ToolCall
from langchain_core.utils.function_calling import convert_to_openai_tool

ToolChoiceMode = Literal["auto", "required", "none", "named"]

_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_REQUIRED_ALIASES = ("required", "any")
_SCHEMA_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_CHILD_MAPS = ("properties", "$defs", "definitions", "patternProperties")


@dataclass(frozen=True)
class ToolSpec:
    """A bound tool as the edge model sees it: a name, a description and a parameter schema."""

    name: str
    description: str
    parameters: dict[str, Any]

    @classmethod
    def from_any(cls, tool: Any) -> ToolSpec:
        """Build from anything ``convert_to_openai_tool`` accepts (BaseTool, function, dict...)."""
        function = convert_to_openai_tool(tool)["function"]
        parameters = function.get("parameters") or copy.deepcopy(_OBJECT_SCHEMA)
        return cls(
            name=str(function["name"]),
            description=str(function.get("description") or ""),
            parameters=dict(parameters),
        )

    def to_openai(self) -> dict[str, Any]:
        """Return the OpenAI tool dict (``{"type": "function", "function": {...}}``)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class ToolChoice:
    """A normalised ``tool_choice``: ``auto``, ``required``, ``none`` or ``named`` (+ ``name``)."""

    mode: ToolChoiceMode
    name: str | None = None


def normalize_tool_choice(tool_choice: Any, tool_names: Sequence[str]) -> ToolChoice:
    """Normalise every ``tool_choice`` spelling LangChain users write.

    Args:
        tool_choice: ``None``/``"auto"``; ``"required"``/``"any"``/``True``; ``"none"``/``False``;
            a tool name; or ``{"type": "function", "function": {"name": ...}}`` (or
            ``{"name": ...}``).
        tool_names: Names of the bound tools.

    Returns:
        The normalised choice.

    Raises:
        ValueError: A named tool is not bound (the message lists the bound names), or a tool is
            required but none is bound.
        TypeError: ``tool_choice`` has an unsupported type.
    """
    if tool_choice is None or tool_choice == "auto":
        return ToolChoice("auto")
    if tool_choice is True or tool_choice in _REQUIRED_ALIASES:
        if not tool_names:
            raise ValueError(f"tool_choice={tool_choice!r} requires at least one bound tool")
        return ToolChoice("required")
    if tool_choice is False or tool_choice == "none":
        return ToolChoice("none")
    name: Any
    if isinstance(tool_choice, str):
        name = tool_choice
    elif isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool_choice.get("name")
        if not isinstance(name, str):
            raise ValueError(
                f"tool_choice={tool_choice!r} names no tool; expected "
                "{'type': 'function', 'function': {'name': <tool name>}}"
            )
    else:
        raise TypeError(
            f"tool_choice={tool_choice!r} has unsupported type {type(tool_choice).__name__}; "
            "expected None, bool, 'auto', 'required', 'any', 'none', a tool name or a dict"
        )
    if name not in tool_names:
        raise ValueError(
            f"tool_choice names tool {name!r}, which is not bound; bound tools: "
            f"{', '.join(repr(n) for n in tool_names) or '(none)'}"
        )
    return ToolChoice("named", name)


def bound_strings(schema: Any, max_chars: int) -> Any:
    """Return a copy of ``schema`` whose free-form strings carry ``maxLength <= max_chars``.

    Strings that already carry an ``enum``, ``const``, ``pattern``, ``format`` or ``maxLength``
    keep their own rule. Any value valid under the result is valid under ``schema``; the bound
    only guarantees that constrained generation ends. Property *names* (which may themselves be
    ``"type"``) are never mistaken for schema keywords.
    """
    if isinstance(schema, list):
        return [bound_strings(item, max_chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_CHILD_MAPS and isinstance(value, dict):
            out[key] = {name: bound_strings(sub, max_chars) for name, sub in value.items()}
        elif key in _SCHEMA_CHILD_LISTS and isinstance(value, list):
            out[key] = [bound_strings(sub, max_chars) for sub in value]
        elif key in ("items", "additionalProperties", "not", "if", "then", "else") and isinstance(
            value, dict | list
        ):
            out[key] = bound_strings(value, max_chars)
        else:
            out[key] = copy.deepcopy(value)
    types = out.get("type")
    is_string = types == "string" or (isinstance(types, list) and "string" in types)
    free_form = not any(k in out for k in ("enum", "const", "pattern", "format", "maxLength"))
    if is_string and free_form:
        out["maxLength"] = max_chars
    return out


def _answer_branch(max_answer_chars: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": max_answer_chars}},
        "required": ["answer"],
        "additionalProperties": False,
    }


def _escalate_branch(max_reason_chars: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "escalate": {"const": True},
            "reason": {"type": "string", "maxLength": max_reason_chars},
        },
        "required": ["escalate", "reason"],
        "additionalProperties": False,
    }


def _call_schema(tool: ToolSpec, max_argument_chars: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": {"const": tool.name},
            "arguments": bound_strings(tool.parameters, max_argument_chars),
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def build_output_schema(
    tools: Sequence[ToolSpec],
    choice: ToolChoice,
    *,
    parallel_tool_calls: bool = True,
    allow_escalation: bool = False,
    max_answer_chars: int = 2000,
    max_argument_chars: int = 256,
    max_reason_chars: int = 200,
) -> dict[str, Any] | None:
    """JSON schema of the document the edge model must emit, or None for free-text chat.

    Args:
        tools: The bound tools.
        choice: The normalised tool choice.
        parallel_tool_calls: When False, at most one call per answer (``maxItems: 1``).
        allow_escalation: Add the ``{"escalate": true, "reason": ...}`` branch.
        max_answer_chars: Bound on the plain-answer string.
        max_argument_chars: Bound on free-form string arguments.
        max_reason_chars: Bound on the escalation reason.

    Returns:
        The schema (``anyOf`` over the allowed branches), or None when neither tools nor
        escalation constrain the answer.
    """
    if choice.mode == "named":
        callable_tools = [t for t in tools if t.name == choice.name]
    elif choice.mode == "none":
        callable_tools = []
    else:
        callable_tools = list(tools)
    branches: list[dict[str, Any]] = []
    if callable_tools:
        calls: dict[str, Any] = {
            "type": "array",
            "items": {"anyOf": [_call_schema(t, max_argument_chars) for t in callable_tools]},
            "minItems": 1,
        }
        if not parallel_tool_calls:
            calls["maxItems"] = 1
        branches.append(
            {
                "type": "object",
                "properties": {"tool_calls": calls},
                "required": ["tool_calls"],
                "additionalProperties": False,
            }
        )
    if choice.mode in ("auto", "none") and (callable_tools or allow_escalation):
        branches.append(_answer_branch(max_answer_chars))
    if allow_escalation:
        branches.append(_escalate_branch(max_reason_chars))
    if not branches:
        return None
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def render_tools_prompt(
    tools: Sequence[ToolSpec], choice: ToolChoice, *, allow_escalation: bool = False
) -> str:
    """Render the system-prompt block that lists the tools and the reply format.

    Args:
        tools: The bound tools (each listed with name, description and JSON-schema parameters).
        choice: The normalised tool choice; it decides which reply forms are offered.
        allow_escalation: Also describe the escalation reply.

    Returns:
        Text to append to the system message ("" when there is nothing to say).
    """
    lines: list[str] = []
    offered = [t for t in tools if choice.mode != "named" or t.name == choice.name]
    if choice.mode != "none" and offered:
        lines.append("You can call these tools:")
        for tool in offered:
            spec: dict[str, Any] = {"name": tool.name, "description": tool.description}
            spec["parameters"] = tool.parameters
            lines.append(json.dumps(spec, ensure_ascii=False))
        lines.append("")
        lines.append("Reply with exactly one JSON object.")
        example = '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}'
        lines.append(f"To call a tool: {example}")
        if choice.mode == "named":
            lines.append(f"You must call the tool {choice.name!r}.")
        elif choice.mode == "required":
            lines.append("You must call one of the tools.")
        else:
            lines.append('To answer without a tool: {"answer": "<your reply>"}')
    elif allow_escalation:
        lines.append("Reply with exactly one JSON object.")
        lines.append('To answer: {"answer": "<your reply>"}')
    if allow_escalation:
        lines.append(
            'If the request is beyond you, hand it over: {"escalate": true, "reason": "<why>"}'
        )
    return "\n".join(lines)


def new_tool_call_id() -> str:
    """Return a fresh tool-call id (``call_<uuid4 hex>``)."""
    return f"call_{uuid.uuid4().hex}"


@dataclass
class ParsedOutput:
    """What the edge model's reply means.

    Attributes:
        content: Plain-answer text ("" for tool calls and escalation).
        tool_calls: Parsed tool calls with fresh ids.
        invalid_tool_calls: Calls that could not be parsed (e.g. cut off by ``max_new_tokens``).
        escalate_reason: Set when the model asked to hand the step over.
    """

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)
    escalate_reason: str | None = None


def _first_json_object(text: str) -> Any:
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        return value
    return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _partial_answer(text: str) -> str | None:
    # A reply cut off inside {"answer": "... still carries a usable (truncated) answer.
    head = text.lstrip()
    for prefix in ('{"answer": "', '{"answer":"'):
        if head.startswith(prefix):
            body = head[len(prefix) :]
            for end in range(len(body), -1, -1):
                try:
                    return str(json.loads('"' + body[:end] + '"'))
                except json.JSONDecodeError:
                    continue
    return None


def _complete_calls(text: str) -> list[Any] | None:
    # A tool-call document cut off by the token budget: keep the calls that were completed.
    head = text.lstrip()
    match = re.match(r'\{\s*"tool_calls"\s*:\s*\[\s*', head)
    if match is None:
        return None
    decoder = json.JSONDecoder()
    calls: list[Any] = []
    pos = match.end()
    while True:
        try:
            call, pos = decoder.raw_decode(head, pos)
        except json.JSONDecodeError:
            return calls
        calls.append(call)
        separator = re.match(r"\s*,\s*", head[pos:])
        if separator is None:
            return calls
        pos += separator.end()


def _to_tool_calls(raw_calls: Any, tool_names: Sequence[str]) -> ParsedOutput:
    parsed = ParsedOutput()
    for raw in raw_calls if isinstance(raw_calls, list) else [raw_calls]:
        call_id = new_tool_call_id()
        name = raw.get("name") if isinstance(raw, dict) else None
        args = raw.get("arguments", raw.get("args", {})) if isinstance(raw, dict) else None
        if not isinstance(name, str) or name not in tool_names or not isinstance(args, dict):
            error = (
                f"unknown tool {name!r}; bound tools: {', '.join(tool_names)}"
                if isinstance(name, str) and name not in tool_names
                else "a tool call needs a string 'name' and an object 'arguments'"
            )
            parsed.invalid_tool_calls.append(
                InvalidToolCall(
                    type="invalid_tool_call",
                    name=name if isinstance(name, str) else None,
                    args=json.dumps(args) if args is not None else None,
                    id=call_id,
                    error=error,
                )
            )
            continue
        parsed.tool_calls.append(ToolCall(name=name, args=args, id=call_id, type="tool_call"))
    return parsed


def parse_edge_output(text: str, tool_names: Sequence[str]) -> ParsedOutput:
    """Interpret the edge model's reply (constrained or free): tool calls, answer or escalation.

    Args:
        text: The generated text.
        tool_names: Names of the bound tools; calls to other names become invalid tool calls.

    Returns:
        The parsed output. Text that holds no recognisable JSON document is a plain answer
        (what an unconstrained small model often produces). A tool-call document cut off by the
        token budget keeps the calls it completed; with none completed it becomes one invalid
        tool call carrying the raw text.
    """
    salvaged = None if _is_json(text) else _complete_calls(text)
    if salvaged:
        return _to_tool_calls(salvaged, tool_names)
    value = _first_json_object(text)
    if isinstance(value, dict):
        if "tool_calls" in value:
            return _to_tool_calls(value["tool_calls"], tool_names)
        if value.get("escalate") is True:
            return ParsedOutput(escalate_reason=str(value.get("reason", "")))
        if isinstance(value.get("answer"), str):
            return ParsedOutput(content=value["answer"])
        if "name" in value and ("arguments" in value or "args" in value):
            return _to_tool_calls(value, tool_names)
    partial = _partial_answer(text)
    if partial is not None:
        return ParsedOutput(content=partial)
    if '"tool_calls"' in text:
        return ParsedOutput(
            invalid_tool_calls=[
                InvalidToolCall(
                    type="invalid_tool_call",
                    name=None,
                    args=text,
                    id=new_tool_call_id(),
                    error="the tool-call JSON is incomplete (max_new_tokens reached?)",
                )
            ]
        )
    return ParsedOutput(content=text.strip())
