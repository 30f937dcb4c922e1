"""LangChain messages and tools as TRL conversational rows (OpenAI-style dicts, scrubbed).

Every message becomes a dict with the same five keys (``role``, ``content``, ``name``,
``tool_call_id``, ``tool_calls``; absent values are ``None``) so that Arrow gives one struct type
to all rows. Tool-call ``arguments`` and the ``tools`` column are JSON strings: tool schemas and
arguments differ from row to row, which Arrow structs cannot unify, and TRL's trainers decode a
JSON-string ``tools`` column themselves (``json.loads`` before ``apply_chat_template``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, ToolMessage

from langchain_netgpt.tracing.scrub import SecretScrubber

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "MESSAGE_KEYS",
    "chat_message",
    "chat_messages",
    "message_arrow_type",
    "reference_calls",
    "tools_json",
]

MESSAGE_KEYS = ("role", "content", "name", "tool_call_id", "tool_calls")
"""Keys of every exported message dict, in order."""

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


class UnsupportedMessageError(ValueError):
    """A message type with no role in the chat format (e.g. a bare ``FunctionMessage``)."""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return message.role
    role = _ROLES.get(message.type)
    if role is None:
        raise UnsupportedMessageError(
            f"cannot export a {type(message).__name__} (type {message.type!r}); expected a "
            "human, ai, system, tool or chat message"
        )
    return role


def _scrubbed_id(call_id: str | None, scrubber: SecretScrubber) -> str | None:
    return scrubber.scrub_text(call_id) if call_id else call_id


def _tool_calls(
    message: AIMessage, scrubber: SecretScrubber, *, include_invalid: bool
) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = [
        {
            "id": _scrubbed_id(call.get("id"), scrubber),
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": _json(scrubber.scrub(call["args"])),
            },
        }
        for call in message.tool_calls
    ]
    if include_invalid:
        # Calls the model emitted but that did not parse: their raw text is the rejected answer.
        calls.extend(
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call.get("name") or "",
                    "arguments": scrubber.scrub_text(call.get("args") or ""),
                },
            }
            for call in message.invalid_tool_calls
        )
    return calls


def chat_message(
    message: BaseMessage, scrubber: SecretScrubber, *, include_invalid_calls: bool = False
) -> dict[str, Any]:
    """One LangChain message as a scrubbed chat dict with the keys of :data:`MESSAGE_KEYS`.

    Args:
        message: The message.
        scrubber: Removes credentials from the text and the tool-call arguments.
        include_invalid_calls: Also export an AI message's unparsable tool calls (raw arguments).

    Raises:
        UnsupportedMessageError: The message type has no chat role.
    """
    calls = None
    if isinstance(message, AIMessage):
        calls = _tool_calls(message, scrubber, include_invalid=include_invalid_calls) or None
    name = message.name if isinstance(message.name, str) else None
    return {
        "role": _role(message),
        "content": scrubber.scrub_text(message.text),
        "name": scrubber.scrub_text(name) if name else None,
        "tool_call_id": (
            scrubber.scrub_text(message.tool_call_id) if isinstance(message, ToolMessage) else None
        ),
        "tool_calls": calls,
    }


def chat_messages(
    messages: Iterable[BaseMessage], scrubber: SecretScrubber
) -> list[dict[str, Any]]:
    """:func:`chat_message` over a conversation."""
    return [chat_message(message, scrubber) for message in messages]


def tools_json(tools: Sequence[Mapping[str, Any]], scrubber: SecretScrubber) -> str:
    """The bound tools (OpenAI ``{"type": "function", "function": ...}`` dicts) as a JSON string."""
    return _json(scrubber.scrub(list(tools)))


def reference_calls(message: AIMessage, scrubber: SecretScrubber) -> str:
    """A message's tool calls as the JSON string ``[{"name": ..., "arguments": {...}}]``."""
    return _json(
        [
            {"name": call["name"], "arguments": scrubber.scrub(call["args"])}
            for call in message.tool_calls
        ]
    )


def message_arrow_type() -> pa.DataType:
    """The Arrow struct type of one exported message (requires pyarrow)."""
    import pyarrow as pa

    function = pa.struct([("name", pa.string()), ("arguments", pa.string())])
    call = pa.struct([("id", pa.string()), ("type", pa.string()), ("function", function)])
    return pa.struct(
        [
            ("role", pa.string()),
            ("content", pa.string()),
            ("name", pa.string()),
            ("tool_call_id", pa.string()),
            ("tool_calls", pa.list_(call)),
        ]
    )
