"""Routing-quality curves (RouteLLM): PGR, APGR, CPT, and the quality-only curve of a score.

``PGR = (acc - acc_edge) / (acc_cloud - acc_edge)`` is the share of the cloud's accuracy gain a
router recovers. Over a family of operating points (a threshold sweep), ``APGR`` is the area under
PGR as a function of the cloud-call share (RouteLLM, Ong et al. 2024; a random router scores 0.5),
and ``CPT(x)`` the smallest cloud-call share at which PGR reaches ``x``. A scorer's quality-only
curve (:func:`ranking_curve`) ranks the steps by score and sends the ``k`` lowest to the cloud,
for every ``k`` (no network, no queue). The benchmarks and the training code score with these.

Example:
    .. code-block:: python

        from langchain_netgpt.recorded.curves import apgr, cost_to_reach, ranking_curve

        curve = [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]  # (cloud share, PGR)
        assert apgr(curve) == 0.75
        assert cost_to_reach(curve, 0.5) == 0.25
        ranked = ranking_curve([0.9, 0.1], edge_quality=[1.0, 0.0], cloud_quality=[1.0, 1.0])
        assert ranked["apgr"] == 0.75 and ranked["cpt80"] == 0.4
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["apgr", "cost_to_reach", "pgr", "ranking_curve", "ranking_order"]


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


def ranking_order(scores: Sequence[float], ids: Sequence[str] | None = None) -> list[int]:
    """Indices from the lowest score (first to the cloud) up; ties broken by id, then index."""
    keys = ids if ids is not None else [""] * len(scores)
    return sorted(range(len(scores)), key=lambda i: (scores[i], keys[i], i))


def ranking_curve(
    scores: Sequence[float],
    *,
    edge_quality: Sequence[float],
    cloud_quality: Sequence[float],
    ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """APGR, CPT(50%), CPT(80%) and the points of a score's quality-only curve.

    Raises:
        ValueError: Lengths differ, or the cloud is not better than the edge on these steps.
    """
    n = len(scores)
    if not (len(edge_quality) == len(cloud_quality) == n) or n == 0:
        raise ValueError(
            f"{n} scores, {len(edge_quality)} edge and {len(cloud_quality)} cloud rows"
        )
    gap = (sum(cloud_quality) - sum(edge_quality)) / n
    if gap <= 0:
        raise ValueError("the cloud is not better than the edge on these steps: PGR is undefined")
    points = [(0.0, 0.0)]
    gained = 0.0
    for k, i in enumerate(ranking_order(scores, ids), start=1):
        gained += cloud_quality[i] - edge_quality[i]
        points.append((k / n, gained / n / gap))
    return {
        "apgr": apgr(points),
        "cpt50": cost_to_reach(points, 0.5),
        "cpt80": cost_to_reach(points, 0.8),
        "points": points,
    }
