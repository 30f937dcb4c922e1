"""The record a step ends in: its trace, and the route its answer carries.

:func:`build_trace` writes the step's :class:`~langchain_netgpt.tracing.RouteTrace`;
:func:`route_info` derives ``response_metadata["netgpt"]`` from that trace (no second copy).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage, AnyMessage

from langchain_netgpt.routing.measure import response_bytes
from langchain_netgpt.tracing import TRACE_SCHEMA_VERSION, RouteTrace

if TYPE_CHECKING:
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["ROUTE_INFO_KEYS", "build_trace", "route_info", "with_route"]

ROUTE_INFO_KEYS = (
    "target",
    "decided_target",
    "score",
    "threshold",
    "policy",
    "reason",
    "overridden_by",
    "fallback",
    "fallback_reason",
    "tool_calls_valid",
    "escalated",
    "latency_ms",
    "rtt_ms",
    "bandwidth_up_mbps",
    "bandwidth_down_mbps",
    "trace_id",
)
"""The keys of ``response_metadata["netgpt"]`` (``slo_violated`` too with named targets)."""


def route_info(trace: RouteTrace, *, slo: bool = False) -> dict[str, Any]:
    """The route an answer carries in ``response_metadata["netgpt"]``, read from its trace.

    Args:
        trace: The step's trace.
        slo: Add ``slo_violated`` (named-target routing).
    """
    network = trace.network
    info: dict[str, Any] = {
        "target": trace.final_target,
        "decided_target": trace.decided_target,
        "score": trace.score,
        "threshold": trace.threshold,
        "policy": trace.policy,
        "reason": trace.reason,
        "overridden_by": trace.overridden_by,
        "fallback": trace.fallback,
        "fallback_reason": trace.fallback_reason,
        "tool_calls_valid": trace.tool_calls_valid,
        "escalated": trace.escalated,
        "latency_ms": round(trace.latency_s * 1000, 3),
        "rtt_ms": network.rtt_ms,
        "bandwidth_up_mbps": network.bandwidth_up_mbps,
        "bandwidth_down_mbps": network.bandwidth_down_mbps,
        "trace_id": trace.trace_id,
    }
    if slo:
        info["slo_violated"] = trace.slo_violated
    return info


def build_trace(step: RoutedStep, *, latency_s: float, error: str | None) -> RouteTrace:
    """The trace of a finished step (its outcome settled, ``latency_s`` measured).

    Args:
        step: The step.
        latency_s: Wall time from the end of the decision to the answer.
        error: Why no side answered (``None`` when one did).
    """
    plan, outcome = step.plan, step.outcome
    d = plan.decision
    answer = outcome.answer
    final = outcome.target if answer is not None else None
    fallback = final is not None and final != d.target
    note = outcome.note if fallback or answer is None else None
    cloud_final = step.is_cloud(final)
    # model_construct with every field given: the values are already validated (network,
    # decision) or built here, and evaluating pydantic default factories costs ~100 us.
    return RouteTrace.model_construct(
        schema_version=TRACE_SCHEMA_VERSION,
        trace_id=uuid.uuid4().hex,
        created_at=plan.created_at,
        run_id=plan.run_id,
        session_id=plan.session_id,
        mode=plan.mode,
        decided_target=d.target,
        score=d.score,
        threshold=d.threshold,
        policy=d.policy,
        reason=d.reason,
        overridden_by=d.overridden_by,
        propensity=d.propensity,
        expected_edge_s=d.expected_edge_s,
        expected_cloud_s=d.expected_cloud_s if d.expected_cloud_s < 1e18 else None,
        expected_cloud_price_usd=d.expected_cloud_price_usd,
        network=plan.network,
        features=plan.features.to_dict(),
        attempts=outcome.attempts,
        final_target=final,
        fallback=fallback,
        fallback_reason=note.text if note is not None else None,
        fallback_code=note.code.value if note is not None else None,
        latency_s=latency_s,
        decision_s=plan.decision_s,
        cloud_price_usd=d.expected_cloud_price_usd if cloud_final else 0.0,
        bytes_sent=plan.features.payload_bytes
        if any(step.is_cloud(a.target) for a in outcome.attempts)
        else 0,
        bytes_received=response_bytes(answer) if answer is not None and cloud_final else 0,
        usage=dict(answer.usage_metadata) if answer is not None and answer.usage_metadata else None,
        tool_calls_valid=outcome.valid,
        error=error,
        escalated=outcome.escalation is not None,
        escalation_reason=outcome.escalation,
        quality=None,
        prompt_completion=step.completion_record,
        network_sample=step.network_sample if final is not None and cloud_final else None,
        target_loads=None
        if plan.target_loads is None
        else {name: load.to_dict() for name, load in plan.target_loads.items()},
        slo_violated=_slo_violated(step, final, latency_s),
        tools=plan.binding.tools or [],
        tool_choice=plan.binding.tool_choice,
        messages=cast("list[AnyMessage]", plan.messages),
        output=answer,
    )


def _slo_violated(step: RoutedStep, final: str | None, latency_s: float) -> bool | None:
    if step.routing is None or final is None:
        return None
    slo = step.routing.targets[final].slo_s
    return None if slo is None else latency_s > slo


def with_route(answer: AIMessage, info: dict[str, Any]) -> AIMessage:
    """``answer`` with the route in ``response_metadata["netgpt"]`` (set in place, returned).

    Called after the trace was emitted: the sinks hold a snapshot that does not share the
    answer, so the route never appears in a trace afterwards.
    """
    answer.response_metadata = {**answer.response_metadata, "netgpt": info}
    return answer
