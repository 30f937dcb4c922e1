"""Turn exported SFT / GRPO rows into exactly the text the edge model reads and writes.

The edge model renders tools itself (SmolLM2's chat template ignores ``tools``) and answers with
one JSON document constrained by a grammar (see :mod:`langchain_netgpt.edge.tools`). Fine-tuning
must teach that format, so a training example is built with the edge's own renderer:

* **prompt turns**: :func:`~langchain_netgpt.edge.prompt.render_messages` of the conversation
  before the target turn, with the tool block of
  :func:`~langchain_netgpt.edge.tools.render_tools_prompt` appended to the system message;
* **completion**: the JSON document the edge's grammar accepts for the target answer
  (``{"tool_calls": [...]}`` with arguments in schema order, or ``{"answer": ...}``), checked
  against :func:`~langchain_netgpt.edge.tools.build_output_schema` so a row the grammar could
  never produce is skipped (and counted), not learned.

Input rows are TRL's conversational format, as the exporters write them: SFT rows hold
``messages`` (the last assistant turn is the cloud's answer; tool calls as
``{"type": "function", "function": {"name", "arguments"}}``) and ``tools``; GRPO rows hold
``prompt`` (messages), ``tools``, ``reference_calls`` (a JSON string ``[{"name", "arguments"}]``),
``reference_text`` and ``escalated``. Nothing here imports torch or datasets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)

from langchain_netgpt.edge.prompt import render_messages
from langchain_netgpt.edge.tools import (
    ToolChoice,
    ToolSpec,
    build_output_schema,
    render_tools_prompt,
)
from langchain_netgpt.routing._jsonschema import validate_json_schema

if TYPE_CHECKING:
    from langchain_netgpt.recorded.bfcl_tasks import BfclTask

__all__ = [
    "EdgeFormatOptions",
    "EdgeTrainingExample",
    "calls_from_reference",
    "format_grpo_row",
    "format_sft_row",
    "rows_from_bfcl",
    "tools_from_column",
]

_AUTO = ToolChoice("auto")


class RowFormatError(ValueError):
    """A row cannot be turned into an edge training example (the message says why)."""


@dataclass(frozen=True)
class EdgeFormatOptions:
    """How the edge model will be run, so training matches it.

    Attributes:
        parallel_tool_calls: Whether the edge may emit several calls per turn (its default is
            False: rows whose answer holds several calls are then skipped).
        allow_escalation: Whether the edge is told it may answer ``{"escalate": ...}``.
        max_answer_chars: The edge's bound on a plain answer.
        max_argument_chars: The edge's bound on free-form string arguments.
    """

    parallel_tool_calls: bool = False
    allow_escalation: bool = False
    max_answer_chars: int = 2000
    max_argument_chars: int = 256


@dataclass(frozen=True)
class EdgeTrainingExample:
    """One row as the edge sees it.

    Attributes:
        turns: The ``{"role", "content"}`` prompt turns (before the chat template).
        completion: The JSON document the edge should emit ("" for GRPO prompts).
        tools: The bound tools, as OpenAI tool dicts.
    """

    turns: list[dict[str, str]]
    completion: str
    tools: list[dict[str, Any]]


def _drop_nulls(value: Any) -> Any:
    # Arrow unifies the struct types of all rows, filling the keys a row lacks with nulls; a
    # JSON schema never needs a null-valued keyword, so dropping them restores each tool.
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def tools_from_column(value: Any) -> list[dict[str, Any]]:
    """Read a ``tools`` cell: a list of OpenAI tool dicts, or that list as a JSON string.

    Raises:
        RowFormatError: The cell is neither.
    """
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowFormatError(f"the tools column holds invalid JSON: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
        raise RowFormatError(
            f"the tools column must be a list of OpenAI tool dicts, got {type(value).__name__}"
        )
    return [ToolSpec.from_any(_drop_nulls(t)).to_openai() for t in value]


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise RowFormatError(f"tool-call arguments are not valid JSON: {raw!r}") from exc
    if not isinstance(raw, Mapping):
        raise RowFormatError(f"tool-call arguments must be an object, got {raw!r}")
    # Arguments stored as Arrow structs gain null-filled keys from other rows: null is absent.
    return {k: _drop_nulls(v) for k, v in raw.items() if v is not None}


def _tool_calls(raw_calls: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for index, raw in enumerate(raw_calls or []):
        function = raw.get("function") if isinstance(raw, Mapping) else None
        source = function if isinstance(function, Mapping) else raw
        if not isinstance(source, Mapping) or not isinstance(source.get("name"), str):
            raise RowFormatError(
                f"tool call {index} must be {{'type': 'function', 'function': {{'name', "
                f"'arguments'}}}}, got {raw!r}"
            )
        args = source.get("arguments", source.get("args", {}))
        call_id = raw.get("id") if isinstance(raw, Mapping) else None
        calls.append(
            ToolCall(
                name=source["name"],
                args=_arguments(args),
                id=str(call_id or f"call_{index}"),
                type="tool_call",
            )
        )
    return calls


def _to_messages(turns: Sequence[Any]) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for turn in turns:
        if not isinstance(turn, Mapping):
            raise RowFormatError(f"a message must be a dict with 'role', got {turn!r}")
        role, content = turn.get("role"), turn.get("content") or ""
        if role == "system":
            messages.append(SystemMessage(content=content))
        elif role == "user":
            messages.append(HumanMessage(content=content))
        elif role == "assistant":
            messages.append(
                AIMessage(content=content, tool_calls=_tool_calls(turn.get("tool_calls")))
            )
        elif role == "tool":
            messages.append(
                ToolMessage(
                    content=content,
                    tool_call_id=str(turn.get("tool_call_id") or ""),
                    name=turn.get("name"),
                )
            )
        else:
            raise RowFormatError(
                f"message role {role!r} is not supported; expected system, user, assistant or tool"
            )
    return messages


def _ordered_arguments(args: Mapping[str, Any], spec: ToolSpec | None) -> dict[str, Any]:
    # The grammar emits properties in the schema's order; train on that order.
    properties = (spec.parameters.get("properties") or {}) if spec else {}
    ordered = {k: args[k] for k in properties if k in args}
    ordered.update({k: v for k, v in args.items() if k not in ordered})
    return ordered


def _prompt_turns(
    messages: Sequence[BaseMessage], specs: Sequence[ToolSpec], options: EdgeFormatOptions
) -> list[dict[str, str]]:
    suffix = render_tools_prompt(specs, _AUTO, allow_escalation=options.allow_escalation)
    return render_messages(messages, system_suffix=suffix)


def _output_schema(specs: Sequence[ToolSpec], options: EdgeFormatOptions) -> dict[str, Any] | None:
    return build_output_schema(
        specs,
        _AUTO,
        parallel_tool_calls=options.parallel_tool_calls,
        allow_escalation=options.allow_escalation,
        max_answer_chars=options.max_answer_chars,
        max_argument_chars=options.max_argument_chars,
    )


def format_sft_row(
    row: Mapping[str, Any], options: EdgeFormatOptions | None = None
) -> EdgeTrainingExample:
    """Build the edge prompt turns and target completion of one SFT row.

    Args:
        row: ``{"messages": [...], "tools": [...]}``; the last message is the assistant answer.
        options: How the edge runs (default: its defaults).

    Returns:
        The example.

    Raises:
        RowFormatError: The row is malformed, or its answer is one the edge's grammar cannot
            produce (e.g. several calls while ``parallel_tool_calls`` is off, an unknown tool,
            arguments outside the tool's schema).
    """
    options = options or EdgeFormatOptions()
    raw_messages = row.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise RowFormatError("an SFT row needs a non-empty 'messages' list")
    tools = tools_from_column(row.get("tools"))
    specs = [ToolSpec.from_any(t) for t in tools]
    messages = _to_messages(raw_messages)
    target = messages[-1]
    if not isinstance(target, AIMessage):
        raise RowFormatError(f"the last message must be the assistant's, got {target.type!r}")
    by_name = {s.name: s for s in specs}
    if target.tool_calls:
        calls = [
            {"name": c["name"], "arguments": _ordered_arguments(c["args"], by_name.get(c["name"]))}
            for c in target.tool_calls
        ]
        document: dict[str, Any] = {"tool_calls": calls}
    else:
        document = {"answer": str(target.content) if isinstance(target.content, str) else ""}
    schema = _output_schema(specs, options)
    if schema is None:
        raise RowFormatError("the row binds no tools, so the edge would chat freely (not JSON)")
    problems = validate_json_schema(document, schema)
    if problems:
        raise RowFormatError(
            "the edge's grammar cannot produce this answer: " + "; ".join(problems[:3])
        )
    return EdgeTrainingExample(
        turns=_prompt_turns(messages[:-1], specs, options),
        completion=json.dumps(document, ensure_ascii=False),
        tools=tools,
    )


def format_grpo_row(
    row: Mapping[str, Any], options: EdgeFormatOptions | None = None
) -> EdgeTrainingExample:
    """Build the edge prompt turns of one GRPO row (the completion is left to generation).

    Raises:
        RowFormatError: The row has no ``prompt`` messages or its tools are malformed.
    """
    options = options or EdgeFormatOptions()
    prompt = row.get("prompt")
    if not isinstance(prompt, list) or not prompt:
        raise RowFormatError("a GRPO row needs a non-empty conversational 'prompt' list")
    tools = tools_from_column(row.get("tools"))
    specs = [ToolSpec.from_any(t) for t in tools]
    return EdgeTrainingExample(
        turns=_prompt_turns(_to_messages(prompt), specs, options), completion="", tools=tools
    )


def calls_from_reference(value: Any) -> list[dict[str, Any]]:
    """Read a ``reference_calls`` cell (JSON string or list) as ``[{"name", "arguments"}]``.

    Raises:
        RowFormatError: The cell is not such a list.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise RowFormatError(f"reference_calls holds invalid JSON: {exc}") from exc
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowFormatError(f"reference_calls must be a list, got {type(value).__name__}")
    return [{"name": c["name"], "arguments": dict(c["args"])} for c in _tool_calls(value)]


def _first_allowed(values: Any) -> tuple[bool, Any]:
    # BFCL lists the accepted values of a parameter; "" means "may be omitted".
    options = values if isinstance(values, list) else [values]
    for value in options:
        if value != "":
            return True, value
    return False, None


def rows_from_bfcl(tasks: Iterable[BfclTask]) -> list[dict[str, Any]]:
    """Exporter-format rows from BFCL tasks, with the first accepted answer as the cloud's.

    A stand-in for traces when none are recorded yet: each row carries both the SFT columns
    (``messages``, ``tools``) and the GRPO ones (``prompt``, ``reference_calls``,
    ``reference_text``, ``escalated``). Tasks without ground truth are skipped.

    Args:
        tasks: Tasks from :func:`langchain_netgpt.recorded.load_bfcl`.

    Returns:
        The rows, in task order.
    """
    rows: list[dict[str, Any]] = []
    for task in tasks:
        if not task.ground_truth:
            continue
        originals = {task.original_name(t["function"]["name"]): t for t in task.tools}
        calls: list[dict[str, Any]] = []
        for answer in task.ground_truth:
            for original, params in answer.items():
                tool = originals[original]["function"]
                args = {}
                for key, values in params.items():
                    present, value = _first_allowed(values)
                    if present:
                        args[key] = value
                calls.append({"name": tool["name"], "arguments": args})
        prompt = [{"role": m["role"], "content": m["content"]} for m in task.messages]
        assistant = {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in calls
            ],
        }
        rows.append(
            {
                "messages": [*prompt, assistant],
                "prompt": prompt,
                "tools": task.tools,
                "reference_calls": json.dumps(calls, ensure_ascii=False),
                "reference_text": "",
                "escalated": False,
            }
        )
    return rows
