"""Edge-success scores: how likely the edge model is to answer a step well.

A scorer maps a step's :class:`~langchain_netgpt.routing.features.RequestFeatures` (and, if it
wants, the messages themselves) to ``s`` in ``[0, 1]``; the policy keeps the step on the edge
when ``s`` clears the network-dependent threshold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.features import FEATURE_NAMES, RequestFeatures

__all__ = ["EdgeScorer", "HeuristicScorer", "LearnedScorer", "load_scorer"]


@runtime_checkable
class EdgeScorer(Protocol):
    """Anything that scores a step's chance of success on the edge."""

    def score(self, features: RequestFeatures, messages: Sequence[BaseMessage]) -> float:
        """Return ``P(edge answers this step well)`` in ``[0, 1]``."""
        ...


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


class HeuristicScorer(BaseModel):
    """A transparent logistic score over request features.

    ``s = sigmoid(bias + sum(weight[f] * feature[f]))``. The default weights encode what small
    models are known to find hard in tool calling: many tools to choose from, deep or large
    schemas, several calls in one step, long contexts, and moving a conversation between sides;
    summarising a tool result is easy. With the defaults a one-tool, short request scores about
    0.8, a ten-tool request with a long question about 0.3.

    Args:
        bias: Intercept of the logistic.
        weights: Weight per feature name (see ``langchain_netgpt.routing.features.FEATURE_NAMES``);
            names left out weigh 0.

    Raises:
        ConfigurationError: A weight names an unknown feature or is not finite.

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing import HeuristicScorer, RequestFeatures

            scorer = HeuristicScorer()
            messages = [HumanMessage("Convert 3 miles to km")]
            s = scorer.score(RequestFeatures.from_messages(messages), messages)
            assert 0.0 <= s <= 1.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bias: float = Field(default=3.2, description="Logistic intercept.", allow_inf_nan=False)
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "log_prompt_tokens": -0.25,
            "log_question_tokens": -0.15,
            "tool_count": -0.22,
            "log_schema_bytes": -0.05,
            "schema_depth": -0.35,
            "required_params": -0.05,
            "turn_index": -0.05,
            "after_tool_result": 0.6,
            "multi_call_hints": -0.3,
            "switched_side": -0.2,
        },
        description="Weight per feature name.",
    )

    @field_validator("weights")
    @classmethod
    def _known_finite(cls, weights: dict[str, float]) -> dict[str, float]:
        for name, value in weights.items():
            if name not in FEATURE_NAMES:
                raise ConfigurationError(
                    f"HeuristicScorer.weights has unknown feature {name!r}; "
                    f"expected one of {list(FEATURE_NAMES)}",
                    field="weights",
                    value=name,
                )
            if not math.isfinite(value):
                raise ConfigurationError(
                    f"HeuristicScorer.weights[{name!r}] must be finite, got {value!r}",
                    field="weights",
                    value=value,
                )
        return weights

    _dense: tuple[float, ...] = PrivateAttr(default=())

    def model_post_init(self, __context: Any) -> None:
        """Precompute the dense weight vector."""
        # Dense weight vector in FEATURE_NAMES order, so score() is one zip over floats.
        self._dense = tuple(self.weights.get(name, 0.0) for name in FEATURE_NAMES)

    def score(self, features: RequestFeatures, messages: Sequence[BaseMessage]) -> float:
        """Score a step.

        Args:
            features: The step's features.
            messages: The step's messages (unused by this scorer).

        Returns:
            The edge-success probability.
        """
        z = self.bias
        for w, x in zip(self._dense, features.vector(), strict=True):
            z += w * x
        return _sigmoid(z)


def _interpolate(knots: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear ``knots`` at ``x``, flat beyond the first and last knot."""
    if x <= knots[0][0]:
        return knots[0][1]
    if x >= knots[-1][0]:
        return knots[-1][1]
    lo, hi = 0, len(knots) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if knots[mid][0] <= x:
            lo = mid
        else:
            hi = mid
    (x0, y0), (x1, y1) = knots[lo], knots[hi]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _pool_adjacent_violators(blocks: Sequence[Sequence[float]]) -> list[list[float]]:
    """Merge ``[weight, weight * raw, weight * label]`` blocks (sorted by raw) until monotone."""
    pooled: list[list[float]] = []
    for block in blocks:
        pooled.append(list(block))
        while len(pooled) > 1 and (
            pooled[-2][2] / pooled[-2][0] >= pooled[-1][2] / pooled[-1][0]
            or pooled[-2][1] / pooled[-2][0] >= pooled[-1][1] / pooled[-1][0]
        ):
            w2, x2, y2 = pooled.pop()
            pooled[-1][0] += w2
            pooled[-1][1] += x2
            pooled[-1][2] += y2
    return pooled


