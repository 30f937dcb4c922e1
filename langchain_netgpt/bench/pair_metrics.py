"""Quality-only routing curves of a score and bootstrap intervals, for the pairs benchmark.

A scorer's quality-only curve (:func:`~langchain_netgpt.recorded.curves.ranking_curve`, shared
with the training code) ranks the test steps by score and sends the ``k``
lowest to the cloud, for every ``k`` (no network, no queue): PGR against the cloud share, as
RouteLLM's evaluation does with its threshold sweep. APGR is its area (trapezoids through every
point, the same number :func:`~langchain_netgpt.recorded.curves.apgr` gives for those points),
CPT(x) the smallest share reaching PGR ``x``.
Intervals are percentile bootstraps over test steps (resampled with replacement, both routers
of a difference on the same resample); over several seeds each seed is resampled on its own and
the seeds' values averaged.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_metrics import bootstrap_apgr

        steps = {"ids": ["a", "b"], "edge": [1.0, 0.0], "cloud": [1.0, 1.0],
                 "scores": {"score": [0.9, 0.1]}}  # fmt: skip
        result = bootstrap_apgr([steps], ["score"], resamples=50, seed=0)
        low, high = result["apgr"]["score"]
        assert 0.5 <= low <= high <= 1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_netgpt.recorded.curves import ranking_order

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "bootstrap_apgr",
    "cluster_bootstrap_mean",
]


def _apgr_matrix(order: Any, gains: Any, weights: Any) -> NDArray[np.float64]:
    """APGR of one ranking under each row of resampling ``weights`` (``(B, n)`` counts)."""
    import numpy

    w = weights[:, order]
    n = w.sum(axis=1, keepdims=True)
    x = numpy.hstack([numpy.zeros((len(w), 1)), numpy.cumsum(w, axis=1) / n])
    g = numpy.cumsum(w * gains[order], axis=1) / n
    gap = g[:, -1:]
    y = numpy.hstack([numpy.zeros((len(w), 1)), g / numpy.where(gap > 0, gap, numpy.nan)])
    return ((x[:, 1:] - x[:, :-1]) * (y[:, 1:] + y[:, :-1]) / 2).sum(axis=1)  # type: ignore[no-any-return]


def bootstrap_apgr(
    seeds: Sequence[Mapping[str, Any]],
    routers: Sequence[str],
    *,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Seed-averaged APGR per router and paired differences against the first, with 95% CIs.

    Args:
        seeds: Per seed: ``{"ids": [...], "edge": [...], "cloud": [...], "scores": {router:
            [...]}}`` for that seed's test steps.
        routers: Routers to compare; differences are ``routers[0] - other``.
        resamples: Bootstrap resamples per seed.
        seed: Seeds the resampling.

    Returns:
        ``{"apgr": {router: [low, high]}, "difference": {other: {"mean", "low", "high"}}}``;
        replicates whose resample has no quality gap are left out.
    """
    import numpy

    rng = numpy.random.default_rng(seed)
    per_router: dict[str, list[Any]] = {r: [] for r in routers}
    for data in seeds:
        n = len(data["ids"])
        gains = numpy.asarray(data["cloud"], dtype=float) - numpy.asarray(data["edge"], dtype=float)
        weights = rng.multinomial(n, numpy.full(n, 1.0 / n), size=resamples).astype(float)
        for r in routers:
            order = numpy.asarray(ranking_order(data["scores"][r], data["ids"]))
            per_router[r].append(_apgr_matrix(order, gains, weights))
    means = {r: numpy.mean(numpy.vstack(v), axis=0) for r, v in per_router.items()}
    ok = numpy.all(numpy.isfinite(numpy.vstack(list(means.values()))), axis=0)

    def interval(values: Any) -> list[float]:
        return [float(numpy.percentile(values[ok], 2.5)), float(numpy.percentile(values[ok], 97.5))]

    first = routers[0]
    return {
        "apgr": {r: interval(means[r]) for r in routers},
        "difference": {
            r: {
                "mean": float(numpy.mean((means[first] - means[r])[ok])),
                "low": interval(means[first] - means[r])[0],
                "high": interval(means[first] - means[r])[1],
            }
            for r in routers[1:]
        },
        "resamples_used": int(ok.sum()),
    }


def cluster_bootstrap_mean(
    values: Sequence[float], clusters: Sequence[str], *, resamples: int, seed: int
) -> dict[str, float]:
    """Mean of ``values`` with a 95% interval from resampling whole clusters (tasks).

    A task replayed under several seeds and workloads is one cluster: its replays are not
    independent evidence.
    """
    import numpy

    if not values:
        raise ValueError("no values to bootstrap")
    keys = sorted(set(clusters))
    index = {k: i for i, k in enumerate(keys)}
    sums = numpy.zeros(len(keys))
    counts = numpy.zeros(len(keys))
    for v, c in zip(values, clusters, strict=True):
        sums[index[c]] += v
        counts[index[c]] += 1
    rng = numpy.random.default_rng(seed)
    picks = rng.integers(0, len(keys), size=(resamples, len(keys)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return {
        "mean": float(sums.sum() / counts.sum()),
        "low": float(numpy.percentile(means, 2.5)),
        "high": float(numpy.percentile(means, 97.5)),
        "tasks": float(len(keys)),
        "steps": float(len(values)),
    }
