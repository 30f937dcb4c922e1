"""Self-offload: the edge model ends its own answer with an escalation signal.

An edge model that finds a step beyond it answers ``{"escalate": true, "reason": ...}`` (the
grammar branch of :class:`~langchain_netgpt.edge.HuggingFaceEdgeModel` with
``allow_escalation=True``); the answer comes back as an empty :class:`AIMessage` whose
``response_metadata[ESCALATE_KEY]`` holds the reason. The router's executor honours it as a
fallback to the cloud (``fallback_reason="edge_escalated: <reason>"``, ``trace.escalated``), and
does not count it as an edge failure for the circuit breaker. Any other edge backend (TGI, vLLM,
a fine-tuned model) can signal the same way with :func:`escalation_message`.
"""

from __future__ import annotations

from collections.abc import Mapping

from langchain_core.messages import AIMessage, BaseMessage

__all__ = ["ESCALATE_KEY", "escalation_message", "escalation_reason"]

ESCALATE_KEY = "netgpt_escalate"
"""``response_metadata`` key of an edge answer that asks to hand the step to the cloud."""


def escalation_message(reason: str) -> AIMessage:
    """The answer of an edge model that hands the step over, with ``reason``.

    Raises:
        ValueError: ``reason`` is empty (the trace must say why the edge escalated).

    Example:
        >>> escalation_reason(escalation_message("needs a web search"))
        'needs a web search'
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"an escalation needs a non-empty reason, got {reason!r}")
    return AIMessage(content="", response_metadata={ESCALATE_KEY: {"reason": reason}})


def escalation_reason(message: BaseMessage) -> str | None:
    """The reason of an answer that asks for escalation, or ``None`` when it does not."""
    signal = message.response_metadata.get(ESCALATE_KEY)
    if not signal:
        return None
    reason = signal.get("reason") if isinstance(signal, Mapping) else None
    return str(reason) if reason else "no reason given"
