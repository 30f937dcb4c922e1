"""Privacy rules: steps whose messages hold personal data or secrets stay on the edge.

:class:`PrivacyRules` checks a step's messages before it is routed: user regexes, a built-in
detector of personal data (emails, phone numbers, payment cards with a valid Luhn digit, IBANs
with a valid checksum, government-ID-like numbers, API-key-like tokens) and a ``sensitive`` flag
(in a message's ``additional_kwargs`` / ``response_metadata``, or in the run's metadata). A match
keeps the step on the edge whatever the score, and the trace names the rule (never the text).

Text is normalised before it is searched (:func:`~langchain_netgpt.routing.pii.normalize`:
NFKC, zero-width and other format characters removed, look-alike letters folded), every field
that can reach a model is searched (content parts, ``name``, tool-call and invalid-tool-call
arguments, ``additional_kwargs``), and so is each seam between two fields or messages (PII split
in two). The patterns are linear in the text, and ``max_scan_chars`` bounds the work per step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_netgpt.routing.pii import PII_KINDS, detect, normalize
from langchain_netgpt.tracing.scrub import scrub_trace

__all__ = [
    "PII_KINDS",
    "SCAN_BUDGET_RULE",
    "SENSITIVE_KEY",
    "PrivacyMatch",
    "PrivacyRules",
    "scrub_trace",
]

SENSITIVE_KEY = "sensitive"
"""Key of the flag (``True``) in message ``additional_kwargs`` / ``response_metadata`` or run
metadata that marks a step private."""

SCAN_BUDGET_RULE = "limit:scan_budget"
"""Rule of a step whose text exceeds ``PrivacyRules.max_scan_chars``: it was not scanned in
full, so it is kept private."""

_SPLIT_WINDOW = 128
"""Characters on each side of a field boundary searched together (PII split across messages)."""


@dataclass(frozen=True)
class PrivacyMatch:
    """Which rule made a step private (the rule's name, never the matched text).

    Attributes:
        rule: ``"pii:<kind>"``, ``"pattern:<name>"`` or ``"flag:sensitive"``.
        message_index: Index of the message that matched (``None``: the run's metadata).
    """

    rule: str
    message_index: int | None

    def describe(self) -> str:
        """One sentence for the trace's ``reason``."""
        where = (
            "the run metadata" if self.message_index is None else f"message {self.message_index}"
        )
        return f"privacy rule {self.rule} matched {where}: kept on the edge"


def _strings(value: Any) -> Iterator[str]:
    """Every string inside ``value`` (mapping keys too), depth first, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item:
                yield item
        elif isinstance(item, Mapping):
            for key, inner in reversed(list(item.items())):
                stack.append(inner)
                stack.append(key)
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(reversed(list(item)))
        elif isinstance(item, BaseModel):
            stack.append(item.model_dump())


def _content(content: Any) -> Iterator[tuple[str, bool]]:
    if isinstance(content, str):
        if content:
            yield content, True
        return
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            yield part["text"], True
            rest = {k: v for k, v in part.items() if k != "text"}
            yield from ((text, False) for text in _strings(rest))
        elif isinstance(part, str):
            yield from _content(part)
        else:
            yield from ((text, False) for text in _strings(part))


def _fields(message: BaseMessage) -> Iterator[tuple[str, bool]]:
    """Every text of a message that can reach a model, with whether it is prose.

    Content parts, ``name``, tool calls (names and arguments, parsed or not), the tool call id
    and ``additional_kwargs``; prose (text content) has its seam with the next prose searched.
    """
    yield from _content(message.content)
    other: list[Any] = [message.name, message.additional_kwargs]
    if isinstance(message, ToolMessage):
        other.append(message.tool_call_id)
    if isinstance(message, AIMessage):
        other.extend([call["name"], call["args"]] for call in message.tool_calls)
        other.extend([bad.get("name"), bad.get("args")] for bad in message.invalid_tool_calls)
    yield from ((text, False) for text in _strings(other))


def _flag(value: Any, where: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise TypeError(f"{where}[{SENSITIVE_KEY!r}] must be True or False, got {value!r}")


class PrivacyRules(BaseModel):
    r"""What makes a step private: it then stays on the edge whatever the score.

    Args:
        patterns: Named regular expressions (``{"project": r"Project\s+Falcon"}``); a match in
            any message makes the step private.
        pii: Kinds of personal data the built-in detector looks for (see :data:`PII_KINDS`);
            any collection, kept sorted; empty to switch the detector off.
        honour_sensitive_flag: Whether ``sensitive=True`` in message or run metadata counts.
        allow_cloud_fallback: Whether a private step may fall back to the cloud when the edge
            fails (default: no; the step raises
            :class:`~langchain_netgpt.errors.PrivateStepError` instead).
        max_scan_chars: Most characters scanned per step (about 40 ms per million); a step
            with more text is not scanned further and counts as private (rule
            ``limit:scan_budget``): text that was not read cannot be declared free of PII.

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing.privacy import PrivacyRules

            rules = PrivacyRules(patterns={"project": r"Project\s+Falcon"})
            match = rules.check([HumanMessage("Mail jane.doe@example.com the plan")])
            assert match is not None and match.rule == "pii:email"
            assert rules.check([HumanMessage("What is 2 + 2?")]) is None
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    patterns: dict[str, str] = Field(default_factory=dict)
    pii: tuple[str, ...] = Field(default=tuple(sorted(PII_KINDS)))
    honour_sensitive_flag: bool = True
    allow_cloud_fallback: bool = False
    max_scan_chars: int = Field(default=4_000_000, ge=1)

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            if not name:
                raise ValueError("patterns: every pattern needs a non-empty name")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns[{name!r}] is not a valid regex: {exc}") from None
            if compiled.search("") is not None:
                raise ValueError(
                    f"patterns[{name!r}]={pattern!r} matches the empty string, so every step "
                    "would be private"
                )
        return value

    @field_validator("pii", mode="before")
    @classmethod
    def _known_kinds(cls, value: Any) -> Any:
        if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
            raise ValueError(f"pii must be a collection of kinds, got {value!r}")
        unknown = sorted(str(kind) for kind in set(value) - PII_KINDS)
        if unknown:
            raise ValueError(f"pii holds unknown kinds {unknown}; known: {sorted(PII_KINDS)}")
        return tuple(sorted(set(value)))

    def check(
        self,
        messages: Sequence[BaseMessage],
        metadata: Mapping[str, Any] | None = None,
    ) -> PrivacyMatch | None:
        """The first rule that makes this step private, or ``None``.

        Args:
            messages: The step's messages.
            metadata: The run's metadata (its ``sensitive`` flag counts).

        Raises:
            TypeError: A ``sensitive`` flag is not a bool (a typo must not leak data).
        """
        if self.honour_sensitive_flag:
            if metadata is not None and _flag(metadata.get(SENSITIVE_KEY), "run metadata"):
                return PrivacyMatch(f"flag:{SENSITIVE_KEY}", None)
            for i, message in enumerate(messages):
                for where in ("additional_kwargs", "response_metadata"):
                    value = getattr(message, where).get(SENSITIVE_KEY)
                    if _flag(value, f"messages[{i}].{where}"):
                        return PrivacyMatch(f"flag:{SENSITIVE_KEY}", i)
        return self._scan(messages)

    def _scan(self, messages: Sequence[BaseMessage]) -> PrivacyMatch | None:
        compiled = [(name, re.compile(p)) for name, p in self.patterns.items()]
        scanned = 0
        previous = ""
        for i, message in enumerate(messages):
            for text, prose in _fields(message):
                scanned += len(text)
                if scanned > self.max_scan_chars:
                    return PrivacyMatch(SCAN_BUDGET_RULE, i)
                rule = self._rule(text, compiled)
                if rule is None and prose and previous:
                    # PII split across two fields or messages: search across the seam.
                    head, tail = previous[-_SPLIT_WINDOW:], text[:_SPLIT_WINDOW]
                    rule = self._rule(head + tail, compiled) or self._rule(
                        f"{head} {tail}", compiled
                    )
                if rule is not None:
                    return PrivacyMatch(rule, i)
                if prose:
                    previous = text
        return None

    def _rule(self, text: str, compiled: list[tuple[str, re.Pattern[str]]]) -> str | None:
        if compiled:
            normal = normalize(text)
            for name, regex in compiled:
                if regex.search(text) or (normal is not text and regex.search(normal)):
                    return f"pattern:{name}"
        kind = detect(text, self.pii) if self.pii else None
        return None if kind is None else f"pii:{kind}"
