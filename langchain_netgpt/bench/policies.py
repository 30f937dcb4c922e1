"""The policies the replay benchmark compares, built from the package's own decision parts.

Every policy decides from what a router knows online: the step's features, its edge-success score
(:class:`~langchain_netgpt.routing.scoring.HeuristicScorer` or a
:class:`~langchain_netgpt.routing.scoring.LearnedScorer` fitted on the train split), the network
state the trace gives, and the edge queue. NetGPT adds the queue's wait to the expected edge
latency of its :class:`~langchain_netgpt.routing.latency.LatencyModel`, whose edge profile is
calibrated on the train split's recorded latencies. Only the oracle sees outcomes.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.policies import constant

        policy = constant("edge")
        assert policy.name == "always-edge" and policy.make()  # a fresh function per replay
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from langchain_netgpt.bench.replay import BenchConfig, ChooseFn, ReplayTask, StepView, stable_seed
from langchain_netgpt.routing.decision import CLOUD, EDGE, decide_route
from langchain_netgpt.routing.latency import LatencyModel, SideProfile
from langchain_netgpt.routing.policy import (
    CloudBudget,
    FixedThresholdPolicy,
    NetGPTPolicy,
    RandomPolicy,
)
from langchain_netgpt.routing.scoring import HeuristicScorer, LearnedScorer

__all__ = [
    "CALIBRATION_PRIOR_ROWS",
    "PolicyFamily",
    "ReplayPolicy",
    "calibrate_latency_model",
    "constant",
    "fit_scorers",
    "fixed_threshold",
    "netgpt",
    "netgpt_policy",
    "oracle",
    "random_at",
]

HEURISTIC = "heuristic"
LEARNED = "learned"


class PolicyFamily(StrEnum):
    """A family of operating points of the replay benchmark (one curve, or one baseline).

    The value is the label the report prints; the families of a scorer come from
    :meth:`netgpt`, :meth:`netgpt_cost` and :meth:`fixed`, never from string formatting.

    Example:
        .. code-block:: python

            from langchain_netgpt.bench.policies import PolicyFamily

            assert PolicyFamily.netgpt("learned") is PolicyFamily.NETGPT_LEARNED
            assert PolicyFamily.NETGPT_LEARNED.is_curve and not PolicyFamily.ORACLE.is_curve
    """

    ALWAYS_EDGE = "always-edge"
    ALWAYS_CLOUD = "always-cloud"
    ORACLE = "oracle"
    NETGPT_LEARNED = "netgpt-learned"
    NETGPT_HEURISTIC = "netgpt-heuristic"
    NETGPT_LEARNED_COST = "netgpt-learned-cost"
    NETGPT_HEURISTIC_COST = "netgpt-heuristic-cost"
    NETGPT_LEARNED_BUDGET = "netgpt-learned-budget"
    FIXED_LEARNED = "fixed-learned"
    FIXED_HEURISTIC = "fixed-heuristic"
    RANDOM = "random"
    RANDOM_MATCHED = "random-matched"

    @classmethod
    def netgpt(cls, scorer: str) -> PolicyFamily:
        """The shifted-threshold NetGPT curve of a scorer (``"heuristic"`` or ``"learned"``)."""
        return _BY_SCORER[scorer][0]

    @classmethod
    def netgpt_cost(cls, scorer: str) -> PolicyFamily:
        """The NetGPT curve of a scorer that sweeps the cloud-price weight."""
        return _BY_SCORER[scorer][1]

    @classmethod
    def fixed(cls, scorer: str) -> PolicyFamily:
        """The fixed-threshold curve of a scorer."""
        return _BY_SCORER[scorer][2]

    @property
    def is_curve(self) -> bool:
        """Whether its operating points form a curve the report computes APGR and CPT on."""
        return self in CURVE_FAMILIES


_BY_SCORER: dict[str, tuple[PolicyFamily, PolicyFamily, PolicyFamily]] = {
    HEURISTIC: (
        PolicyFamily.NETGPT_HEURISTIC,
        PolicyFamily.NETGPT_HEURISTIC_COST,
        PolicyFamily.FIXED_HEURISTIC,
    ),
    LEARNED: (
        PolicyFamily.NETGPT_LEARNED,
        PolicyFamily.NETGPT_LEARNED_COST,
        PolicyFamily.FIXED_LEARNED,
    ),
}

CURVE_FAMILIES: tuple[PolicyFamily, ...] = (
    PolicyFamily.NETGPT_LEARNED,
    PolicyFamily.NETGPT_HEURISTIC,
    PolicyFamily.NETGPT_LEARNED_COST,
    PolicyFamily.NETGPT_HEURISTIC_COST,
    PolicyFamily.FIXED_LEARNED,
    PolicyFamily.FIXED_HEURISTIC,
    PolicyFamily.RANDOM,
)
"""Families whose operating points form the curves APGR and CPT are computed on (report order)."""


@dataclass(frozen=True, slots=True)
class ReplayPolicy:
    """A named policy for the replay: ``make()`` returns a fresh decision function.

    Attributes:
        name: Label in the report.
        family: Curve it belongs to.
        make: Builds the decision function (fresh state: budgets, random generators).
        parameter: The swept value (threshold, cloud share, cloud weight), if any.
        fallback: Whether an invalid edge answer falls back to the cloud (as the router does;
            off for the always-edge baseline and the oracle).
    """

    name: str
    family: PolicyFamily
    make: Callable[[], ChooseFn]
    parameter: float | None = None
    fallback: bool = True


CALIBRATION_PRIOR_ROWS = 10.0
"""Pseudo-rows at the train success rate in each isotonic block of :func:`fit_scorers`' calibration
(plain isotonic let a block of a few lucky train tasks map above 0.9 on one seed, above the
threshold, and those steps then failed on the test split)."""

L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
"""L2 penalties :func:`fit_scorers` chooses from by cross-validation on the train split."""


def _cv_log_loss(train: Sequence[ReplayTask], l2: float, folds: int) -> float:
    import math

    loss = 0.0
    for k in range(folds):
        fit_rows = [t for i, t in enumerate(train) if i % folds != k]
        held = [t for i, t in enumerate(train) if i % folds == k]
        labels = [t.edge.correct for t in fit_rows]
        if not held or len(set(labels)) < 2:
            continue
        scorer = LearnedScorer.fit([t.features for t in fit_rows], labels, l2=l2)
        for t in held:
            s = min(max(scorer.score(t.features, []), 1e-6), 1 - 1e-6)
            loss -= math.log(s if t.edge.correct else 1 - s)
    return loss


def fit_scorers(
    train: Sequence[ReplayTask], tasks: Sequence[ReplayTask], *, folds: int = 5
) -> LearnedScorer:
    """Fit a :class:`LearnedScorer` on ``train`` (edge correct or not) and score every task.

    The L2 penalty is chosen from :data:`L2_GRID` by ``folds``-fold cross-validated log loss
    within ``train`` (small train splits overfit otherwise, and the policy's threshold needs
    calibrated scores, not only a good ranking), and the scores are calibrated by isotonic
    regression on out-of-fold predictions (the logistic tail was overconfident: train tasks
    scored >= 0.7 were right about half the time), each block shrunk towards the train success
    rate by :data:`CALIBRATION_PRIOR_ROWS` pseudo-rows. Fills ``scores["heuristic"]`` and
    ``scores["learned"]`` of each of ``tasks``.

    Raises:
        ValueError: ``train`` has fewer than two tasks.
    """
    ordered = sorted(train, key=lambda t: t.task.id)
    l2 = (
        min(L2_GRID, key=lambda value: _cv_log_loss(ordered, value, folds))
        if len(ordered) >= 2 * folds
        else 1.0
    )
    rows = [t.features for t in ordered]
    labels = [t.edge.correct for t in ordered]
    calibrate = len(ordered) >= 2 * folds and len(set(labels)) == 2
    learned = LearnedScorer.fit(
        rows,
        labels,
        l2=l2,
        calibrate=calibrate,
        calibration_folds=folds,
        calibration_prior=CALIBRATION_PRIOR_ROWS,
    )
    heuristic = HeuristicScorer()
    for item in tasks:
        item.scores[HEURISTIC] = heuristic.score(item.features, [])
        item.scores[LEARNED] = learned.score(item.features, [])
    return learned


def calibrate_latency_model(
    train: Sequence[ReplayTask], cloud: SideProfile, edge_profile: SideProfile | None = None
) -> LatencyModel:
    """A latency model whose edge profile fits the train split's edge service times.

    The service times are the recorded latencies, or those of ``edge_profile`` when given (see
    :attr:`BenchConfig.edge_profile`).

    Least squares of ``latency = overhead + prompt_tokens / prefill + output_tokens / decode``
    over the train tasks (prompt tokens as the features estimate them, output tokens as recorded);
    the expected output length is the train mean. Rates that come out non-positive fall back to
    the mean latency as a fixed overhead.

    Raises:
        ValueError: ``train`` is empty.
    """
    import numpy as np

    if not train:
        raise ValueError("cannot calibrate the edge latency model on an empty train split")
    x = np.asarray(
        [[1.0, t.features.prompt_tokens, t.edge.output_tokens] for t in train], dtype=float
    )
    y = np.asarray([t.edge_service_s(edge_profile) for t in train], dtype=float)
    mean_out = max(1, round(float(x[:, 2].mean())))
    coef = np.linalg.lstsq(x, y, rcond=None)[0] if len(train) >= 3 else np.zeros(3)
    overhead, per_prompt, per_output = (float(c) for c in coef)
    if per_prompt > 0 and per_output > 0 and overhead >= 0:
        edge = SideProfile(
            overhead_s=overhead,
            prefill_tokens_per_s=1 / per_prompt,
            decode_tokens_per_s=1 / per_output,
        )
    else:
        # Too few or too uniform rows to separate the terms: a flat mean latency.
        edge = SideProfile(
            overhead_s=float(y.mean()), prefill_tokens_per_s=1e12, decode_tokens_per_s=1e12
        )
    return LatencyModel(edge=edge, cloud=cloud, expected_output_tokens=mean_out)


def netgpt_policy(
    config: BenchConfig, latency_model: LatencyModel, *, cloud_usd_weight: float | None = None
) -> NetGPTPolicy:
    """The closed-form policy with the benchmark's utility (``lambda_c`` overridable)."""
    return NetGPTPolicy(
        value_correct_usd=config.value_correct_usd,
        latency_usd_per_s=config.latency_usd_per_s,
        cloud_usd_weight=config.cloud_usd_weight if cloud_usd_weight is None else cloud_usd_weight,
        cloud_quality=config.cloud_accuracy,
        latency_model=latency_model,
    )


