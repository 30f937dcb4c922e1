"""Tool calls of a streamed answer, parsed as strictly as those of an invoked one.

LangChain merges streamed ``tool_call_chunks`` with a *partial* JSON parser, so a stream cut in
the middle of its arguments (``{"to": "x", ``) turns into a complete-looking call
(``{"to": "x"}``), where ``invoke`` rejects the same text as an invalid tool call. A routed
stream is validated with :func:`strict_tool_calls` instead, so a truncated call is rejected
(and may fall back to the other side) exactly as it is in ``invoke``.
"""

from __future__ import annotations

import json

from langchain_core.messages import AIMessageChunk, InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call

__all__ = ["strict_tool_calls"]


def strict_tool_calls(merged: AIMessageChunk) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """The valid and invalid tool calls of a merged stream, each argument string parsed whole.

    Args:
        merged: The sum of the stream's chunks.

    Returns:
        The calls whose arguments are one complete JSON object, and the others (with the raw
        argument text and why it was rejected).

    Example:
        .. code-block:: python

            from langchain_core.messages import AIMessageChunk
            from langchain_netgpt.routing.stream_calls import strict_tool_calls

            cut = AIMessageChunk(
                "", tool_call_chunks=[{"name": "send", "args": '{"to": "x", ', "id": "1",
                                       "index": 0}]
            )
            assert cut.tool_calls[0]["args"] == {"to": "x"}  # LangChain's partial parse
            calls, invalid = strict_tool_calls(cut)
            assert calls == [] and invalid[0]["args"] == '{"to": "x", '
    """
    if not merged.tool_call_chunks:
        return list(merged.tool_calls), list(merged.invalid_tool_calls)
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for part in merged.tool_call_chunks:
        raw = part.get("args") or ""
        name, call_id = part.get("name"), part.get("id")
        try:
            args = json.loads(raw, strict=False) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            error = f"the streamed arguments are not complete JSON ({exc.msg} at {exc.pos})"
            invalid.append(invalid_tool_call(name=name, args=raw, id=call_id, error=error))
            continue
        if not isinstance(args, dict):
            error = f"the streamed arguments are a JSON {type(args).__name__}, not an object"
            invalid.append(invalid_tool_call(name=name, args=raw, id=call_id, error=error))
            continue
        calls.append(tool_call(name=name or "", args=args, id=call_id))
    return calls, invalid
