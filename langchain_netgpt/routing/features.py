"""Request features: what a routing decision knows about one model call.

Features are cheap to compute (they sit on the hot path of every agent step) and are all numbers, so
the heuristic and learned scorers and the latency model read them the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

__all__ = ["FEATURE_NAMES", "RequestFeatures", "ToolsSummary"]

CHARS_PER_TOKEN = 4.0
"""Rough characters per BPE token for English text and JSON; good to ~20% for routing purposes."""

# Bytes of the JSON envelope of one chat message: {"role": "...", "content": ""}.
_MESSAGE_ENVELOPE_BYTES = 30
# Bytes of the request envelope ({"model": "...", "messages": [], "tools": [], ...}).
_REQUEST_ENVELOPE_BYTES = 80
_ROLE_BY_TYPE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
# Phrases that ask for several calls or several answers in one step (a hard case for a small model).
_MULTI_HINT = re.compile(
    r"\b(and|also|both|each|respectively|then|as well as|multiple|several)\b|[,;]", re.IGNORECASE
)
# Words of a question or a tool description, compared by their first letters (a crude stemmer:
# "hypot" matches "hypotenuse", "calculat" matches "calculate" and "calculation").
_WORD = re.compile(r"[A-Za-z]{3,}")
_STEM_CHARS = 5
_STOPWORDS = frozenset(
    "the and for with what how who why when where which that this from into are was were is "
    "can could would should will please give find get tell use using about of its it's than "
    "then also each both there their them they you your our all any some".split()
)
# Numbers the user wrote: several distinct values often mean several calls.
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


_STOP_STEMS = frozenset(w[:_STEM_CHARS] for w in _STOPWORDS)
_LOWER_WORD = re.compile(r"[a-z]{3,}")


def _question_stems(text: str) -> set[str]:
    """Stems of a question's content words: the hot-path version of :func:`_stems`.

    Questions are prose, so no camelCase split; stopwords are removed by stem afterwards.
    """
    stems = {w[:_STEM_CHARS] for w in _LOWER_WORD.findall(text.lower())}
    stems -= _STOP_STEMS
    return stems


def _stems(text: str) -> frozenset[str]:
    """Lower-cased prefixes of the content words of ``text`` (split on case and underscores)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return frozenset(
        w[:_STEM_CHARS] for w in (m.lower() for m in _WORD.findall(spaced)) if w not in _STOPWORDS
    )


def _tool_texts(function: Mapping[str, Any]) -> tuple[str, str]:
    """The name of a tool and all its descriptive text (description, parameter names and docs)."""
    name = str(function.get("name") or "")
    parts = [name.replace(".", " ").replace("_", " "), str(function.get("description") or "")]
    params = function.get("parameters")
    props = params.get("properties") if isinstance(params, Mapping) else None
    if isinstance(props, Mapping):
        for key, sub in props.items():
            parts.append(str(key).replace("_", " "))
            if isinstance(sub, Mapping) and isinstance(sub.get("description"), str):
                parts.append(sub["description"])
    return name.replace(".", " ").replace("_", " "), " ".join(parts)


@dataclass(frozen=True, slots=True)
class ToolsSummary:
    """What the bound tools contribute to a request; computed once per ``bind_tools``.

    Attributes:
        tool_count: Number of bound tools.
        schema_bytes: Bytes of the tools' JSON as sent in an OpenAI request.
        schema_depth: Deepest nesting of objects/arrays in any parameter schema.
        required_params: Required parameters summed over all tools.
        total_params: Parameters summed over all tools.
        name_stems: Word stems of each tool's name (for the question/tool overlap features).
        vocabulary: Word stems of all tools' names, descriptions and parameter docs.
    """

    tool_count: int = 0
    schema_bytes: int = 0
    schema_depth: int = 0
    required_params: int = 0
    total_params: int = 0
    name_stems: tuple[frozenset[str], ...] = ()
    vocabulary: frozenset[str] = frozenset()

    @classmethod
    def from_tools(cls, tools: Sequence[Mapping[str, Any]] | None) -> ToolsSummary:
        """Summarise OpenAI-format tool dicts (``{"type": "function", "function": {...}}``).

        Args:
            tools: Tools in OpenAI format, or ``None``.

        Returns:
            The summary (all zeros for no tools).

        Raises:
            TypeError: A tool is not a mapping in OpenAI format.
        """
        if not tools:
            return cls()
        depth = required = total = 0
        names: list[frozenset[str]] = []
        vocabulary: set[str] = set()
        for index, tool in enumerate(tools):
            if not isinstance(tool, Mapping):
                raise TypeError(
                    f"tools[{index}] must be an OpenAI tool dict, got {type(tool).__name__}"
                )
            function = tool.get("function", tool)
            if not isinstance(function, Mapping):
                raise TypeError(f"tools[{index}]['function'] must be a dict, got {function!r}")
            params = function.get("parameters") or {}
            if not isinstance(params, Mapping):
                raise TypeError(
                    f"tools[{index}] parameters must be a JSON-schema dict, got {params!r}"
                )
            depth = max(depth, _schema_depth(params))
            props = params.get("properties") or {}
            total += len(props) if isinstance(props, Mapping) else 0
            req = params.get("required") or []
            required += len(req) if isinstance(req, list) else 0
            name, text = _tool_texts(function)
            names.append(_stems(name))
            vocabulary |= _stems(text)
        schema_bytes = len(json.dumps(list(tools), separators=(",", ":"), default=str))
        return cls(
            len(tools), schema_bytes, depth, required, total, tuple(names), frozenset(vocabulary)
        )


