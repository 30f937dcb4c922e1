"""The gates a step's candidates pass: which side is tried next, and whether it may be tried now.

Two kinds of gate, in one place for edge/cloud and named-target routing alike:

* fallback gates (:func:`candidate_targets`): after the decided side, a side is a candidate only
  with ``fallback`` on and no answer yet; a cloud only if the step is not private (or the privacy
  rules allow the fallback) and the budget lets it upgrade; moving to an edge gives the budget
  back;
* try gates (:class:`TryGate`), checked right before each try: the step's deadline, the
  context window (a prompt that does not fit the side), any gates the engine adds, and the
  side's circuit breaker last (asking an open circuit whether to probe takes the probe).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from langchain_netgpt.errors import CircuitOpenError, RoutingError, StepTimeoutError
from langchain_netgpt.routing.decision import CLOUD, EDGE
from langchain_netgpt.routing.reasons import FallbackReason

if TYPE_CHECKING:
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["GateRefusal", "TryGate", "candidate_targets", "try_refusal"]


@dataclass(frozen=True, slots=True)
class GateRefusal:
    """Why a side may not be tried now.

    Recorded as a failed attempt that does not count against the side's circuit.

    Attributes:
        code: The fallback reason.
        error: The error the attempt records.
    """

    code: FallbackReason
    error: BaseException


class TryGate(Protocol):
    """A check a side must pass right before each try (after the deadline, before the breaker).

    Example:
        .. code-block:: python

            from langchain_netgpt.errors import RoutingError
            from langchain_netgpt.routing.gates import GateRefusal
            from langchain_netgpt.routing.reasons import FallbackReason

            class NoCloudOnWeekends:
                def refusal(self, step, target):
                    if target == "cloud":
                        return GateRefusal(FallbackReason.FAILED, RoutingError("weekend"))
                    return None
    """

    def refusal(self, step: RoutedStep, target: str) -> GateRefusal | None:
        """Why ``target`` may not be tried now, or ``None``."""
        ...


def candidate_targets(step: RoutedStep) -> Iterator[str]:
    """The sides to try, in order: the decision, then (with fallback on) the others.

    With named targets the others are the policy's ranking; with edge/cloud, the other side. A
    side refused by a try gate is recorded and skipped.
    """
    decision = step.plan.decision
    rest = (
        decision.alternatives
        if step.routing is not None
        else ((CLOUD if decision.target == EDGE else EDGE),)
    )
    for index, target in enumerate((decision.target, *rest)):
        if index > 0:
            if not step.config.fallback or step.outcome.answer is not None:
                return
            if not _admits_fallback(step, target):
                continue
        refusal = try_refusal(step, target)
        if refusal is None:
            yield target
        else:
            step.refused(target, refusal)


def _admits_fallback(step: RoutedStep, target: str) -> bool:
    """The privacy and budget gates of a fallback to ``target``."""
    config, plan = step.config, step.plan
    cloud = step.is_cloud(target)
    if cloud and plan.private is not None:
        if config.privacy is None or not config.privacy.allow_cloud_fallback:
            return False  # a private step never leaves the device unless the user opted in
    budget = config.budget
    if plan.slot is None or budget is None:
        return True
    if not cloud:
        budget.downgrade(plan.slot)
        return True
    if budget.upgrade(plan.slot, price_usd=plan.decision.expected_cloud_price_usd):
        return True
    step.outcome.budget_refused(plan.slot.reason)
    return False


def try_refusal(step: RoutedStep, target: str) -> GateRefusal | None:
    """Why ``target`` may not be tried now (deadline, context window, engine gates, circuit)."""
    left = step.time_left_s()
    if left is not None and left <= 0:
        deadline = step.config.step_deadline_s or 0.0
        timeout: BaseException = StepTimeoutError(
            f"step_deadline_s={deadline} passed before {target} could be tried",
            target=target,
            timeout_s=deadline,
        )
        return GateRefusal(FallbackReason.DEADLINE, timeout)
    fit = (step.plan.context or {}).get(target)
    if fit is not None and not fit.fits:
        return GateRefusal(FallbackReason.CONTEXT_WINDOW, RoutingError(fit.describe()))
    for gate in step.engine.gates:
        refusal = gate.refusal(step, target)
        if refusal is not None:
            return refusal
    breaker = step.engine.breaker_for(target)
    if breaker is None or breaker.allow():
        return None
    wait = breaker.seconds_until_probe()
    error = CircuitOpenError(
        f"{target} circuit is open (next probe in {wait:.1f} s)", target=target, retry_in_s=wait
    )
    return GateRefusal(FallbackReason.CIRCUIT_OPEN, error)
