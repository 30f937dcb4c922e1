"""Privacy rules: steps whose messages hold personal data or secrets stay on the edge.

:class:`PrivacyRules` checks a step's messages before it is routed: user regexes, a built-in
detector of personal data (emails, phone numbers, payment cards with a valid Luhn digit, IBANs
with a valid checksum, government-ID-like numbers, API-key-like tokens) and a ``sensitive`` flag
(in a message's ``additional_kwargs`` / ``response_metadata``, or in the run's metadata). A match
keeps the step on the edge whatever the score, and the trace names the rule (never the text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_netgpt.tracing.scrub import scrub_trace

__all__ = ["PII_KINDS", "SENSITIVE_KEY", "PrivacyMatch", "PrivacyRules", "scrub_trace"]

SENSITIVE_KEY = "sensitive"
"""Key of the flag (``True``) in message ``additional_kwargs`` / ``response_metadata`` or run
metadata that marks a step private."""

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?!\w)"
    r"|(?<![\w+])\+\d{8,14}(?!\w)"
)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_GOV_ID = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")  # US SSN shape
_API_KEY = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{16,}|lsv2_[a-z]{2}_[A-Za-z0-9_]{16,}|hf_[A-Za-z0-9]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,})"
    r"|(?i:\bbearer\s+[A-Za-z0-9._~+/=-]{16,})"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    iban = text.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _has_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return True
    return False


def _has_iban(text: str) -> bool:
    return any(_iban_ok(m.group()) for m in _IBAN.finditer(text))


_DETECTORS: dict[str, Any] = {
    "email": lambda t: _EMAIL.search(t) is not None,
    "phone": lambda t: _PHONE.search(t) is not None,
    "credit_card": _has_card,
    "iban": _has_iban,
    "government_id": lambda t: _GOV_ID.search(t) is not None,
    "api_key": lambda t: _API_KEY.search(t) is not None,
}

PII_KINDS = frozenset(_DETECTORS)
"""Kinds the built-in detector knows: ``email``, ``phone``, ``credit_card``, ``iban``,
``government_id``, ``api_key``."""


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


def _texts(message: BaseMessage) -> list[str]:
    text = str(message.text)
    texts: list[str] = [text] if text else []
    if not isinstance(message.content, str):
        texts.append(json.dumps(message.content, default=str))
    if isinstance(message, AIMessage):
        texts.extend(json.dumps(call["args"], default=str) for call in message.tool_calls)
    return texts


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
        compiled = [(name, re.compile(p)) for name, p in self.patterns.items()]
        detectors = [(kind, _DETECTORS[kind]) for kind in self.pii]
        for i, message in enumerate(messages):
            for text in _texts(message):
                for name, regex in compiled:
                    if regex.search(text):
                        return PrivacyMatch(f"pattern:{name}", i)
                for kind, detect in detectors:
                    if detect(text):
                        return PrivacyMatch(f"pii:{kind}", i)
        return None
