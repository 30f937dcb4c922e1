"""Planning a step: features, score, network and policy, then the privacy and budget overrides.

:func:`plan_step` is the decision half of the engine, pure apart from the budget's bookkeeping: it
reads the configuration and returns a frozen :class:`StepPlan`; a
:class:`~langchain_netgpt.routing.step.RoutedStep` then carries the plan through the calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage

from langchain_netgpt.routing.budget import BudgetSlot, CloudBudget
from langchain_netgpt.routing.context_window import ContextFit, ContextLimits
from langchain_netgpt.routing.decision import CLOUD, EDGE, budget_veto
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.policy import RouteDecision
from langchain_netgpt.routing.privacy import PrivacyMatch

if TYPE_CHECKING:
    from langchain_netgpt.routing.config import RoutingConfig
    from langchain_netgpt.routing.executor import ToolBinding
    from langchain_netgpt.routing.qos import TargetRouting
    from langchain_netgpt.routing.targets import LoadSnapshot

__all__ = ["StepPlan", "plan_step"]


@dataclass(frozen=True, slots=True)
class StepPlan:
    """Everything decided about a step before any model is called.

    Attributes:
        messages: The call's messages (system message included).
        binding: The call's tools.
        features: The step's features.
        network: The network state the decision saw.
        decision: The decision, overrides applied (``overridden_by``).
        slot: The step's place in the cloud budget (``None`` without a budget).
        private: The privacy rule that matched (``None``: not private).
        target_loads: Load of every named target at decision time (multi-target routing).
        mode: How the step is called (``invoke``, ``ainvoke``, ``stream``, ``astream``).
        run_id: LangChain run id of the call, if known.
        session_id: Conversation / thread id, if known.
        created_at: Unix time of the decision.
        decision_s: Seconds the decision took.
        context: How the prompt fits each side whose context window is known.
    """

    messages: list[BaseMessage]
    binding: ToolBinding
    features: RequestFeatures
    network: NetworkState
    decision: RouteDecision
    slot: BudgetSlot | None
    private: PrivacyMatch | None
    target_loads: Mapping[str, LoadSnapshot] | None
    mode: str
    run_id: str | None
    session_id: str | None
    created_at: float
    decision_s: float
    context: Mapping[str, ContextFit] | None = None


def plan_step(
    config: RoutingConfig,
    routing: TargetRouting | None,
    messages: list[BaseMessage],
    binding: ToolBinding,
    *,
    mode: str,
    run_id: str | None = None,
    session_id: str | None = None,
    previous_target: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    policy: Any = None,
    context: ContextLimits | None = None,
) -> StepPlan:
    """Decide where a step goes: features, score, network, policy, privacy, context, budget.

    Args:
        config: The routing options.
        routing: The named targets' routing (``None``: edge/cloud).
        messages: The call's messages.
        binding: The call's tools.
        mode: How the call is made, for the trace.
        run_id: LangChain run id, if known.
        session_id: Conversation id, if known.
        previous_target: Side of the conversation's previous turn, if known.
        metadata: The run's metadata (``sensitive=True`` makes the step private).
        policy: The policy to decide with (default ``config.policy``; the engine passes it with
            the learned edge service time lent to its latency model).
        context: The sides' context windows (``None``: not checked).

    Raises:
        TypeError: A ``sensitive`` flag is not a bool.
    """
    created_at = time.time()
    t0 = time.perf_counter()
    features = RequestFeatures.from_messages(
        messages, binding.summary, previous_target=previous_target
    )
    network = config.monitor.state(payload_bytes=features.payload_bytes)
    budget = config.budget
    shift = -budget.threshold_shift if budget is not None else 0.0
    loads = None
    if routing is None:
        score = config.scorer.score(features, messages)
        chosen = config.policy if policy is None else policy
        decision = chosen.decide(features, score, network, threshold_shift=shift)
    else:
        decision, loads = routing.decide(features, messages, network, cloud_shift=shift)
    private = config.privacy.check(messages, metadata) if config.privacy is not None else None
    if private is not None:
        # Forced: the score does not matter and the trace names the rule, not the text.
        decision = _to_edge(
            decision, routing, overridden_by="privacy", reason=private.describe(), propensity=1.0
        )
    fits = _fits(context, routing, features, messages)
    if routing is None and private is None:
        decision = _fit_override(decision, fits)
    decision, slot = _budget_gate(decision, routing, budget)
    if slot is not None:
        # The decision is final when the budget admits it; stamped under the budget's lock, the
        # steps of a fleet sharing one budget are in the budget's own order (its windows).
        created_at = slot.admitted_at
    return StepPlan(
        messages=messages,
        binding=binding,
        features=features,
        network=network,
        decision=decision,
        slot=slot,
        private=private,
        target_loads=loads,
        mode=mode,
        run_id=run_id,
        session_id=session_id,
        created_at=created_at,
        decision_s=time.perf_counter() - t0,
        context=fits or None,
    )


def _fits(
    context: ContextLimits | None,
    routing: TargetRouting | None,
    features: RequestFeatures,
    messages: list[BaseMessage],
) -> dict[str, ContextFit]:
    """How the prompt fits every side whose window is known."""
    if context is None:
        return {}
    names = (EDGE, CLOUD) if routing is None else tuple(routing.targets)
    fits = {name: context.fit(name, features, messages) for name in names}
    return {name: fit for name, fit in fits.items() if fit is not None}


def _fit_override(decision: RouteDecision, fits: Mapping[str, ContextFit]) -> RouteDecision:
    """The decision moved to the other side when the prompt fits only there."""
    here = fits.get(decision.target)
    if here is None or here.fits:
        return decision
    other = CLOUD if decision.target == EDGE else EDGE
    there = fits.get(other)
    if there is not None and not there.fits:
        return decision  # fits neither: the try gates refuse both and the trace says why
    # Forced: propensity 1, the reason names the sizes (never the text).
    return replace(
        decision,
        target=other,
        overridden_by="context_window",
        reason=here.describe(),
        propensity=1.0,
    )


def _budget_gate(
    decision: RouteDecision, routing: TargetRouting | None, budget: CloudBudget | None
) -> tuple[RouteDecision, BudgetSlot | None]:
    """The decision after the cloud budget: moved to the edge when the budget vetoes the cloud.

    Returns:
        The decision and the step's place in the budget (``None`` without a budget).
    """
    wants_cloud = decision.target == CLOUD if routing is None else routing.is_cloud(decision.target)
    slot, vetoed = budget_veto(
        budget, wants_cloud=wants_cloud, price_usd=decision.expected_cloud_price_usd
    )
    if vetoed and slot is not None:
        # A forced action has propensity 1: the logged choice was not the policy's draw.
        decision = _to_edge(
            decision,
            routing,
            overridden_by="budget",
            reason=slot.reason or "budget",
            propensity=1.0,
        )
    return decision, slot


def _to_edge(
    decision: RouteDecision, routing: TargetRouting | None, **changes: Any
) -> RouteDecision:
    """The decision moved to the edge (the best-ranked edge target with named targets)."""
    if routing is None:
        return replace(decision, target=EDGE, **changes)
    target = routing.best_edge(decision)
    rest = tuple(n for n in (decision.target, *decision.alternatives) if n != target)
    return replace(decision, target=target, alternatives=rest, **changes)
