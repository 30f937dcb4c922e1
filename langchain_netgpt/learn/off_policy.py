"""Off-policy estimates of a routing policy's value from logged steps (IPS, SNIPS, DR).

The logged data is a contextual bandit: for each step a context ``x`` (request features and the
network), the action the logging policy took, the probability it had of taking it (the
propensity) and the reward observed. A *target* policy is given as the probability it would
give each action on each logged context. Three estimators of its value (its expected reward per
step):

- IPS: ``mean(pi(a_i|x_i) / p_i * r_i)`` -- unbiased when every propensity is right, high variance.
- SNIPS: IPS normalised by the mean importance weight -- slightly biased, steadier.
- DR (doubly robust): ``mean(sum_a pi(a|x_i) q(x_i, a) + pi(a_i|x_i) / p_i * (r_i - q(x_i, a_i)))``
  with ``q`` a reward model (ridge regression per action): unbiased if either the propensities or
  the reward model are right, and lower variance than IPS when the reward model explains much.

Confidence intervals are percentile bootstrap intervals over steps (seeded).

numpy is imported lazily (``pip install 'langchain-netgpt[train]'`` or ``[bench]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_netgpt.errors import MissingExtraError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ESTIMATORS",
    "BanditData",
    "Estimator",
    "RidgeRewardModel",
    "ValueEstimate",
    "estimate_value",
]

Estimator = Literal["ips", "snips", "dr"]
ESTIMATORS: tuple[Estimator, ...] = ("ips", "snips", "dr")


def require_numpy() -> Any:
    """Import numpy, or say which extra provides it."""
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy is in the dev environment
        raise MissingExtraError("numpy", extra="train") from exc
    return numpy


@dataclass(frozen=True)
class BanditData:
    """Logged routing steps as arrays.

    Attributes:
        contexts: ``(n, d)`` context matrix (features and network numbers).
        actions: ``(n,)`` index of the logged action into ``action_names``.
        propensities: ``(n,)`` probability the logging policy gave the logged action, in (0, 1].
        rewards: ``(n,)`` observed rewards.
        action_names: Names of the actions, e.g. ``("edge", "cloud")``.

    Raises:
        ValueError: Shapes disagree, a propensity lies outside (0, 1], a value is not finite, or
            an action index is out of range.
    """

    contexts: NDArray[np.float64]
    actions: NDArray[np.int64]
    propensities: NDArray[np.float64]
    rewards: NDArray[np.float64]
    action_names: tuple[str, ...] = ("edge", "cloud")

    def __post_init__(self) -> None:
        npy = require_numpy()
        n = len(self.rewards)
        if self.contexts.ndim != 2 or self.contexts.shape[0] != n:
            raise ValueError(f"contexts must be ({n}, d), got shape {self.contexts.shape}")
        for name in ("actions", "propensities"):
            shape = getattr(self, name).shape
            if shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {shape}")
        if n == 0:
            raise ValueError("BanditData needs at least one step, got 0")
        if not (npy.all(npy.isfinite(self.contexts)) and npy.all(npy.isfinite(self.rewards))):
            raise ValueError("contexts and rewards must be finite numbers")
        p = self.propensities
        if not npy.all((p > 0) & (p <= 1)):
            bad = float(p[~((p > 0) & (p <= 1))][0])
            raise ValueError(f"propensities must lie in (0, 1], got {bad!r}")
        k = len(self.action_names)
        if npy.any((self.actions < 0) | (self.actions >= k)):
            raise ValueError(f"actions must be indices in [0, {k}), got {self.actions!r}")

    def __len__(self) -> int:
        return len(self.rewards)

    def subset(self, index: NDArray[np.int64]) -> BanditData:
        """The steps at ``index`` (a split or a bootstrap resample)."""
        return BanditData(
            self.contexts[index],
            self.actions[index],
            self.propensities[index],
            self.rewards[index],
            self.action_names,
        )

    def check_target(self, target_probs: NDArray[np.float64]) -> None:
        """Check that a target policy's probabilities fit this data.

        Raises:
            ValueError: Not ``(n, K)`` or rows do not sum to 1.
        """
        npy = require_numpy()
        expected = (len(self), len(self.action_names))
        if target_probs.shape != expected:
            raise ValueError(f"target_probs must have shape {expected}, got {target_probs.shape}")
        if npy.any(target_probs < -1e-12) or not npy.allclose(target_probs.sum(axis=1), 1.0):
            raise ValueError("every row of target_probs must be a probability distribution")


class RidgeRewardModel:
    """A reward model ``q(x, a)``: one ridge regression per action on standardised contexts.

    Args:
        l2: Ridge penalty (not applied to the intercept).

    Example:
        .. code-block:: python

            import numpy as np
            from langchain_netgpt.learn.off_policy import BanditData, RidgeRewardModel

            x = np.linspace(0, 1, 40)[:, None]
            data = BanditData(x, np.arange(40) % 2, np.full(40, 0.5), 2 * x[:, 0])
            q = RidgeRewardModel(l2=1e-3).fit(data).predict(x)
            assert q.shape == (40, 2) and abs(q[-1, 0] - 2.0) < 0.1
    """

    def __init__(self, l2: float = 1.0) -> None:
        if not (math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.l2 = l2
        self._coef: list[NDArray[np.float64]] = []
        self._mean: NDArray[np.float64] | None = None
        self._scale: NDArray[np.float64] | None = None

    def fit(self, data: BanditData) -> RidgeRewardModel:
        """Fit one regression per action on the steps that took it (the mean when too few)."""
        npy = require_numpy()
        x = data.contexts
        self._mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        self._scale = scale
        design = self._design(x)
        self._coef = []
        for a in range(len(data.action_names)):
            rows = data.actions == a
            coef = npy.zeros(design.shape[1])
            if rows.sum() == 0:
                self._coef.append(coef)
                continue
            xa, ya = design[rows], data.rewards[rows]
            if rows.sum() <= design.shape[1]:
                coef[0] = float(ya.mean())
            else:
                penalty = npy.full(design.shape[1], self.l2)
                penalty[0] = 1e-9
                coef = npy.linalg.solve(xa.T @ xa + npy.diag(penalty), xa.T @ ya)
            self._coef.append(coef)
        return self

    def _design(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        npy = require_numpy()
        assert self._mean is not None and self._scale is not None
        z = (x - self._mean) / self._scale
        return npy.hstack([npy.ones((len(x), 1)), z])  # type: ignore[no-any-return]

    def predict(self, contexts: NDArray[np.float64]) -> NDArray[np.float64]:
        """Predicted reward of every action on every context, shape ``(n, K)``.

        Raises:
            RuntimeError: Called before :meth:`fit`.
        """
        if not self._coef:
            raise RuntimeError("RidgeRewardModel.predict called before fit")
        npy = require_numpy()
        design = self._design(contexts)
        return npy.stack([design @ c for c in self._coef], axis=1)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ValueEstimate:
    """An estimate of a policy's value (mean reward per step) with a bootstrap interval.

    Attributes:
        estimator: ``"ips"``, ``"snips"``, ``"dr"`` or ``"on-policy"``.
        value: The point estimate.
        ci_low: Lower end of the confidence interval.
        ci_high: Upper end of the confidence interval.
        n: Steps the estimate used.
        confidence: Level of the interval (0.95 for 95%).
    """

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float = 0.95

    @property
    def ci_width(self) -> float:
        """``ci_high - ci_low``."""
        return self.ci_high - self.ci_low

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "estimator": self.estimator,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "confidence": self.confidence,
        }


def per_step_terms(
    data: BanditData,
    target_probs: NDArray[np.float64],
    estimator: Estimator,
    reward_model: RidgeRewardModel | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Numerator and denominator terms per step: the estimate is ``sum(num) / sum(den)``.

    For IPS and DR the denominator is 1 per step; for SNIPS it is the importance weight.
    """
    npy = require_numpy()
    n = len(data)
    rows = npy.arange(n)
    weight = target_probs[rows, data.actions] / data.propensities
    if estimator == "ips":
        return weight * data.rewards, npy.ones(n)
    if estimator == "snips":
        return weight * data.rewards, weight
    if estimator == "dr":
        if reward_model is None:
            raise ValueError("the dr estimator needs a fitted reward model")
        q = reward_model.predict(data.contexts)
        direct = (target_probs * q).sum(axis=1)
        return direct + weight * (data.rewards - q[rows, data.actions]), npy.ones(n)
    raise ValueError(f"estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")


