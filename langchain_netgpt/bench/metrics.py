"""Metrics of the replay benchmark: per-policy summaries and RouteLLM's routing-quality curves.

``PGR = (acc - acc_edge) / (acc_cloud - acc_edge)`` is the share of the cloud's accuracy gain a
router recovers. Over a family of operating points (a threshold sweep), ``APGR`` is the area under
PGR as a function of the cloud-call share (RouteLLM, Ong et al. 2024; a random router scores 0.5),
and ``CPT(x)`` the smallest cloud-call share at which PGR reaches ``x``.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.metrics import apgr, cost_to_reach

        curve = [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]  # (cloud share, PGR)
        assert apgr(curve) == 0.75
        assert cost_to_reach(curve, 0.5) == 0.25
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

__all__ = [
    "PolicyMetrics",
    "StepResult",
    "apgr",
    "cost_to_reach",
    "percentile",
    "pgr",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class StepResult:
    """What happened to one replayed step.

    Attributes:
        task_id: BFCL task id.
        target: ``"edge"`` or ``"cloud"``.
        correct: BFCL verdict of the answer.
        valid: The answer was schema-valid (or correctly abstained).
        latency_s: Arrival to answer, queueing and network included.
        price_usd: Cloud price paid (0 on the edge).
        utility: ``V * correct - lambda_t * latency_s - lambda_c * price_usd``.
        edge_wait_s: Time spent waiting for the busy edge (0 in the cloud).
        fallback: The edge answered with an invalid tool call and the step was retried in the
            cloud, as the router does (``target`` stays ``"edge"``; the cloud's answer, price
            and time count).
    """

    task_id: str
    target: str
    correct: bool
    valid: bool
    latency_s: float
    price_usd: float
    utility: float
    edge_wait_s: float = 0.0
    fallback: bool = False


class PolicyMetrics(BaseModel):
    """One policy's results over one scenario.

    Attributes:
        policy: Policy label (``netgpt-learned``, ``fixed@0.40`` ...).
        family: Which curve it belongs to (``netgpt-learned``, ``fixed-learned``, ``random`` ...).
        parameter: The swept parameter's value (threshold, cloud share, weight), if any.
        steps: Steps replayed.
        accuracy: Share of BFCL-correct answers.
        validity: Share of schema-valid answers (a correct abstention counts as valid).
        cloud_share: Share of steps that called the cloud (routed there, or fallen back to it).
        fallback_share: Share of steps that fell back from an invalid edge answer to the cloud.
        price_usd: Total cloud price.
        latency_mean_s: Mean latency.
        latency_p50_s: Median latency.
        latency_p95_s: 95th-percentile latency.
        edge_wait_mean_s: Mean wait for the busy edge over all steps.
        utility_mean: Mean utility per step.
        pgr: Performance gap recovered (``None`` until set against the scenario's baselines).
    """

    model_config = ConfigDict(extra="forbid")

    policy: str
    family: str
    parameter: float | None = None
    steps: int
    accuracy: float
    validity: float
    cloud_share: float
    fallback_share: float = 0.0
    price_usd: float
    latency_mean_s: float
    latency_p50_s: float
    latency_p95_s: float
    edge_wait_mean_s: float
    utility_mean: float
    pgr: float | None = None


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (``0 <= q <= 100``) with linear interpolation, as numpy's default.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside ``[0, 100]``.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(
    results: Sequence[StepResult], *, policy: str, family: str, parameter: float | None = None
) -> PolicyMetrics:
    """Aggregate the steps of one replay.

    Raises:
        ValueError: ``results`` is empty.
    """
    n = len(results)
    if n == 0:
        raise ValueError(f"policy {policy!r} replayed no steps")
    latencies = [r.latency_s for r in results]
    return PolicyMetrics(
        policy=policy,
        family=family,
        parameter=parameter,
        steps=n,
        accuracy=sum(r.correct for r in results) / n,
        validity=sum(r.valid for r in results) / n,
        cloud_share=sum(r.target == "cloud" or r.fallback for r in results) / n,
        fallback_share=sum(r.fallback for r in results) / n,
        price_usd=sum(r.price_usd for r in results),
        latency_mean_s=sum(latencies) / n,
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        edge_wait_mean_s=sum(r.edge_wait_s for r in results) / n,
        utility_mean=sum(r.utility for r in results) / n,
    )


def pgr(accuracy: float, *, edge_accuracy: float, cloud_accuracy: float) -> float:
    """Performance gap recovered: 0 at the edge's accuracy, 1 at the cloud's.

    Raises:
        ValueError: The cloud is not more accurate than the edge (the gap is undefined).
    """
    gap = cloud_accuracy - edge_accuracy
    if gap <= 0:
        raise ValueError(
            f"PGR needs the cloud ({cloud_accuracy:.3f}) to beat the edge ({edge_accuracy:.3f})"
        )
    return (accuracy - edge_accuracy) / gap


def _curve(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    curve = {0.0: 0.0, 1.0: 1.0}  # all-edge recovers nothing, all-cloud everything
    for share, gain in points:
        if not (0.0 <= share <= 1.0 and math.isfinite(gain)):
            raise ValueError(f"curve point ({share!r}, {gain!r}) needs a share in [0, 1]")
        if 0.0 < share < 1.0:
            # Several operating points at one share: the best one is what a router can reach.
            curve[share] = max(gain, curve.get(share, -math.inf))
    return sorted(curve.items())


def apgr(points: Iterable[tuple[float, float]]) -> float:
    """Average PGR: area under PGR over the cloud share, from ``(share, pgr)`` operating points.

    The curve runs from ``(0, 0)`` (all edge) to ``(1, 1)`` (all cloud) through the given points
    (interior shares only), integrated with the trapezoid rule.

    Raises:
        ValueError: A share lies outside ``[0, 1]`` or a PGR is not finite.
    """
    curve = _curve(points)
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(curve))


def cost_to_reach(points: Iterable[tuple[float, float]], target_pgr: float) -> float:
    """CPT: the smallest cloud share at which the curve reaches ``target_pgr`` (interpolated).

    Raises:
        ValueError: ``target_pgr`` is outside ``[0, 1]``, or a point is malformed.
    """
    if not 0.0 <= target_pgr <= 1.0:
        raise ValueError(f"target_pgr must be in [0, 1], got {target_pgr!r}")
    curve = _curve(points)
    if target_pgr <= 0.0:
        return 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if y1 >= target_pgr:
            if y0 >= target_pgr:
                return x0
            return x0 + (x1 - x0) * (target_pgr - y0) / (y1 - y0)
    return 1.0
