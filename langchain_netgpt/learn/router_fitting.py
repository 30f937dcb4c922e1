"""Fit the router from its logged steps: a scorer, a network-dependent threshold, their value.

:func:`fit_router` takes router bandit rows (``netgpt export`` router data: one row per step with
the logged action, its propensity, the network, the features ``f_<name>`` and the reward),
splits them (by ``session_id`` where rows have one, so a conversation stays on one side), and on
the training split

1. fits a :class:`~langchain_netgpt.routing.scoring.LearnedScorer` on the steps the edge was
   asked to answer (label: the edge's answer was good -- the step's quality, 0 when it fell back);
2. fits the threshold ``tau(network) = sigmoid(w . phi(network))`` to maximise the doubly robust
   estimate of the policy's value ("edge iff score >= tau") on the training split, by gradient
   ascent on a smoothed objective from several seeded starts.

On the held-out split it estimates (IPS, SNIPS, DR, with bootstrap intervals) the value of the
learned policy, of the logging policy's deterministic rule (``score >= threshold`` as logged) and
the logging policy's own mean reward. numpy is imported lazily (extra ``train``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from langchain_netgpt.learn.off_policy import (
    ESTIMATORS,
    BanditData,
    Estimator,
    RidgeRewardModel,
    ValueEstimate,
    cross_fitted_terms,
    estimate_value,
    on_policy_value,
    per_step_terms,
    require_numpy,
)
from langchain_netgpt.learn.policy_file import (
    NETWORK_FEATURE_NAMES,
    LearnedThresholdPolicy,
    PolicyFile,
    network_features,
)
from langchain_netgpt.routing.features import FEATURE_NAMES, RequestFeatures
from langchain_netgpt.routing.scoring import LearnedScorer

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["RouterFit", "fit_router", "train_router"]

ACTIONS = ("edge", "cloud")
_REQUIRED = (
    "action",
    "propensity",
    "score",
    "threshold",
    "rtt_ms",
    "bandwidth_up_mbps",
    "bandwidth_down_mbps",
    "reward",
)


@dataclass(frozen=True)
class RouterFit:
    """What :func:`fit_router` produced.

    Attributes:
        policy_file: The learned scorer and threshold, ready to save.
        estimates: Held-out estimates: ``(policy, estimate)`` pairs, the learned policy under
            every estimator first, then the logging rule, the logging policy's mean reward, and
            the paired difference (learned DR minus logged reward, per step).
        headline: The learned policy's estimate under the requested estimator.
        logging: The logging policy's own held-out mean reward.
        tau_by_rtt: ``(rtt_ms, tau)`` at the 10th, 50th and 90th percentile of the training RTT,
            bandwidth held at its median.
        tau_falls_with_rtt: Whether the learned threshold falls as RTT rises.
        n_train: Training steps.
        n_test: Held-out steps.
    """

    policy_file: PolicyFile
    estimates: list[tuple[str, ValueEstimate]]
    headline: ValueEstimate
    logging: ValueEstimate
    tau_by_rtt: list[tuple[float, float]]
    tau_falls_with_rtt: bool
    n_train: int
    n_test: int
    notes: list[str] = field(default_factory=list)


class _FeatureRow:
    """A step's exported feature vector, read where the scorer reads ``RequestFeatures``."""

    __slots__ = ("_vector",)

    def __init__(self, vector: tuple[float, ...]) -> None:
        self._vector = vector

    def vector(self, *, target: str = "edge") -> tuple[float, ...]:
        return self._vector