def netgpt(
    name: str,
    *,
    config: BenchConfig,
    latency_model: LatencyModel,
    scorer: str,
    cloud_usd_weight: float | None = None,
    budget: bool = False,
    family: PolicyFamily | None = None,
    tau_offset: float | None = None,
    thresholds: list[float] | None = None,
) -> ReplayPolicy:
    """The NetGPT closed-form policy, aware of the network and of the edge queue.

    Args:
        name: Label.
        config: Gives ``V``, ``lambda_t``, ``lambda_c`` and the cloud accuracy it assumes.
        latency_model: Expected latencies (the edge queue's wait is added to the edge's).
        scorer: ``"heuristic"`` or ``"learned"``.
        cloud_usd_weight: Overrides ``lambda_c`` (for the sweep).
        budget: Cap the cloud share with a :class:`CloudBudget` (dual-ascent threshold shift).
        family: The curve it belongs to (default: the scorer's NetGPT curve, or
            :attr:`PolicyFamily.NETGPT_LEARNED_BUDGET` with ``budget``).
        tau_offset: A constant added to the network-dependent threshold (for the curve: the
            same shift a :class:`CloudBudget` applies, swept by hand). ``None`` is 0 and makes
            ``cloud_usd_weight`` the swept parameter.
        thresholds: When given, each step's threshold (offset included) is appended to it.
    """
    policy = netgpt_policy(config, latency_model, cloud_usd_weight=cloud_usd_weight)

    def make() -> ChooseFn:
        cap = (
            CloudBudget(
                max_cloud_share=config.budget_cloud_share,
                window_steps=config.budget_window_steps,
            )
            if budget
            else None
        )

        def choose(view: StepView) -> str:
            features = view.item.features
            est = policy.latency_model.estimate(features, view.network)
            # The queue is part of the edge's latency: a busy edge raises the bar for staying.
            est = replace(est, edge_s=est.edge_s + view.edge_wait_s)
            shift = -cap.threshold_shift if cap is not None else 0.0
            tau = policy.raw_threshold(est) + shift + (tau_offset or 0.0)
            if thresholds is not None:
                thresholds.append(tau)
            score = view.item.scores[scorer]
            return decide_route(score, tau, budget=cap, price_usd=est.cloud_price_usd).target

        return choose

    parameter = tau_offset if tau_offset is not None else cloud_usd_weight
    if family is None:
        family = PolicyFamily.NETGPT_LEARNED_BUDGET if budget else PolicyFamily.netgpt(scorer)
    return ReplayPolicy(name, family, make, parameter)


