"""The one decision rule: ``score >= tau`` keeps a step on the edge; a budget may veto the cloud.

Every part of the package that turns a score and a threshold into a side calls :func:`decide_route`
(or its two halves, :func:`edge_if_clears` and :func:`budget_veto`): the runtime policies
(:mod:`langchain_netgpt.routing.policy`), the learned policy file, the routing engine's budget gate
and the benchmarks' replays. A change of the rule is made here, once.

Example:
    .. code-block:: python

        from langchain_netgpt.routing.decision import decide_route

        assert decide_route(0.7, 0.6).target == "edge"
        assert decide_route(0.5, 0.6).target == "cloud"
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.budget import BudgetSlot, CloudBudget

__all__ = [
    "CLOUD",
    "EDGE",
    "RouteVerdict",
    "budget_veto",
    "check_score",
    "clip01",
    "decide_route",
    "edge_if_clears",
]

EDGE = "edge"
CLOUD = "cloud"


def check_score(score: float) -> float:
    """``score`` as a float, checked to be a probability.

    Raises:
        ConfigurationError: ``score`` is not a number in ``[0, 1]``.
    """
    if not (isinstance(score, int | float) and 0.0 <= score <= 1.0):
        raise ConfigurationError(
            f"score must be a probability in [0, 1], got {score!r}", field="score", value=score
        )
    return float(score)


def clip01(value: float) -> float:
    """``value`` clipped to ``[0, 1]`` (a threshold as decisions and traces report it)."""
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def edge_if_clears(score: float, threshold: float) -> str:
    """``"edge"`` iff ``score >= threshold``, else ``"cloud"`` (``-inf`` keeps every step)."""
    return EDGE if score >= threshold else CLOUD


def budget_veto(
    budget: CloudBudget | None, *, wants_cloud: bool, price_usd: float
) -> tuple[BudgetSlot | None, bool]:
    """Record a step in the budget; return its slot and whether the cloud was refused.

    Args:
        budget: The cloud budget, or ``None`` (no slot, no veto).
        wants_cloud: Whether the decision chose a cloud side.
        price_usd: Expected price of the cloud call.

    Returns:
        ``(slot, vetoed)``: ``vetoed`` is true when the step wanted the cloud and the budget
        refused it (the step then goes to the edge).
    """
    if budget is None:
        return None, False
    slot = budget.reserve(wants_cloud=wants_cloud, price_usd=price_usd)
    return slot, wants_cloud and not slot.cloud


@dataclass(frozen=True, slots=True)
class RouteVerdict:
    """What :func:`decide_route` chose.

    Attributes:
        target: ``"edge"`` or ``"cloud"`` after the budget's veto.
        slot: The step's place in the budget (``None`` without a budget).
        vetoed: The rule chose the cloud and the budget refused it.
    """

    target: str
    slot: BudgetSlot | None = None
    vetoed: bool = False


def decide_route(
    score: float,
    threshold: float,
    *,
    budget: CloudBudget | None = None,
    price_usd: float = 0.0,
) -> RouteVerdict:
    """The decision: edge iff ``score >= threshold``; a budget may send a cloud step to the edge.

    Args:
        score: Edge-success score.
        threshold: The threshold ``tau`` (any real number: above 1 sends every step to the
            cloud, below 0 or ``-inf`` keeps every step on the edge; NaN sends it to the cloud).
        budget: A cloud budget to record the step in, or ``None``.
        price_usd: Expected price of the cloud call (charged to the budget).

    Returns:
        The verdict.
    """
    target = edge_if_clears(score, threshold)
    if budget is None:
        return RouteVerdict(target)
    slot, vetoed = budget_veto(budget, wants_cloud=target == CLOUD, price_usd=price_usd)
    return RouteVerdict(EDGE if vetoed else target, slot, vetoed)
