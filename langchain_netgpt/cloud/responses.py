"""OpenAI chat-completions responses from LangChain messages: whole answers and stream chunks.

:func:`completion_from_message` turns an ``AIMessage`` into a ``chat.completion`` object;
:class:`ChunkEncoder` turns a stream of ``AIMessageChunk`` into ``chat.completion.chunk`` objects
with tool-call deltas in OpenAI's format.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata, add_usage

__all__ = ["ChunkEncoder", "completion_from_message", "new_call_id", "usage_dict"]


def _content_text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "".join(parts)


def new_call_id() -> str:
    """A fresh OpenAI-style tool call id."""
    return f"call_{uuid.uuid4().hex[:24]}"


def usage_dict(usage: UsageMetadata | None) -> dict[str, int] | None:
    """OpenAI ``usage`` from LangChain ``usage_metadata`` (``None`` if the model gave none)."""
    if usage is None:
        return None
    return {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
    }


def completion_from_message(
    message: AIMessage,
    *,
    completion_id: str,
    created: int,
    model_name: str,
    parallel_tool_calls: bool = True,
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object from the model's answer.

    Tool calls keep the model's ids (fresh ones are made when missing); invalid tool calls are
    returned with their raw argument strings, as OpenAI does. With ``parallel_tool_calls=False``
    only the first call is kept.
    """
    calls: list[dict[str, Any]] = [
        {
            "id": call.get("id") or new_call_id(),
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
        }
        for call in message.tool_calls
    ]
    calls += [
        {
            "id": bad.get("id") or new_call_id(),
            "type": "function",
            "function": {"name": bad.get("name") or "", "arguments": bad.get("args") or ""},
        }
        for bad in message.invalid_tool_calls
    ]
    if not parallel_tool_calls:
        calls = calls[:1]
    text = _content_text(message.content)
    reply: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        reply["tool_calls"] = calls
    if calls:
        finish = "tool_calls"
    elif message.response_metadata.get("finish_reason") == "length":
        finish = "length"
    else:
        finish = "stop"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model_name,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}],
        "usage": usage_dict(message.usage_metadata),
    }


class ChunkEncoder:
    """Turns a stream of ``AIMessageChunk`` into OpenAI ``chat.completion.chunk`` objects.

    Tool-call chunks become ``delta.tool_calls`` entries with a stable ``index`` per call; the first
    delta of a call carries its ``id``, ``type`` and ``name``, the next ones argument fragments.
    Chunks without an ``index`` start a new call when they carry an id or a name and continue the
    current call otherwise.

    Args:
        completion_id: The ``id`` shared by all chunks.
        created: Unix time of the request.
        model_name: The served model's name.
        include_usage: Add ``"usage": null`` to each chunk and a final usage-only chunk.
        parallel_tool_calls: When ``False``, drop every call after the first.
    """

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model_name: str,
        include_usage: bool = False,
        parallel_tool_calls: bool = True,
    ) -> None:
        self._id = completion_id
        self._created = created
        self._model = model_name
        self._include_usage = include_usage
        self._parallel = parallel_tool_calls
        self._by_index: dict[int, int] = {}
        self._started: set[int] = set()
        self._current: int | None = None
        self._calls = 0
        self._usage: UsageMetadata | None = None
        self._truncated = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def start(self) -> list[dict[str, Any]]:
        """The opening chunk (the assistant role, empty content)."""
        return [self._chunk({"role": "assistant", "content": ""})]

    def _call_index(self, index: int | None, starts_call: bool) -> int:
        if index is not None:
            if index not in self._by_index:
                self._by_index[index] = self._calls
                self._calls += 1
            position = self._by_index[index]
        elif starts_call or self._current is None:
            position = self._calls
            self._calls += 1
        else:
            position = self._current
        self._current = position
        return position

    def encode(self, piece: AIMessageChunk) -> list[dict[str, Any]]:
        """The chunks for one piece of the model's stream (possibly none)."""
        out = []
        if text := _content_text(piece.content):
            out.append(self._chunk({"content": text}))
        deltas = []
        for call in piece.tool_call_chunks:
            position = self._call_index(call.get("index"), bool(call.get("id") or call.get("name")))
            if not self._parallel and position > 0:
                continue
            args = call.get("args") or ""
            if position in self._started:
                function: dict[str, Any] = {"arguments": args}
                deltas.append({"index": position, "function": function})
            else:
                self._started.add(position)
                deltas.append(
                    {
                        "index": position,
                        "id": call.get("id") or new_call_id(),
                        "type": "function",
                        "function": {"name": call.get("name") or "", "arguments": args},
                    }
                )
        if deltas:
            out.append(self._chunk({"tool_calls": deltas}))
        if piece.usage_metadata is not None:
            self._usage = add_usage(self._usage, piece.usage_metadata)
        if piece.response_metadata.get("finish_reason") == "length":
            self._truncated = True
        return out

    def finish(self) -> list[dict[str, Any]]:
        """The closing chunk with ``finish_reason``, then the usage chunk when asked for."""
        if self._started:
            reason = "tool_calls"
        else:
            reason = "length" if self._truncated else "stop"
        out = [self._chunk({}, reason)]
        if self._include_usage and self._usage is not None:
            out.append(
                {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "system_fingerprint": None,
                    "choices": [],
                    "usage": usage_dict(self._usage),
                }
            )
        return out