def _isotonic_knots(
    raw: Sequence[float],
    labels: Sequence[float],
    weights: Sequence[float],
    *,
    prior_weight: float = 0.0,
) -> list[tuple[float, float]]:
    """Isotonic regression of ``labels`` on ``raw`` (pool adjacent violators), as knots.

    Each pooled block becomes one knot at its weighted mean raw score and weighted mean label,
    so knots' raw values strictly increase and their calibrated values never decrease. With
    ``prior_weight`` > 0 each block also holds that many pseudo-rows at the overall mean label
    (a Beta prior: a block of a few lucky rows stays near the base rate) and the shrunk blocks
    are pooled again, so the map stays monotone.
    """
    order = sorted(range(len(raw)), key=lambda i: raw[i])
    rows = [
        [w, w * raw[i], w * labels[i]] for i in order if (w := max(float(weights[i]), 0.0)) > 0.0
    ]
    if not rows:
        raise ValueError("calibration needs at least one row with a positive weight")
    blocks = _pool_adjacent_violators(rows)
    if prior_weight > 0.0:
        base = sum(r[2] for r in rows) / sum(r[0] for r in rows)
        blocks = _pool_adjacent_violators(
            [
                [w + prior_weight, (w + prior_weight) * x / w, y + prior_weight * base]
                for w, x, y in blocks
            ]
        )
    return [(min(1.0, max(0.0, x / w)), min(1.0, max(0.0, y / w))) for w, x, y in blocks]