def _schema_depth(schema: Any, level: int = 0) -> int:
    if level > 64:  # a cyclic or absurd schema: stop counting rather than recurse forever
        return level
    if not isinstance(schema, Mapping):
        return level
    deepest = level
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for sub in props.values():
            deepest = max(deepest, _schema_depth(sub, level + 1))
    items = schema.get("items")
    if isinstance(items, Mapping):
        deepest = max(deepest, _schema_depth(items, level + 1))
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            for sub in options:
                deepest = max(deepest, _schema_depth(sub, level))
    return deepest


def _content_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "".join(parts)


def _message_bytes(message: BaseMessage, text: str) -> int:
    # Length of the message as json.dumps would write it: ASCII text costs a byte a character;
    # escapes and non-ASCII are rare enough in routing payloads to estimate without encoding.
    size = _MESSAGE_ENVELOPE_BYTES + len(text)
    if isinstance(message, AIMessage) and message.tool_calls:
        for call in message.tool_calls:
            size += 60 + len(call["name"]) + len(json.dumps(call["args"], separators=(",", ":")))
    elif isinstance(message, ToolMessage):
        size += 20 + len(message.tool_call_id)
    return size


def previous_target_of(messages: Sequence[BaseMessage]) -> str | None:
    """Which target served the most recent routed AI message, if any.

    The router stamps ``response_metadata["netgpt"]["target"]`` on every answer it returns, so the
    conversation itself remembers where each turn ran (and survives checkpointing).
    """
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            info = message.response_metadata.get("netgpt")
            if isinstance(info, Mapping):
                target = info.get("target")
                return target if isinstance(target, str) else None
            return None
    return None


