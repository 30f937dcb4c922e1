"""One scenario of the replay benchmark: every policy replayed under one (trace, workload).

:func:`build_scenario_report` builds the policy set (constants, oracle, the NetGPT points and
curves, fixed thresholds, random), replays each over the shuffled test split, and summarises the
results as a :class:`ScenarioReport`: per-policy metrics, RouteLLM curves, the best fixed
threshold, random at matched cloud shares, and the learned policy's thresholds.
:mod:`langchain_netgpt.bench.report` runs it once per scenario.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.scenario_report import ScenarioReport

        print(ScenarioReport.model_fields["best_fixed"].description)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.bench.metrics import PolicyMetrics, apgr, cost_to_reach, pgr, summarize
from langchain_netgpt.bench.policies import (
    CURVE_FAMILIES,
    HEURISTIC,
    LEARNED,
    PolicyFamily,
    ReplayPolicy,
    constant,
    fixed_threshold,
    netgpt,
    netgpt_policy,
    oracle,
    random_at,
)
from langchain_netgpt.bench.replay import BenchConfig, ReplayTask, Scenario, replay, stable_seed
from langchain_netgpt.routing.latency import LatencyModel

__all__ = ["CurveSummary", "ScenarioReport", "build_scenario_report"]


class CurveSummary(BaseModel):
    """Routing quality of one family of operating points (RouteLLM metrics)."""

    model_config = ConfigDict(extra="forbid")

    family: str
    points: list[tuple[float, float]] = Field(description="(cloud share, PGR), sorted.")
    apgr: float
    cpt50: float
    cpt80: float


class ScenarioReport(BaseModel):
    """Every policy's results under one (trace, base RTT, workload) scenario."""

    model_config = ConfigDict(extra="forbid")

    name: str
    trace: str
    base_rtt_ms: float
    workload: str
    mean_arrival_rate_per_s: float
    edge_accuracy: float
    cloud_accuracy: float
    policies: list[PolicyMetrics]
    curves: list[CurveSummary]
    best_fixed: str = Field(description="The fixed-threshold point of highest utility.")
    dynamic_beats_best_fixed: bool
    random_matched: list[dict[str, float]] = Field(
        description="For each netgpt-learned point: cloud share, its accuracy, random's expected "
        "accuracy at that share (the edge-cloud line) and a realised seeded random run's."
    )
    beats_random_everywhere: bool = Field(
        description="netgpt-learned beats random's expected accuracy at every matched share."
    )
    beats_realised_random: int = Field(
        description="Matched shares where netgpt-learned also beats the realised random run."
    )
    thresholds: dict[str, float] = Field(
        description="The closed-form netgpt-learned policy's per-step threshold tau (quantiles "
        "p5/p50/p95 and min), the highest learned score on the test split, and the share of "
        "steps whose score cleared tau: why the policy keeps (or does not keep) steps on the edge."
    )

    def policy(self, name: str) -> PolicyMetrics:
        """The metrics of the policy called ``name``.

        Raises:
            KeyError: No such policy in this scenario.
        """
        for metrics in self.policies:
            if metrics.policy == name:
                return metrics
        raise KeyError(f"no policy {name!r} in scenario {self.name!r}")

    def curve(self, family: str) -> CurveSummary:
        """The curve of ``family``.

        Raises:
            KeyError: No such curve.
        """
        for curve in self.curves:
            if curve.family == family:
                return curve
        raise KeyError(f"no curve {family!r} in scenario {self.name!r}")