class LearnedScorer(BaseModel):
    """A logistic-regression scorer fitted from labelled steps.

    Labels say whether the edge answered the step correctly (from replayed benchmark outcomes or
    from traces where a step's edge answer could be checked). Features are standardised with the
    training means and scales, which are stored with the weights, so a saved scorer is one small
    JSON file.

    Args:
        bias: Intercept.
        weights: One weight per feature, in ``feature_names`` order.
        means: Feature means used for standardisation.
        scales: Feature standard deviations used for standardisation (> 0).
        feature_names: Must equal ``langchain_netgpt.routing.features.FEATURE_NAMES``.
        l2: The L2 penalty it was trained with (recorded for provenance).
        n_train: Number of rows it was trained on.
        calibration: Optional monotone map from the logistic output to a calibrated
            probability, as ``(raw, calibrated)`` knots joined by straight lines (flat beyond
            the ends). :meth:`fit` with ``calibrate=True`` learns it by isotonic regression on
            out-of-fold predictions: the policy compares the score with a threshold, so an
            overconfident tail would send steps to the edge that the edge then fails.

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing import LearnedScorer, RequestFeatures

            easy = RequestFeatures.from_messages([HumanMessage("hi")])
            hard = RequestFeatures.from_messages([HumanMessage("a, b, c and d; then e " * 20)])
            scorer = LearnedScorer.fit([easy, hard] * 10, [True, False] * 10)
            assert scorer.score(easy, []) > scorer.score(hard, [])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bias: float = Field(allow_inf_nan=False)
    weights: list[float]
    means: list[float]
    scales: list[float]
    feature_names: list[str] = Field(default_factory=lambda: list(FEATURE_NAMES))
    l2: float = Field(default=1.0, ge=0)
    n_train: int = Field(default=0, ge=0)
    calibration: list[tuple[float, float]] | None = Field(default=None)

    @field_validator("calibration")
    @classmethod
    def _monotone_knots(
        cls, knots: list[tuple[float, float]] | None
    ) -> list[tuple[float, float]] | None:
        if knots is None:
            return None
        xs = [x for x, _ in knots]
        ys = [y for _, y in knots]
        if (
            not knots
            or not all(0.0 <= v <= 1.0 for v in xs + ys)
            or any(b <= a for a, b in pairwise(xs))
            or any(b < a for a, b in pairwise(ys))
        ):
            raise ConfigurationError(
                "LearnedScorer.calibration must be (raw, calibrated) knots in [0, 1] with raw "
                f"strictly increasing and calibrated non-decreasing, got {knots!r}",
                field="calibration",
                value=knots,
            )
        return knots

    @field_validator("feature_names")
    @classmethod
    def _same_features(cls, names: list[str]) -> list[str]:
        if tuple(names) != FEATURE_NAMES:
            raise ConfigurationError(
                f"LearnedScorer was trained on features {names}, but this version computes "
                f"{list(FEATURE_NAMES)}; retrain it",
                field="feature_names",
                value=names,
            )
        return names

    _folded: tuple[float, ...] = PrivateAttr(default=())
    _offset: float = PrivateAttr(default=0.0)

    def model_post_init(self, __context: Any) -> None:
        """Check the parameters and fold the standardisation into the weights."""
        n = len(FEATURE_NAMES)
        for name in ("weights", "means", "scales"):
            values = getattr(self, name)
            if len(values) != n or not all(math.isfinite(v) for v in values):
                raise ConfigurationError(
                    f"LearnedScorer.{name} must hold {n} finite numbers, got {values!r}",
                    field=name,
                    value=values,
                )
        if any(s <= 0 for s in self.scales):
            raise ConfigurationError(
                f"LearnedScorer.scales must be > 0, got {self.scales!r}",
                field="scales",
                value=self.scales,
            )
        # Fold standardisation into the weights: w.(x - m)/s = (w/s).x - sum(w*m/s).
        folded = tuple(w / s for w, s in zip(self.weights, self.scales, strict=True))
        offset = sum(w * m for w, m in zip(folded, self.means, strict=True))
        self._folded = folded
        self._offset = self.bias - offset

    def score(self, features: RequestFeatures, messages: Sequence[BaseMessage]) -> float:
        """Score a step (the messages are not used)."""
        z = self._offset
        for w, x in zip(self._folded, features.vector(), strict=True):
            z += w * x
        raw = _sigmoid(z)
        return raw if self.calibration is None else _interpolate(self.calibration, raw)

    @classmethod
    def fit(
        cls,
        features: Sequence[RequestFeatures],
        labels: Sequence[bool | int | float],
        *,
        sample_weights: Sequence[float] | None = None,
        l2: float = 1.0,
        iterations: int = 200,
        calibrate: bool = False,
        calibration_folds: int = 5,
        calibration_prior: float = 0.0,
    ) -> LearnedScorer:
        """Fit by L2-regularised logistic regression (Newton's method).

        Args:
            features: Features of the training steps.
            labels: 1/True where the edge succeeded, 0/False where it failed; fractional labels
                (an estimated success probability) are accepted.
            sample_weights: Optional non-negative weight per row (e.g. inverse propensities).
            l2: L2 penalty on the standardised weights (not on the bias).
            iterations: Maximum Newton iterations.
            calibrate: Also learn :attr:`calibration`: refit on ``calibration_folds`` folds
                (row ``i`` in fold ``i % calibration_folds``), predict each held-out fold, and
                fit an isotonic map from those predictions to the labels. Needs at least two
                rows per fold and both labels among the rows.
            calibration_folds: Folds for ``calibrate``.
            calibration_prior: Pseudo-rows at the overall success rate added to every isotonic
                block (then pooled again to stay monotone). 0 is plain isotonic regression; a
                few rows keep a small block of lucky steps from mapping near 1, which a
                threshold near the cloud's quality would otherwise let through.

        Returns:
            The fitted scorer.

        Raises:
            ValueError: Lengths differ, there are fewer than 2 rows, labels lie outside [0, 1],
                weights are negative, ``calibration_prior`` is negative or not finite, or
                ``calibrate`` is asked with too few rows or folds.
        """
        import numpy as np

        if not (math.isfinite(calibration_prior) and calibration_prior >= 0):
            raise ValueError(
                f"calibration_prior must be a finite number >= 0, got {calibration_prior!r}"
            )
        if calibrate:
            return cls._fit_calibrated(
                features,
                labels,
                sample_weights=sample_weights,
                l2=l2,
                iterations=iterations,
                folds=calibration_folds,
                prior=calibration_prior,
            )
        n = len(features)
        y, sw = _checked_labels(n, labels, sample_weights, l2)
        x = np.asarray([f.vector() for f in features], dtype=float)
        means = x.mean(axis=0)
        scales = x.std(axis=0)
        scales[scales < 1e-9] = 1.0
        theta = _newton_logistic((x - means) / scales, y, sw, l2=l2, iterations=iterations)
        return cls(
            bias=float(theta[0]),
            weights=[float(v) for v in theta[1:]],
            means=[float(v) for v in means],
            scales=[float(v) for v in scales],
            l2=l2,
            n_train=n,
        )

    @classmethod
    def _fit_calibrated(
        cls,
        features: Sequence[RequestFeatures],
        labels: Sequence[bool | int | float],
        *,
        sample_weights: Sequence[float] | None,
        l2: float,
        iterations: int,
        folds: int,
        prior: float,
    ) -> LearnedScorer:
        """:meth:`fit` with ``calibrate=True``: the isotonic map of out-of-fold predictions."""
        n_rows = len(features)
        if folds < 2 or n_rows < 2 * folds:
            raise ValueError(
                f"calibrate=True needs calibration_folds >= 2 and at least 2 rows per fold, "
                f"got {folds} folds for {n_rows} rows"
            )
        base = cls.fit(
            features, labels, sample_weights=sample_weights, l2=l2, iterations=iterations
        )
        weights = [1.0] * n_rows if sample_weights is None else list(sample_weights)
        raw = [0.0] * n_rows
        for k in range(folds):
            fit_idx = [i for i in range(n_rows) if i % folds != k]
            held = [i for i in range(n_rows) if i % folds == k]
            fold = cls.fit(
                [features[i] for i in fit_idx],
                [labels[i] for i in fit_idx],
                sample_weights=[weights[i] for i in fit_idx],
                l2=l2,
                iterations=iterations,
            )
            for i in held:
                raw[i] = fold.score(features[i], [])
        knots = _isotonic_knots(raw, [float(v) for v in labels], weights, prior_weight=prior)
        return cls.model_validate({**base.model_dump(), "calibration": knots})

    def save(self, path: str | Path) -> None:
        """Write the scorer as JSON (atomically: a temp file then a rename)."""
        write_scorer_json(path, json.dumps(self.model_dump(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> LearnedScorer:
        """Read a scorer written by :meth:`save`.

        Raises:
            FileNotFoundError: The file does not exist.
            ConfigurationError: The file is not a valid scorer for this version.
        """
        return cls.model_validate(read_scorer_json(path))


def read_scorer_json(path: str | Path) -> Any:
    """The parsed JSON of a scorer file.

    Raises:
        FileNotFoundError: The file does not exist.
        ConfigurationError: It is not JSON.
    """
    from langchain_netgpt._json_limits import loads_config

    text = Path(path).read_text(encoding="utf-8")
    return loads_config(text, source=str(path), what="scorer file")


def write_scorer_json(path: str | Path, text: str) -> None:
    """Write a scorer file atomically: a temporary file beside it, then a rename."""
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def load_scorer(path: str | Path) -> EdgeScorer:
    """Read any saved scorer: a :class:`LearnedScorer` or a text-aware scorer.

    Text-aware scorers (:class:`~langchain_netgpt.routing.text_scorer.TextScorer`,
    :class:`~langchain_netgpt.routing.text_scorer.CloudRelativeScorer`, written by
    ``netgpt train-router --pairs``) carry a ``kind``; a file without one is a
    :class:`LearnedScorer`.

    Raises:
        FileNotFoundError: The file does not exist.
        ConfigurationError: The file is not a valid scorer of this version.
    """
    data = read_scorer_json(path)
    if isinstance(data, dict) and "kind" in data:
        from langchain_netgpt.routing.text_scorer import load_text_scorer

        return load_text_scorer(path)
    return LearnedScorer.model_validate(data)


def _checked_labels(
    n: int, labels: Sequence[bool | int | float], sample_weights: Sequence[float] | None, l2: float
) -> tuple[Any, Any]:
    """Labels and sample weights as arrays, checked for :meth:`LearnedScorer.fit`.

    Raises:
        ValueError: Lengths differ, fewer than 2 rows, a label outside [0, 1], a negative weight
            or a negative ``l2``.
    """
    import numpy as np

    if n != len(labels):
        raise ValueError(f"features has {n} rows but labels has {len(labels)}")
    if n < 2:
        raise ValueError(f"LearnedScorer.fit needs at least 2 rows, got {n}")
    y = np.asarray([float(v) for v in labels])
    if np.any((y < 0) | (y > 1)) or not np.all(np.isfinite(y)):
        raise ValueError("labels must lie in [0, 1] (True/False, 1/0 or probabilities)")
    sw = np.ones(n) if sample_weights is None else np.asarray(sample_weights, dtype=float)
    if sw.shape != (n,) or np.any(sw < 0) or not np.all(np.isfinite(sw)):
        raise ValueError(f"sample_weights must be {n} finite numbers >= 0")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    return y, sw


def _newton_logistic(z: Any, y: Any, sw: Any, *, l2: float, iterations: int) -> Any:
    """Weighted L2-regularised logistic regression by Newton's method: ``[bias, *weights]``.

    ``z`` holds the standardised rows; the bias is not penalised.
    """
    import numpy as np

    design = np.hstack([np.ones((len(z), 1)), z])
    theta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (sw * (p - y)) + penalty * theta
        hess = (design * (sw * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return theta
