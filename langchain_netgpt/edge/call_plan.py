"""How one call of the edge model is planned, before the model is touched (pure, testable).

A call is a text answer (``chat``), a tool-call document (``tools``) or a structured output
(``structured``); under ``tool_choice="auto"`` the call-or-answer decision
(:mod:`~langchain_netgpt.edge.call_decision`) picks between the first two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import BaseMessage

from langchain_netgpt.edge.call_decision import CallVerdict, decide_call
from langchain_netgpt.edge.prompt import render_messages, structured_output_prompt
from langchain_netgpt.edge.tools import (
    ToolChoice,
    ToolSpec,
    bound_strings,
    build_output_schema,
    normalize_tool_choice,
    render_tools_prompt,
)

if TYPE_CHECKING:
    from langchain_netgpt.edge.model import HuggingFaceEdgeModel

__all__ = ["CallPlan", "plan_call"]

_Mode = Literal["chat", "tools", "structured"]


@dataclass
class CallPlan:
    """Everything one call needs, decided before touching the model."""

    mode: _Mode
    turns: list[dict[str, str]]
    schema: dict[str, Any] | None
    use_grammar: bool
    tool_names: list[str]
    stop: list[str]
    call_verdict: CallVerdict | None = None


def plan_call(
    edge: HuggingFaceEdgeModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kw: dict[str, Any],
) -> CallPlan:
    """Plan one call of ``edge``: prompt turns, output schema, grammar use and stop sequences.

    Args:
        edge: The model (its settings: tool rendering, limits, the call decision).
        messages: The conversation.
        stop: The call's stop sequences (``None``: the model's own).
        kw: The call's keyword arguments (``tools``, ``tool_choice``, ``response_format``...).

    Raises:
        ValueError: A per-call ``model`` override, or a ``tool_choice`` naming no bound tool.
    """
    if kw.get("model") not in (None, edge.model_path, edge.gguf_file):
        raise ValueError(
            f"model={kw['model']!r}: a per-call model override is not supported by "
            "HuggingFaceEdgeModel (its weights are loaded in-process); create another instance"
        )
    stops = list(stop if stop is not None else (edge.stop or []))
    response_format = kw.get("response_format")
    if response_format is not None:
        schema = response_format.get("schema") if isinstance(response_format, dict) else None
        schema = bound_strings(schema, edge.max_argument_chars) if schema else None
        turns = render_messages(messages, system_suffix=structured_output_prompt(schema))
        return CallPlan("structured", turns, schema, edge.constrained, [], [])
    specs = [ToolSpec.from_any(tool) for tool in kw.get("tools") or []]
    names = [s.name for s in specs]
    choice = normalize_tool_choice(kw.get("tool_choice"), names)
    verdict = None
    if choice.mode == "auto" and specs and edge.call_decision.mode != "off":
        choice, verdict = _decide_call(edge, messages, specs)  # call-or-answer hook
    parallel = kw.get("parallel_tool_calls")
    schema = build_output_schema(
        specs,
        choice,
        parallel_tool_calls=edge.parallel_tool_calls if parallel is None else bool(parallel),
        allow_escalation=edge.allow_escalation,
        max_answer_chars=edge.max_answer_chars,
        max_argument_chars=edge.max_argument_chars,
    )
    if schema is None:
        turns = render_messages(messages, calls_as_prose=True)  # a text answer
        return CallPlan("chat", turns, None, False, names, stops, verdict)
    suffix = render_tools_prompt(specs, choice, allow_escalation=edge.allow_escalation)
    turns = render_messages(messages, system_suffix=suffix)
    return CallPlan("tools", turns, schema, edge.constrained, names, [], verdict)


def _decide_call(
    edge: HuggingFaceEdgeModel, messages: list[BaseMessage], specs: list[ToolSpec]
) -> tuple[ToolChoice, CallVerdict]:
    """The call-or-answer hook (logic in edge/call_decision.py; the runtime supplies the scorer)."""
    suffix = render_tools_prompt(specs, ToolChoice("auto"), allow_escalation=edge.allow_escalation)
    turns = render_messages(messages, system_suffix=suffix)

    def score(continuations: Sequence[str]) -> list[float]:
        # Either runtime scores continuations (one prefill, no decoding); called only when
        # the shipped parameters hold a fitted margin model.
        return edge.load().continuation_logprobs(turns, continuations)

    verdict = decide_call(messages, specs, edge.call_decision, score)
    return ToolChoice("required" if verdict.call else "none"), verdict