def fixed_threshold(threshold: float, *, scorer: str) -> ReplayPolicy:
    """Edge iff the score clears ``threshold`` (network- and queue-blind)."""
    policy = FixedThresholdPolicy(threshold=threshold)
    family = PolicyFamily.fixed(scorer)

    def make() -> ChooseFn:
        def choose(view: StepView) -> str:
            item = view.item
            return policy.decide(item.features, item.scores[scorer], view.network).target

        return choose

    return ReplayPolicy(f"{family}@{threshold:.3f}", family, make, threshold)


def random_at(
    share: float, *, config: BenchConfig, family: PolicyFamily = PolicyFamily.RANDOM
) -> ReplayPolicy:
    """The cloud with probability ``share``, seeded per share."""

    def make() -> ChooseFn:
        policy = RandomPolicy(cloud_share=share, seed=stable_seed(config.seed, "random", share))

        def choose(view: StepView) -> str:
            item = view.item
            return policy.decide(item.features, 0.5, view.network).target

        return choose

    return ReplayPolicy(f"{family}@{share:.3f}", family, make, share)


def oracle() -> ReplayPolicy:
    """Knows both outcomes: the cloud only when the edge is wrong and the cloud right."""

    def make() -> ChooseFn:
        def choose(view: StepView) -> str:
            return CLOUD if not view.item.edge.correct and view.cloud_correct else EDGE

        return choose

    return ReplayPolicy("oracle", PolicyFamily.ORACLE, make, fallback=False)


def constant(target: str) -> ReplayPolicy:
    """Always ``target`` (``"edge"`` or ``"cloud"``).

    Raises:
        ValueError: ``target`` is neither.
    """
    if target not in (EDGE, CLOUD):
        raise ValueError(f"target must be {EDGE!r} or {CLOUD!r}, got {target!r}")

    def make() -> ChooseFn:
        return lambda view: target

    family = PolicyFamily.ALWAYS_EDGE if target == EDGE else PolicyFamily.ALWAYS_CLOUD
    return ReplayPolicy(family.value, family, make, fallback=False)