@dataclass(frozen=True)
class _Steps:
    features: NDArray[np.float64]  # (n, len(FEATURE_NAMES)) exported feature vectors
    network: NDArray[np.float64]  # (n, 4) phi without intercept
    data: BanditData  # contexts = [features, network]
    logged_score: NDArray[np.float64]
    logged_threshold: NDArray[np.float64]
    edge_label: NDArray[np.float64]  # quality of the edge's answer; nan where unknown / not tried
    rtt_ms: NDArray[np.float64]
    bandwidth: NDArray[np.float64]  # (n, 2) up, down

    def subset(self, index: NDArray[np.int64]) -> _Steps:
        return _Steps(
            self.features[index],
            self.network[index],
            self.data.subset(index),
            self.logged_score[index],
            self.logged_threshold[index],
            self.edge_label[index],
            self.rtt_ms[index],
            self.bandwidth[index],
        )


def _number(row: Mapping[str, Any], key: str, index: int) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"router data row {index}: {key!r} must be a finite number, got {value!r}")
    return float(value)


def steps_from_rows(rows: Sequence[Mapping[str, Any]]) -> _Steps:
    """Arrays from router-data rows.

    Raises:
        ValueError: A required column is missing or a value is malformed (naming row and column).
    """
    npy = require_numpy()
    if not rows:
        raise ValueError("router data holds no rows")
    missing = [c for c in (*_REQUIRED, *(f"f_{n}" for n in FEATURE_NAMES)) if c not in rows[0]]
    if missing:
        raise ValueError(f"router data lacks columns {missing}; export it with netgpt export")
    feats, net, actions, props, rewards, scores, taus, labels = [], [], [], [], [], [], [], []
    for i, row in enumerate(rows):
        action = row.get("action")
        if action not in ACTIONS:
            raise ValueError(
                f"router data row {i}: action must be one of {ACTIONS}, got {action!r}"
            )
        feats.append([_number(row, f"f_{n}", i) for n in FEATURE_NAMES])
        loss = row.get("loss") or 0.0
        net.append(
            network_features(
                _number(row, "rtt_ms", i),
                _number(row, "bandwidth_up_mbps", i),
                _number(row, "bandwidth_down_mbps", i),
                float(loss),
            )
        )
        actions.append(ACTIONS.index(action))
        props.append(_number(row, "propensity", i))
        rewards.append(_number(row, "reward", i))
        scores.append(_number(row, "score", i))
        taus.append(_number(row, "threshold", i))
        quality = row.get("quality")
        if action != "edge" or quality is None:
            labels.append(math.nan)
        else:
            labels.append(0.0 if row.get("fallback") else float(quality))
    x, phi = npy.asarray(feats, dtype=float), npy.asarray(net, dtype=float)
    data = BanditData(
        npy.hstack([x, phi]),
        npy.asarray(actions, dtype=npy.int64),
        npy.asarray(props, dtype=float),
        npy.asarray(rewards, dtype=float),
        ACTIONS,
    )
    return _Steps(
        x,
        phi,
        data,
        npy.asarray(scores, dtype=float),
        npy.asarray(taus, dtype=float),
        npy.asarray(labels, dtype=float),
        npy.expm1(phi[:, 0]),
        npy.expm1(phi[:, 1:3]),
    )


def _fit_scorer(steps: _Steps, l2: float) -> LearnedScorer:
    npy = require_numpy()
    known = ~npy.isnan(steps.edge_label)
    labels = steps.edge_label[known]
    if known.sum() < 10 or labels.min() == labels.max():
        raise ValueError(
            f"fitting the scorer needs at least 10 edge-served steps with both good and bad "
            f"answers in the training split, got {int(known.sum())} "
            f"({int((labels > 0.5).sum())} good); log more steps or explore more (epsilon)"
        )
    rows = [_FeatureRow(tuple(v)) for v in steps.features[known]]
    # LearnedScorer.fit reads nothing but .vector() from each row.
    return LearnedScorer.fit(cast("list[RequestFeatures]", rows), labels.tolist(), l2=l2)


def _scores(scorer: LearnedScorer, features: NDArray[np.float64]) -> NDArray[np.float64]:
    npy = require_numpy()
    rows = cast("list[RequestFeatures]", [_FeatureRow(tuple(v)) for v in features])
    return npy.asarray([scorer.score(r, []) for r in rows], dtype=float)  # type: ignore[no-any-return]