FEATURE_NAMES: tuple[str, ...] = (
    "log_prompt_tokens",
    "log_question_tokens",
    "log_new_tokens",
    "tool_count",
    "log_schema_bytes",
    "schema_depth",
    "required_params",
    "turn_index",
    "after_tool_result",
    "multi_call_hints",
    "switched_side",
    "tool_name_overlap",
    "question_coverage",
    "number_count",
)
"""Names of :meth:`RequestFeatures.vector` entries, in order (used by the scorers' weights)."""


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    """Numbers that describe one model call, for scoring, latency estimates and traces.

    Attributes:
        prompt_tokens: Estimated tokens of the whole prompt (messages and tool schemas).
        question_tokens: Estimated tokens of the last human message.
        new_tokens: Estimated tokens after the last AI message (what a warm KV cache must still
            prefill); equals ``prompt_tokens`` on a first turn.
        payload_bytes: Bytes of the request as an OpenAI chat-completions call would serialise it.
        message_count: Number of messages.
        tool_count: Bound tools.
        schema_bytes: Bytes of the bound tools' JSON.
        schema_depth: Deepest object/array nesting of any tool's parameters.
        required_params: Required parameters over all tools.
        turn_index: AI messages already in the conversation (0 on the first call).
        after_tool_result: Whether the last message is a tool result (the step summarises it).
        multi_call_hints: Conjunctions and list separators in the last human message, a cheap cue
            that several calls or answers are asked for.
        previous_target: Which target served the previous AI turn (``None`` if unknown or first).
        tool_name_overlap: Best share, over the bound tools, of a tool's name words that the last
            human message mentions (low when no tool fits the question).
        question_coverage: Share of the last human message's content words that appear in the
            tools' names, descriptions or parameter docs.
        number_count: Distinct numbers in the last human message (several values often mean
            several calls).

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing import RequestFeatures

            features = RequestFeatures.from_messages([HumanMessage("What is 2 + 2?")])
            assert features.turn_index == 0 and features.tool_count == 0
    """

    prompt_tokens: int
    question_tokens: int
    new_tokens: int
    payload_bytes: int
    message_count: int
    tool_count: int = 0
    schema_bytes: int = 0
    schema_depth: int = 0
    required_params: int = 0
    turn_index: int = 0
    after_tool_result: bool = False
    multi_call_hints: int = 0
    previous_target: str | None = None
    tool_name_overlap: float = 0.0
    question_coverage: float = 0.0
    number_count: int = 0

    @classmethod
    def from_messages(
        cls,
        messages: Sequence[BaseMessage],
        tools: Sequence[Mapping[str, Any]] | ToolsSummary | None = None,
        *,
        previous_target: str | None = None,
    ) -> RequestFeatures:
        """Compute features of a request.

        Args:
            messages: The chat messages of the call.
            tools: Bound tools in OpenAI format, or their precomputed :class:`ToolsSummary`.
            previous_target: Target of the previous turn; by default read from the router's
                metadata on the last AI message.

        Returns:
            The features.

        Raises:
            TypeError: ``messages`` holds something that is not a ``BaseMessage``.
            ValueError: ``messages`` is empty.
        """
        if not messages:
            raise ValueError("messages must hold at least one message, got an empty sequence")
        summary = tools if isinstance(tools, ToolsSummary) else ToolsSummary.from_tools(tools)
        total_chars = 0
        payload = _REQUEST_ENVELOPE_BYTES + summary.schema_bytes
        new_chars = 0
        turn_index = 0
        question = ""
        for index, message in enumerate(messages):
            if not isinstance(message, BaseMessage):
                raise TypeError(
                    f"messages[{index}] must be a langchain BaseMessage, "
                    f"got {type(message).__name__}"
                )
            text = _content_text(message)
            size = _message_bytes(message, text)
            payload += size
            total_chars += size - _MESSAGE_ENVELOPE_BYTES + 4  # role and separators in the prompt
            if isinstance(message, AIMessage):
                turn_index += 1
                new_chars = 0
            else:
                new_chars += len(text) + 4
                if message.type == "human":
                    question = text
        if previous_target is None:
            previous_target = previous_target_of(messages)
        schema_tokens = summary.schema_bytes / CHARS_PER_TOKEN
        prompt_tokens = int(total_chars / CHARS_PER_TOKEN + schema_tokens) + 1
        new_tokens = prompt_tokens if turn_index == 0 else int(new_chars / CHARS_PER_TOKEN) + 1
        name_overlap = coverage = 0.0
        if summary.vocabulary and question:
            asked = _question_stems(question)
            if asked:
                coverage = len(asked & summary.vocabulary) / len(asked)
                name_overlap = max(
                    (len(stems & asked) / len(stems) for stems in summary.name_stems if stems),
                    default=0.0,
                )
        return cls(
            prompt_tokens=prompt_tokens,
            question_tokens=int(len(question) / CHARS_PER_TOKEN),
            new_tokens=new_tokens,
            payload_bytes=payload,
            message_count=len(messages),
            tool_count=summary.tool_count,
            schema_bytes=summary.schema_bytes,
            schema_depth=summary.schema_depth,
            required_params=summary.required_params,
            turn_index=turn_index,
            after_tool_result=isinstance(messages[-1], ToolMessage),
            multi_call_hints=len(_MULTI_HINT.findall(question)),
            previous_target=previous_target,
            tool_name_overlap=name_overlap,
            question_coverage=coverage,
            number_count=len(set(_NUMBER.findall(question))),
        )

    def vector(self, *, target: str = "edge") -> tuple[float, ...]:
        """The features as numbers, in :data:`FEATURE_NAMES` order.

        Args:
            target: The side being scored; ``switched_side`` is 1 when the previous turn ran on a
                different side (the conversation would move and its KV cache be rebuilt).
        """
        from math import log1p

        return (
            log1p(self.prompt_tokens),
            log1p(self.question_tokens),
            log1p(self.new_tokens),
            float(self.tool_count),
            log1p(self.schema_bytes),
            float(self.schema_depth),
            float(self.required_params),
            float(self.turn_index),
            1.0 if self.after_tool_result else 0.0,
            float(self.multi_call_hints),
            1.0 if self.previous_target not in (None, target) else 0.0,
            self.tool_name_overlap,
            self.question_coverage,
            float(self.number_count),
        )

    def to_dict(self) -> dict[str, Any]:
        """The features as a JSON-ready dict (for traces and exports)."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestFeatures:
        """Rebuild features from :meth:`to_dict` output.

        Raises:
            ValueError: A field is missing or unknown.
        """
        names = set(cls.__slots__)
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown RequestFeatures fields: {sorted(unknown)}")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ValueError(f"cannot build RequestFeatures from {dict(data)!r}: {exc}") from exc