def cross_fitted_terms(
    data: BanditData,
    target_probs: NDArray[np.float64],
    *,
    l2: float = 1.0,
    folds: int = 2,
    seed: int = 0,
) -> NDArray[np.float64]:
    """DR terms with the reward model cross-fitted over ``folds`` folds.

    Each fold is scored by a model fitted on the other folds, so no step's own reward enters its
    reward-model prediction.
    """
    npy = require_numpy()
    n = len(data)
    order = npy.random.default_rng(seed).permutation(n)
    terms = npy.zeros(n)
    for fold in range(folds):
        held = order[fold::folds]
        rest = npy.setdiff1d(order, held)
        model = RidgeRewardModel(l2).fit(data.subset(rest))
        num, _ = per_step_terms(data.subset(held), target_probs[held], "dr", model)
        terms[held] = num
    return terms  # type: ignore[no-any-return]


def estimate_value(
    data: BanditData,
    target_probs: NDArray[np.float64] | Sequence[Sequence[float]],
    estimator: Estimator = "dr",
    *,
    reward_model: RidgeRewardModel | None = None,
    l2: float = 1.0,
    n_bootstrap: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> ValueEstimate:
    """Estimate a target policy's value from logged steps, with a bootstrap interval.

    Args:
        data: The logged steps.
        target_probs: ``(n, K)`` probability the target policy gives each action on each step.
        estimator: ``"ips"``, ``"snips"`` or ``"dr"``.
        reward_model: For DR, a reward model fitted on *other* steps (e.g. a training split);
            when omitted the model is cross-fitted on two folds of ``data``.
        l2: Ridge penalty of a cross-fitted reward model.
        n_bootstrap: Bootstrap resamples for the interval (>= 10).
        confidence: Level of the interval, in (0, 1).
        seed: Seed of the resampling (and of the cross-fitting folds).

    Returns:
        The estimate.

    Raises:
        ValueError: Bad estimator, shapes, ``n_bootstrap`` or ``confidence``.

    Example:
        .. code-block:: python

            import numpy as np
            from langchain_netgpt.learn.off_policy import BanditData, estimate_value

            rng = np.random.default_rng(0)
            n = 400
            actions = rng.integers(0, 2, n)
            rewards = np.where(actions == 0, 1.0, 0.0) + rng.normal(0, 0.1, n)
            data = BanditData(rng.normal(size=(n, 1)), actions, np.full(n, 0.5), rewards)
            always_edge = np.tile([1.0, 0.0], (n, 1))
            estimate = estimate_value(data, always_edge, "ips", seed=1)
            assert estimate.ci_low < 1.0 < estimate.ci_high
    """
    npy = require_numpy()
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
    if not (isinstance(n_bootstrap, int) and n_bootstrap >= 10):
        raise ValueError(f"n_bootstrap must be an integer >= 10, got {n_bootstrap!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    probs = npy.asarray(target_probs, dtype=float)
    data.check_target(probs)
    if estimator == "dr" and reward_model is None:
        num, den = cross_fitted_terms(data, probs, l2=l2, seed=seed), npy.ones(len(data))
    else:
        num, den = per_step_terms(data, probs, estimator, reward_model)
    return _bootstrap(num, den, estimator, n_bootstrap, confidence, seed)


def on_policy_value(
    rewards: NDArray[np.float64],
    *,
    n_bootstrap: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> ValueEstimate:
    """The logging policy's own value: the mean logged reward, with a bootstrap interval."""
    npy = require_numpy()
    r = npy.asarray(rewards, dtype=float)
    if r.size == 0:
        raise ValueError("on_policy_value needs at least one reward")
    return _bootstrap(r, npy.ones(r.size), "on-policy", n_bootstrap, confidence, seed)


def _bootstrap(
    num: NDArray[np.float64],
    den: NDArray[np.float64],
    estimator: str,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> ValueEstimate:
    npy = require_numpy()
    n = len(num)
    value = float(num.sum() / den.sum()) if den.sum() > 0 else 0.0
    rng = npy.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_bootstrap, n))
    nums, dens = num[draws].sum(axis=1), den[draws].sum(axis=1)
    stats = npy.where(dens > 0, nums / npy.where(dens > 0, dens, 1.0), 0.0)
    alpha = (1 - confidence) / 2
    low, high = npy.quantile(stats, [alpha, 1 - alpha])
    return ValueEstimate(estimator, value, float(low), float(high), n, confidence)
