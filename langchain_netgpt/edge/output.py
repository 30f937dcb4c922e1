"""Turning a raw generation into LangChain messages and stream chunks (shared by every runtime)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk

from langchain_netgpt.edge.tools import ParsedOutput


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the first stop sequence; say whether one was found."""
    positions = [text.find(s) for s in stops if s and s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopGuard:
    """Holds back streamed text that might be the start of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self.pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add a decoded piece; return the text that is safe to emit now."""
        self.pending += piece
        if not self._stops:
            out, self.pending = self.pending, ""
            return out
        cut, self.stopped = cut_at_stop(self.pending, self._stops)
        if self.stopped:
            self.pending = ""
            return cut
        hold = max(
            (k for s in self._stops for k in range(1, len(s)) if self.pending.endswith(s[:k])),
            default=0,
        )
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(out) :]
        return out


def message_from_parsed(
    parsed: ParsedOutput, usage: UsageMetadata, meta: dict[str, Any]
) -> AIMessage:
    """The AIMessage for a parsed tool-mode answer."""
    return AIMessage(
        content=parsed.content,
        tool_calls=parsed.tool_calls,
        invalid_tool_calls=parsed.invalid_tool_calls,
        usage_metadata=usage,
        response_metadata=meta,
    )


def as_last_chunk(message: AIMessage) -> AIMessageChunk:
    """A whole (tool-mode or structured) answer as the one and last chunk of a stream."""
    chunks = [
        tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
        for i, c in enumerate(message.tool_calls)
    ]
    return AIMessageChunk(
        content=message.content,
        tool_call_chunks=chunks,
        invalid_tool_calls=message.invalid_tool_calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        chunk_position="last",
    )
