"""Why a step left the side it was decided for: :class:`FallbackReason` and its text.

A trace records both: ``fallback_code`` (the enum's value, for code that branches or aggregates)
and ``fallback_reason`` (the human-readable text, ``"edge failed: RuntimeError: boom"``, whose form
readers of older traces know). A new reason is one member and one template here.

Example:
    .. code-block:: python

        from langchain_netgpt.routing.reasons import FallbackNote, FallbackReason

        note = FallbackNote.of(FallbackReason.FAILED, "edge", "RuntimeError: boom")
        assert note.text == "edge failed: RuntimeError: boom" and note.code == "failed"
        assert note.also("cloud budget exhausted").text.endswith("; cloud budget exhausted")
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FallbackNote", "FallbackReason"]


class FallbackReason(StrEnum):
    """Why a step's decided side did not give the answer (the trace's ``fallback_code``)."""

    FAILED = "failed"
    """The side raised."""
    TIMEOUT = "timeout"
    """The side did not answer within its try's deadline (``step_timeout_s``)."""
    DEADLINE = "deadline"
    """The step's deadline (``step_deadline_s``) passed before the side could be tried."""
    CAPACITY = "capacity"
    """Every slot of the side was busy (held by tries in flight), see ``TryCapacity``."""
    CANCELLED = "cancelled"
    """The caller stopped the step (cancelled task, Ctrl-C, a stream closed early)."""
    CIRCUIT_OPEN = "circuit_open"
    """The side's circuit breaker was open."""
    INVALID_TOOL_CALLS = "invalid_tool_calls"
    """The side answered with tool calls that do not fit the bound tools."""
    ESCALATED = "edge_escalated"
    """The edge handed the step over (self-offload)."""
    BUDGET = "budget"
    """The cloud budget refused the fallback to the cloud (appended to the first reason)."""
    CONTEXT_WINDOW = "context_window"
    """The step's prompt does not fit the side's context window."""

    def describe(self, target: str, detail: str) -> str:
        """The reason's text for the trace (``fallback_reason``)."""
        return _TEMPLATES[self].format(target=target, detail=detail)


_TEMPLATES: dict[FallbackReason, str] = {
    FallbackReason.FAILED: "{target} failed: {detail}",
    FallbackReason.TIMEOUT: "{target} failed: {detail}",
    FallbackReason.DEADLINE: "{target} failed: {detail}",
    FallbackReason.CAPACITY: "{target} at capacity: {detail}",
    FallbackReason.CANCELLED: "{target} cancelled: {detail}",
    FallbackReason.CIRCUIT_OPEN: "circuit_open: {target} circuit is open",
    FallbackReason.INVALID_TOOL_CALLS: "{target} answered with invalid tool calls: {detail}",
    FallbackReason.ESCALATED: "edge_escalated: {detail}",
    FallbackReason.BUDGET: "{detail}",
    FallbackReason.CONTEXT_WINDOW: "{target} refused: {detail}",
}
"""The text of each reason; the forms readers of traces before ``fallback_code`` matched."""


@dataclass(frozen=True, slots=True)
class FallbackNote:
    """A step's fallback reason: the code and the text the trace records.

    Attributes:
        code: The main reason (the first side's; a budget refusal that follows keeps it).
        text: The text, the main reason first, later notes after ``"; "``.
    """

    code: FallbackReason
    text: str

    @classmethod
    def of(cls, code: FallbackReason, target: str, detail: str = "") -> FallbackNote:
        """The note of ``code`` for a try of ``target``."""
        return cls(code, code.describe(target, detail))

    def also(self, detail: str, code: FallbackReason = FallbackReason.BUDGET) -> FallbackNote:
        """This note with a later reason appended (the code stays the main reason's)."""
        return FallbackNote(self.code, f"{self.text}; {code.describe('', detail)}")