def _nearest_rank(ordered: Sequence[float], numerator: int, denominator: int) -> float:
    """The value ``numerator / denominator`` of the way through ``ordered`` (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(numerator * (len(ordered) - 1) / denominator))]


def _interior_quantiles(ordered: Sequence[float], points: int) -> set[float]:
    """The ``points - 2`` evenly spaced interior quantiles of ``ordered`` (sorted)."""
    return {_nearest_rank(ordered, k, points - 1) for k in range(1, points - 1)}


def _thresholds(test: Sequence[ReplayTask], scorer: str, points: int) -> list[float]:
    scores = sorted(item.scores[scorer] for item in test)
    picks = {0.0, 1.0 + 1e-9} | _interior_quantiles(scores, points)
    return sorted(min(1.0, p) for p in picks)


def _run(
    policy: ReplayPolicy,
    scenario: Scenario,
    test: Sequence[ReplayTask],
    arrivals: Sequence[float],
    config: BenchConfig,
    draws: dict[str, bool],
) -> PolicyMetrics:
    results = replay(
        test,
        arrivals,
        scenario,
        policy.make(),
        config,
        draws,
        fallback=config.fallback_on_invalid and policy.fallback,
    )
    return summarize(
        results, policy=policy.name, family=policy.family.value, parameter=policy.parameter
    )


def _scenario_policies(
    scenario: Scenario,
    test: Sequence[ReplayTask],
    config: BenchConfig,
    latency_model: Any,
    taus: list[float],
) -> list[ReplayPolicy]:
    """Every policy a scenario replays; ``netgpt-learned`` records its thresholds in ``taus``."""
    policies: list[ReplayPolicy] = [constant("edge"), constant("cloud"), oracle()]
    for scorer in (HEURISTIC, LEARNED):
        policies.append(
            netgpt(
                f"netgpt-{scorer}",
                config=config,
                latency_model=latency_model,
                scorer=scorer,
                thresholds=taus if scorer == LEARNED else None,
            )
        )
        # The NetGPT curve: its network-dependent threshold shifted by a constant (what a cloud
        # budget does), so the score still ranks steps and the network still moves the bar.
        for offset in _tau_offsets(scenario, test, config, latency_model, scorer):
            policies.append(
                netgpt(
                    f"netgpt-{scorer}@tau{offset:+.3f}",
                    config=config,
                    latency_model=latency_model,
                    scorer=scorer,
                    tau_offset=offset,
                    family=PolicyFamily.netgpt(scorer),
                )
            )
        # A second curve from the cloud-price weight alone (kept for comparison: a high weight
        # ranks steps by their cloud price rather than by their score).
        for weight in config.cloud_weight_sweep:
            policies.append(
                netgpt(
                    f"netgpt-{scorer}@w={weight:g}",
                    config=config,
                    latency_model=latency_model,
                    scorer=scorer,
                    cloud_usd_weight=weight,
                    family=PolicyFamily.netgpt_cost(scorer),
                )
            )
        for threshold in _thresholds(test, scorer, config.sweep_points):
            policies.append(fixed_threshold(threshold, scorer=scorer))
    policies.append(
        netgpt(
            "netgpt-learned-budget",
            config=config,
            latency_model=latency_model,
            scorer=LEARNED,
            budget=True,
        )
    )
    policies.extend(random_at(share, config=config) for share in config.random_shares)
    return policies


def _random_matched(
    learned_points: Sequence[PolicyMetrics],
    scenario: Scenario,
    order: Sequence[ReplayTask],
    arrivals: Sequence[float],
    config: BenchConfig,
    draws: dict[str, bool],
    accuracies: tuple[float, float],
) -> tuple[list[PolicyMetrics], list[dict[str, float]]]:
    """Random at the cloud share of every netgpt-learned operating point.

    Args:
        learned_points: The netgpt-learned family's metrics.
        scenario: The scenario replayed.
        order: The test split in replay order.
        arrivals: The step arrival times.
        config: Benchmark settings.
        draws: The seeded cloud outcomes.
        accuracies: ``(edge accuracy, cloud accuracy)`` of the always-edge/always-cloud rows.

    Returns:
        The realised random runs' metrics, and one matched-share row per interior point.
    """
    edge_acc, cloud_acc = accuracies
    gap = cloud_acc - edge_acc
    runs: list[PolicyMetrics] = []
    matched: list[dict[str, float]] = []
    for m in learned_points:
        if 0.0 < m.cloud_share < 1.0:
            rnd = _run(
                random_at(m.cloud_share, config=config, family=PolicyFamily.RANDOM_MATCHED),
                scenario,
                order,
                arrivals,
                config,
                draws,
            )
            rnd.pgr = (
                pgr(rnd.accuracy, edge_accuracy=edge_acc, cloud_accuracy=cloud_acc)
                if gap > 0
                else None
            )
            runs.append(rnd)
            matched.append(
                {
                    "cloud_share": m.cloud_share,
                    "accuracy": m.accuracy,
                    "random_expected_accuracy": edge_acc + m.cloud_share * gap,
                    "random_accuracy": rnd.accuracy,
                    "random_cloud_share": rnd.cloud_share,
                }
            )
    return runs, matched


def _curves(metrics: Sequence[PolicyMetrics]) -> list[CurveSummary]:
    """The RouteLLM summary of every curve family (call only when the cloud beats the edge)."""
    curves: list[CurveSummary] = []
    for family in CURVE_FAMILIES:
        points = sorted(
            (m.cloud_share, m.pgr) for m in metrics if m.family == family and m.pgr is not None
        )
        curves.append(
            CurveSummary(
                family=family.value,
                points=points,
                apgr=apgr(points),
                cpt50=cost_to_reach(points, 0.5),
                cpt80=cost_to_reach(points, 0.8),
            )
        )
    return curves


def build_scenario_report(
    scenario: Scenario,
    test: Sequence[ReplayTask],
    config: BenchConfig,
    draws: dict[str, bool],
    latency_model: Any,
) -> ScenarioReport:
    """Replay every policy over the test split under ``scenario`` and summarise the results.

    Args:
        scenario: The (trace, base RTT, workload) scenario.
        test: The test split.
        config: Benchmark settings.
        draws: The seeded cloud outcomes per task.
        latency_model: The latency model fitted on the train split.

    Returns:
        The scenario's report.
    """
    order = list(test)
    random.Random(stable_seed(config.seed, "order", scenario.name)).shuffle(order)
    arrivals = scenario.workload.times(
        len(order), random.Random(stable_seed(config.seed, "arrivals", scenario.name))
    )
    taus: list[float] = []
    policies = _scenario_policies(scenario, test, config, latency_model, taus)
    metrics = [_run(p, scenario, order, arrivals, config, draws) for p in policies]
    by_name = {m.policy: m for m in metrics}
    thresholds = _threshold_summary(taus, [item.scores[LEARNED] for item in order])
    edge_acc = by_name["always-edge"].accuracy
    cloud_acc = by_name["always-cloud"].accuracy
    gap = cloud_acc - edge_acc
    for m in metrics:
        m.pgr = (
            pgr(m.accuracy, edge_accuracy=edge_acc, cloud_accuracy=cloud_acc) if gap > 0 else None
        )
    learned_points = [m for m in metrics if m.family == PolicyFamily.NETGPT_LEARNED]
    random_runs, matched = _random_matched(
        learned_points, scenario, order, arrivals, config, draws, (edge_acc, cloud_acc)
    )
    metrics.extend(random_runs)
    curves = _curves(metrics) if gap > 0 else []
    fixed = [m for m in metrics if m.family == PolicyFamily.FIXED_LEARNED]
    best_fixed = max(fixed, key=lambda m: m.utility_mean)
    return ScenarioReport(
        name=scenario.name,
        trace=scenario.trace.name,
        base_rtt_ms=scenario.base_rtt_ms,
        workload=scenario.workload_name,
        mean_arrival_rate_per_s=scenario.workload.mean_rate_per_s,
        edge_accuracy=edge_acc,
        cloud_accuracy=cloud_acc,
        policies=metrics,
        curves=curves,
        best_fixed=best_fixed.policy,
        dynamic_beats_best_fixed=by_name["netgpt-learned"].utility_mean > best_fixed.utility_mean,
        random_matched=matched,
        beats_random_everywhere=bool(matched)
        and all(p["accuracy"] > p["random_expected_accuracy"] for p in matched),
        beats_realised_random=sum(p["accuracy"] > p["random_accuracy"] for p in matched),
        thresholds=thresholds,
    )


def _tau_offsets(
    scenario: Scenario,
    test: Sequence[ReplayTask],
    config: BenchConfig,
    latency_model: LatencyModel,
    scorer: str,
) -> list[float]:
    """Offsets that spread the shifted-threshold curve over cloud shares from 0 to 1.

    Quantiles of each test step's margin ``score - tau`` at the trace's start (the network moves
    during the replay, so the realised shares land near, not on, the quantiles), plus offsets
    that send every step to the edge and to the cloud.
    """
    policy = netgpt_policy(config, latency_model)
    margins: list[float] = []
    for item in test:
        network = scenario.network(0.0, item.features.payload_bytes)
        tau = policy.raw_threshold(latency_model.estimate(item.features, network))
        if math.isfinite(tau):
            margins.append(item.scores[scorer] - tau)
    if not margins:
        return [0.0]
    margins.sort()
    picks = {margins[0] - 1.0, margins[-1] + 1.0} | _interior_quantiles(
        margins, config.sweep_points
    )
    return sorted(round(p, 6) for p in picks)


def _threshold_summary(taus: Sequence[float], scores: Sequence[float]) -> dict[str, float]:
    finite = sorted(t for t in taus if math.isfinite(t))
    if not finite:
        return {}

    cleared = sum(s >= t for s, t in zip(scores, taus, strict=True))
    return {
        "tau_min": finite[0],
        "tau_p5": _nearest_rank(finite, 1, 20),
        "tau_p50": _nearest_rank(finite, 1, 2),
        "tau_p95": _nearest_rank(finite, 19, 20),
        "link_down_steps": float(len(taus) - len(finite)),
        "max_score": max(scores) if scores else 0.0,
        "share_score_cleared_tau": cleared / len(taus) if taus else 0.0,
    }
