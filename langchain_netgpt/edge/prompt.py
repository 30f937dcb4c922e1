"""Render LangChain messages as the role/content turns a small chat template understands.

SmolLM2's template knows only ``system``, ``user`` and ``assistant``: tool calls are rendered as the
JSON document the edge model itself emits, and tool results as user turns that name the tool.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

DEFAULT_SYSTEM_PROMPT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
_AI_SKIPPED_BLOCKS = frozenset(
    {"tool_use", "tool_call", "tool_call_chunk", "function_call", "reasoning", "thinking"}
)


def message_text(message: BaseMessage) -> str:
    """Return the text of a message, joining text content blocks.

    Raises:
        ValueError: A non-AI message carries a non-text block (images, audio, files): the edge
            model reads text only. AI messages may carry tool-use and reasoning blocks, which
            are skipped because ``tool_calls`` already holds the calls.
    """
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(message, AIMessage) and kind in _AI_SKIPPED_BLOCKS:
            continue
        else:
            raise ValueError(
                f"content block of type {kind!r} in a {message.type} message is not supported by "
                "the edge model; it accepts text blocks only"
            )
    return "\n".join(p for p in parts if p)


def _calls_document(message: AIMessage) -> str:
    calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
    return json.dumps({"tool_calls": calls}, ensure_ascii=False)


def _tool_names_by_id(messages: Sequence[BaseMessage]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                if call.get("id"):
                    names[str(call["id"])] = call["name"]
    return names


def _fold_result(turns: list[dict[str, str]], folded: set[int], line: str) -> None:
    """Append a tool result to the user turn before it (a new user turn if there is none).

    ``folded`` holds the indices of the turns that already carry results.
    """
    last = len(turns) - 1
    if turns and turns[last]["role"] == "user":
        turns[last]["content"] += ("\n" if last in folded else "\n\n") + line
    else:
        turns.append({"role": "user", "content": line})
        last += 1
    folded.add(last)


def render_messages(
    messages: Sequence[BaseMessage], *, system_suffix: str = "", calls_as_prose: bool = False
) -> list[dict[str, str]]:
    """Turn LangChain messages into ``{"role", "content"}`` turns for the chat template.

    Args:
        messages: The conversation.
        system_suffix: Text appended to the (first) system message, e.g. the tool block; a system
            message with the template's default prompt is added when the conversation has none.
        calls_as_prose: Render for a text answer: earlier tool calls are left out and each
            tool result is folded into the user turn before it ("The tool X returned: ..."),
            followed by "Answer the question from these results." A small model shown its own
            tool-call documents would write one more instead of answering (measured on
            SmolLM2-135M: it echoed the call; with the results folded in it answers from them).

    Returns:
        Turns with roles ``system``, ``user`` and ``assistant`` only.

    Raises:
        ValueError: A message holds non-text content, or has a role the template cannot show.
    """
    names = _tool_names_by_id(messages)
    turns: list[dict[str, str]] = []
    folded: set[int] = set()  # turns that carry folded tool results (calls_as_prose)
    for message in messages:
        text = message_text(message)
        if isinstance(message, SystemMessage):
            turns.append({"role": "system", "content": text})
        elif isinstance(message, HumanMessage):
            turns.append({"role": "user", "content": text})
        elif isinstance(message, AIMessage):
            if message.tool_calls and calls_as_prose:
                if text.strip():
                    turns.append({"role": "assistant", "content": text})
                continue
            if message.tool_calls:
                text = f"{text}\n{_calls_document(message)}".strip()
            turns.append({"role": "assistant", "content": text})
        elif isinstance(message, ToolMessage):
            name = message.name or names.get(message.tool_call_id, "tool")
            status = " (error)" if message.status == "error" else ""
            if calls_as_prose:
                _fold_result(turns, folded, f"The tool {name}{status} returned: {text}")
                continue
            turns.append({"role": "user", "content": f"Result of tool {name}{status}: {text}"})
        elif isinstance(message, ChatMessage) and message.role in ("system", "user", "assistant"):
            turns.append({"role": message.role, "content": text})
        else:
            raise ValueError(
                f"message of type {message.type!r} cannot be rendered for the edge model; "
                "expected system, human, ai, tool or chat (system/user/assistant) messages"
            )
    if len(turns) - 1 in folded:
        turns[-1]["content"] += "\nAnswer the question from these results."
    if system_suffix:
        if turns and turns[0]["role"] == "system":
            first = turns[0]["content"]
            turns[0] = {"role": "system", "content": f"{first}\n\n{system_suffix}".strip()}
        else:
            turns.insert(
                0, {"role": "system", "content": f"{DEFAULT_SYSTEM_PROMPT}\n\n{system_suffix}"}
            )
    return turns


def structured_output_prompt(schema: dict[str, Any] | None) -> str:
    """System-prompt block asking for a JSON object (matching ``schema`` when given)."""
    if schema is None:
        return "Reply with exactly one JSON object and nothing else."
    return "Reply with exactly one JSON object that matches this JSON schema:\n" + json.dumps(
        schema, ensure_ascii=False
    )


def chat_turns_to_prompt(tokenizer: Any, turns: list[dict[str, str]]) -> str:
    """Apply the tokenizer's chat template (with the assistant generation prompt)."""
    return str(tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False))


def compile_chat_template(source: str) -> Any:
    """Compile a chat template the way ``transformers`` does (sandboxed Jinja, same options).

    The llama.cpp runtime renders the template stored in the GGUF with this, so both runtimes
    see the same prompt text.

    Raises:
        ValueError: The template is not valid Jinja.
    """
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, indent: int | None = None) -> str:
        return json.dumps(value, ensure_ascii=False, indent=indent)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as exc:
        raise ValueError(f"the model's chat template is not valid Jinja: {exc}") from exc
