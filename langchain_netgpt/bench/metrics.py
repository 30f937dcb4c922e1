"""Metrics of the replay benchmark: per-policy summaries, and RouteLLM's routing-quality curves.

PGR, APGR and CPT (:func:`pgr`, :func:`apgr`, :func:`cost_to_reach`) live in
:mod:`langchain_netgpt.recorded.curves`, shared with the training code; they are re-exported here
beside the per-policy summaries.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.metrics import apgr, cost_to_reach

        curve = [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]  # (cloud share, PGR)
        assert apgr(curve) == 0.75
        assert cost_to_reach(curve, 0.5) == 0.25
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from langchain_netgpt.recorded.curves import apgr, cost_to_reach, pgr

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
