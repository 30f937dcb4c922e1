"""Off-policy estimators on synthetic bandits whose true policy values are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_netgpt.learn.off_policy import (
    BanditData,
    RidgeRewardModel,
    estimate_value,
)


def _bandit(n: int, seed: int) -> tuple[BanditData, np.ndarray, float]:
    """Logged data, a target policy, and the target's true value (expected reward, no noise).

    Contexts x ~ N(0, I_2). Mean rewards: edge 1 + x0, cloud 0.5 + 0.5 x1 (noise sd 0.5). The
    logging policy picks the edge with probability clip(sigmoid(2 x1), 0.1, 0.9); the target
    picks the edge iff x0 > x1 - 0.3, so it disagrees with the logging policy often.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    mean = np.stack([1 + x[:, 0], 0.5 + 0.5 * x[:, 1]], axis=1)
    p_edge = np.clip(1 / (1 + np.exp(-2 * x[:, 1])), 0.1, 0.9)
    actions = (rng.random(n) >= p_edge).astype(np.int64)  # 0 = edge
    propensities = np.where(actions == 0, p_edge, 1 - p_edge)
    rewards = mean[np.arange(n), actions] + rng.normal(0, 0.5, n)
    edge = x[:, 0] > x[:, 1] - 0.3
    target = np.stack([edge, ~edge], axis=1).astype(float)
    true_value = float((target * mean).sum(axis=1).mean())
    return BanditData(x, actions, propensities, rewards), target, true_value


@pytest.mark.parametrize("estimator", ["ips", "snips", "dr"])
def test_each_estimator_interval_covers_the_true_value(estimator: str) -> None:
    data, target, truth = _bandit(3000, seed=1)

    estimate = estimate_value(data, target, estimator, seed=2)  # type: ignore[arg-type]

    assert estimate.ci_low <= truth <= estimate.ci_high
    assert estimate.n == 3000


@pytest.mark.parametrize("estimator", ["ips", "dr"])
def test_estimates_average_to_the_true_value_over_datasets(estimator: str) -> None:
    errors = []
    for seed in range(40):
        data, target, truth = _bandit(400, seed=100 + seed)
        est = estimate_value(data, target, estimator, n_bootstrap=10, seed=seed)  # type: ignore[arg-type]
        errors.append(est.value - truth)

    mean_error = float(np.mean(errors))
    standard_error = float(np.std(errors) / np.sqrt(len(errors)))
    assert abs(mean_error) < 3 * standard_error + 1e-3


def test_doubly_robust_interval_is_narrower_than_ips() -> None:
    data, target, _ = _bandit(3000, seed=3)

    ips = estimate_value(data, target, "ips", seed=4)
    dr = estimate_value(data, target, "dr", seed=4)

    assert dr.ci_width < 0.8 * ips.ci_width


def test_a_reward_model_fitted_elsewhere_is_used_for_dr() -> None:
    train, _, _ = _bandit(2000, seed=5)
    test, target, truth = _bandit(2000, seed=6)
    model = RidgeRewardModel(l2=1.0).fit(train)

    estimate = estimate_value(test, target, "dr", reward_model=model, seed=7)

    assert estimate.ci_low <= truth <= estimate.ci_high


def test_the_same_seed_gives_the_same_interval() -> None:
    data, target, _ = _bandit(500, seed=8)

    first = estimate_value(data, target, "snips", seed=11)
    second = estimate_value(data, target, "snips", seed=11)

    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)


def test_a_zero_propensity_is_rejected_with_its_value() -> None:
    with pytest.raises(ValueError, match=r"propensities must lie in \(0, 1\], got 0\.0"):
        BanditData(np.zeros((2, 1)), np.array([0, 1]), np.array([0.5, 0.0]), np.zeros(2))


def test_an_unknown_estimator_is_rejected_by_name() -> None:
    data, target, _ = _bandit(50, seed=9)

    with pytest.raises(ValueError, match="'direct'"):
        estimate_value(data, target, "direct")  # type: ignore[arg-type]


def test_target_rows_must_be_probability_distributions() -> None:
    data, _, _ = _bandit(50, seed=10)

    with pytest.raises(ValueError, match="probability distribution"):
        estimate_value(data, np.ones((50, 2)), "ips")