def _sigmoid(z: Any) -> Any:
    npy = require_numpy()
    return 0.5 * (1.0 + npy.tanh(0.5 * z))


def _edge_advantage(data: BanditData, l2: float, seed: int) -> NDArray[np.float64]:
    """Per-step DR terms ``D_i`` with ``value(pi) = mean(pi_edge * D) + const`` (cross-fitted)."""
    npy = require_numpy()
    n = len(data)
    edge = npy.tile([1.0, 0.0], (n, 1))
    cloud = npy.tile([0.0, 1.0], (n, 1))
    edge_terms = cross_fitted_terms(data, edge, l2=l2, seed=seed)
    return edge_terms - cross_fitted_terms(data, cloud, l2=l2, seed=seed)


def _fit_threshold(
    scores: NDArray[np.float64],
    phi: NDArray[np.float64],
    advantage: NDArray[np.float64],
    *,
    seed: int,
    restarts: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weights ``w`` (intercept first) maximising ``mean(1[s >= tau(phi)] * D)``."""
    npy = require_numpy()
    means = phi.mean(axis=0)
    scales = phi.std(axis=0)
    scales[scales < 1e-9] = 1.0
    design = npy.hstack([npy.ones((len(phi), 1)), (phi - means) / scales])
    rng = npy.random.default_rng(seed)
    ridge = 1e-3

    def hard_value(w: NDArray[np.float64]) -> float:
        return float(npy.mean((scores >= _sigmoid(design @ w)) * advantage))

    # Random search on the exact (step-function) objective finds the basins; a smoothed
    # gradient ascent from the best candidates then refines them.
    candidates = rng.normal(0.0, 2.0, (4096, design.shape[1]))
    candidates[:, 0] = rng.uniform(-4.0, 4.0, 4096)
    edge = scores[:, None] >= _sigmoid(design @ candidates.T)
    values = (edge * advantage[:, None]).mean(axis=0)
    starts = candidates[npy.argsort(values)[::-1][:restarts]]
    best_w, best_v = npy.zeros(design.shape[1]), -math.inf
    for r in range(restarts):
        w = starts[r].copy()
        m, v = npy.zeros_like(w), npy.zeros_like(w)
        step = 0
        for temperature in (0.2, 0.1, 0.05, 0.02):
            for _ in range(150):
                step += 1
                tau = _sigmoid(design @ w)
                pi = _sigmoid((scores - tau) / temperature)
                # d/dw mean(pi * D) = mean(D * pi(1-pi) * (-1/T) * tau(1-tau) * x)
                coef = advantage * pi * (1 - pi) * (-1.0 / temperature) * tau * (1 - tau)
                grad = design.T @ coef / len(scores) - ridge * w
                # Adam: the objective's scale (USD per step) varies by orders of magnitude.
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * grad**2
                w = w + 0.05 * (m / (1 - 0.9**step)) / (npy.sqrt(v / (1 - 0.999**step)) + 1e-12)
        for candidate in (starts[r], w):
            value = hard_value(candidate)
            if value > best_v:
                best_w, best_v = candidate.copy(), value
        if progress is not None:
            progress(r + 1, restarts)
    return best_w, means, scales


def fit_router(
    rows: Sequence[Mapping[str, Any]],
    *,
    estimator: Estimator = "dr",
    test_fraction: float = 0.3,
    seed: int = 0,
    l2: float = 1.0,
    restarts: int = 8,
    n_bootstrap: int = 500,
    trained_on: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RouterFit:
    """Fit a scorer and a network-dependent threshold from logged steps; estimate their value.

    Args:
        rows: Router-data rows (see the module docstring for the columns).
        estimator: Estimator of the headline value (``"dr"``, ``"ips"`` or ``"snips"``).
        test_fraction: Share of rows held out for the estimates, in (0, 1); rows sharing a
            ``session_id`` are held out together.
        seed: Seed of the split, the fitting restarts and the bootstrap.
        l2: Ridge / logistic L2 penalty.
        restarts: Seeded starts of the threshold fit.
        n_bootstrap: Bootstrap resamples per interval.
        trained_on: Provenance recorded in the policy file (data path, reward parameters ...).
        progress: Called as ``progress(done, total)`` while the threshold is fitted.

    Returns:
        The fit; save ``result.policy_file`` to use it.

    Raises:
        ValueError: Bad options, malformed rows, or too little data to fit.

    Example:
        .. code-block:: python

            from langchain_netgpt.learn import fit_router

            # rows = langchain_netgpt.export.router_data.read_router_data(path).rows
            # result = fit_router(rows, seed=0)
            # result.policy_file.save("policy.json")
    """
    npy = require_numpy()
    _check_options(estimator, test_fraction, restarts)
    steps = steps_from_rows(rows)
    train_index, test_index = _train_test_indices(rows, len(steps.data), test_fraction, seed)
    train, test = steps.subset(train_index), steps.subset(test_index)
    n_train, n_test = len(train_index), len(test_index)

    scorer = _fit_scorer(train, l2)
    threshold = _fit_learned_threshold(
        train, [rows[i] for i in train_index], l2, seed=seed, restarts=restarts, progress=progress
    )
    learned_edge = _scores(scorer, test.features) >= _taus(threshold, test.network)
    estimates = _held_out_estimates(
        train, test, learned_edge, l2=l2, n_bootstrap=n_bootstrap, seed=seed
    )
    headline = next(e for p, e in estimates if p == "learned" and e.estimator == estimator)
    logging = next(e for p, e in estimates if p == "logging (on-policy)")
    tau_by_rtt, falls = _rtt_profile(threshold, train)
    notes = [] if falls else [
        "the learned threshold does not fall as RTT rises on this data (its RTT weight is "
        f"{threshold.weights[0]:+.3f}); the logged data may not show RTT hurting the cloud"
    ]  # fmt: skip
    policy_file = PolicyFile(
        scorer=scorer,
        threshold=threshold,
        trained_on={
            **dict(trained_on or {}),
            **{"rows": n_train + n_test, "n_train": n_train, "n_test": n_test, "seed": seed},
            "test_fraction": test_fraction,
            "edge_share_logged": float(npy.mean(steps.data.actions == 0)),
            "network_features": list(NETWORK_FEATURE_NAMES),
        },
        estimate=_estimate_record(estimator, estimates, learned_edge, tau_by_rtt, falls),
    )
    return RouterFit(
        policy_file, estimates, headline, logging, tau_by_rtt, falls, n_train, n_test, notes
    )


def _check_options(estimator: str, test_fraction: float, restarts: int) -> None:
    """Raise ``ValueError`` naming a bad :func:`fit_router` option."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    if not (isinstance(restarts, int) and restarts >= 1):
        raise ValueError(f"restarts must be an integer >= 1, got {restarts!r}")


def _fit_learned_threshold(
    train: _Steps,
    train_rows: Sequence[Mapping[str, Any]],
    l2: float,
    *,
    seed: int,
    restarts: int,
    progress: Callable[[int, int], None] | None,
) -> LearnedThresholdPolicy:
    """The network-dependent threshold, fitted against out-of-fold scores of the train split."""
    train_scores = _out_of_fold_scores(train, train_rows, l2, seed)
    advantage = _edge_advantage(train.data, l2, seed)
    w, means, scales = _fit_threshold(
        train_scores, train.network, advantage, seed=seed, restarts=restarts, progress=progress
    )
    return LearnedThresholdPolicy(
        bias=float(w[0]),
        weights=[float(v) for v in w[1:]],
        means=[float(v) for v in means],
        scales=[float(v) for v in scales],
    )


def _taus(threshold: LearnedThresholdPolicy, network: NDArray[np.float64]) -> NDArray[np.float64]:
    """The threshold's tau on each row of network features."""
    npy = require_numpy()
    z = (network - npy.asarray(threshold.means)) / npy.asarray(threshold.scales)
    return _sigmoid(threshold.bias + z @ npy.asarray(threshold.weights))  # type: ignore[no-any-return]


def _estimate_record(
    estimator: str,
    estimates: list[tuple[str, ValueEstimate]],
    learned_edge: NDArray[np.bool_],
    tau_by_rtt: list[tuple[float, float]],
    falls: bool,
) -> dict[str, Any]:
    """What the policy file records of the held-out estimates."""
    headline = next(e for p, e in estimates if p == "learned" and e.estimator == estimator)
    logging = next(e for p, e in estimates if p == "logging (on-policy)")
    return {
        "estimator": estimator,
        "learned": headline.to_dict(),
        "logging": logging.to_dict(),
        "improvement": estimates[-1][1].to_dict(),
        "learned_edge_share": float(learned_edge.mean()),
        "tau_by_rtt": [{"rtt_ms": r, "tau": t} for r, t in tau_by_rtt],
        "tau_falls_with_rtt": falls,
    }


def _train_test_indices(
    rows: Sequence[Mapping[str, Any]], n: int, test_fraction: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Training and held-out row indices, split by session.

    Raises:
        ValueError: Either side would be too small.
    """
    n_test = round(n * test_fraction)
    if n_test < 10 or n - n_test < 20:
        raise ValueError(
            f"{n} rows split {n - n_test}/{n_test} is too few: need >= 20 training and >= 10 "
            "held-out steps"
        )
    test_index, train_index = _split(rows, n_test, seed)
    if n - len(test_index) < 20:
        raise ValueError(
            f"splitting {n} rows by session left {n - len(test_index)} training steps "
            "(need >= 20); lower test_fraction"
        )
    return train_index, test_index


def _held_out_estimates(
    train: _Steps,
    test: _Steps,
    learned_edge: NDArray[np.bool_],
    *,
    l2: float,
    n_bootstrap: int,
    seed: int,
) -> list[tuple[str, ValueEstimate]]:
    """The held-out estimates, as ``(policy, estimate)`` pairs.

    IPS, SNIPS and DR values of the learned policy and of the logging rule on ``test``, the
    logging policy's own mean reward, and the paired learned - logging gain (last). DR uses a
    reward model fitted on the training split only.
    """
    npy = require_numpy()
    reward_model = RidgeRewardModel(l2).fit(train.data)
    learned = npy.stack([learned_edge, ~learned_edge], axis=1).astype(float)
    rule_edge = test.logged_score >= test.logged_threshold
    rule = npy.stack([rule_edge, ~rule_edge], axis=1).astype(float)
    boot = {"n_bootstrap": n_bootstrap, "seed": seed}
    estimates: list[tuple[str, ValueEstimate]] = []
    for policy, actions in (("learned", learned), ("logging rule", rule)):
        for name in ESTIMATORS:
            value = estimate_value(test.data, actions, name, reward_model=reward_model, **boot)
            estimates.append((policy, value))
    estimates.append(("logging (on-policy)", on_policy_value(test.data.rewards, **boot)))
    # Paired: per held-out step, the learned policy's DR term minus the logged reward.
    learned_terms, _ = per_step_terms(test.data, learned, "dr", reward_model)
    gain = on_policy_value(learned_terms - test.data.rewards, **boot)
    estimates.append(("learned - logging", ValueEstimate("dr - on-policy", *_fields(gain))))
    return estimates


def _out_of_fold_scores(
    train: _Steps, rows: Sequence[Mapping[str, Any]], l2: float, seed: int, folds: int = 5
) -> NDArray[np.float64]:
    """Scores of the training steps from scorers that did not see their session.

    The threshold is fitted against these: in-sample scores are overconfident (the scorer has
    seen the step's own label), and a threshold tuned to them would be too loose on new steps.
    """
    npy = require_numpy()
    n = len(train.data)
    scores = npy.zeros(n)
    remaining = npy.arange(n)
    for fold in range(folds, 0, -1):
        # Peel off ~1/fold of what is left, by session, so every step is scored exactly once.
        held_local, _ = _split([rows[i] for i in remaining], round(len(remaining) / fold), seed)
        held = remaining[held_local]
        rest = npy.setdiff1d(npy.arange(n), held)
        scorer = _fit_scorer(train.subset(rest), l2)
        scores[held] = _scores(scorer, train.features[held])
        remaining = npy.setdiff1d(remaining, held)
    return scores  # type: ignore[no-any-return]


def _split(
    rows: Sequence[Mapping[str, Any]], n_test: int, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Held-out and training row indices; the steps of one session stay on one side.

    Splitting by session (conversation, or task in a replay) keeps the held-out estimate honest:
    a scorer that memorised a conversation's steps is not scored on that conversation again.
    """
    npy = require_numpy()
    groups: dict[Any, list[int]] = {}
    for index, row in enumerate(rows):
        session = row.get("session_id")
        groups.setdefault(("row", index) if session is None else session, []).append(index)
    keys = list(groups)
    order = npy.random.default_rng(seed).permutation(len(keys))
    test: list[int] = []
    for k in order:
        if len(test) >= n_test:
            break
        test.extend(groups[keys[k]])
    held = set(test)
    train = [i for i in range(len(rows)) if i not in held]
    return npy.asarray(sorted(test), dtype=npy.int64), npy.asarray(train, dtype=npy.int64)


def _fields(estimate: ValueEstimate) -> tuple[float, float, float, int, float]:
    return estimate.value, estimate.ci_low, estimate.ci_high, estimate.n, estimate.confidence


def _rtt_profile(
    threshold: LearnedThresholdPolicy, train: _Steps
) -> tuple[list[tuple[float, float]], bool]:
    from langchain_netgpt.routing.network import NetworkState

    npy = require_numpy()
    up, down = (float(v) for v in npy.median(train.bandwidth, axis=0))
    profile = []
    for q in (10, 50, 90):
        rtt = float(npy.percentile(train.rtt_ms, q))
        state = NetworkState(bandwidth_up_mbps=up, bandwidth_down_mbps=down, rtt_ms=rtt)
        profile.append((rtt, threshold.threshold(state)))
    # tau is a sigmoid of a linear function: it falls with RTT iff the RTT weight is <= 0.
    return profile, threshold.weights[0] <= 0


def train_router(
    data: str | Path,
    out: str | Path,
    *,
    estimator: Estimator = "dr",
    test_fraction: float = 0.3,
    seed: int = 0,
    restarts: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> RouterFit:
    """Read router data, fit the router (:func:`fit_router`) and write the policy file.

    Args:
        data: Router data written by ``export_router_data`` (JSONL, Parquet or HF folder).
        out: Policy file to write (JSON).
        estimator: Estimator of the headline value.
        test_fraction: Held-out share.
        seed: Seed of the split, the fit and the bootstrap.
        restarts: Seeded starts of the threshold fit.
        progress: Called as ``progress(done, total)`` while fitting.

    Returns:
        The fit (already saved to ``out``).

    Raises:
        FileNotFoundError: ``data`` does not exist.
        ValueError: ``data`` is not router data, or holds too little to fit.
    """
    from langchain_netgpt.export.router_data import read_router_data

    router_data = read_router_data(data)
    fit = fit_router(
        router_data.rows,
        estimator=estimator,
        test_fraction=test_fraction,
        seed=seed,
        restarts=restarts,
        progress=progress,
        trained_on={"data": str(data), "reward_params": router_data.params.model_dump()},
    )
    fit.policy_file.save(out)
    return fit
