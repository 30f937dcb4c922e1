"""A text-aware edge-success scorer: ``P(edge answers well | the step's text, its features)``.

:class:`TextScorer` is a calibrated logistic regression over the step's text representation
(all-MiniLM-L6-v2 sentence embeddings and/or hashed word n-grams, see
:mod:`~langchain_netgpt.routing.text_embedding`), a few text statistics (:data:`TEXT_STAT_NAMES`)
and the router's own :class:`~langchain_netgpt.routing.features.RequestFeatures`. It is fitted
offline (:meth:`TextScorer.fit`: pair outcomes or checked traces), calibrated by isotonic
regression on out-of-fold predictions (the policy compares the score with a threshold, so it must
be a probability, not only a ranking), and saved as one JSON file. On the decision path it embeds
the step's text once (an :class:`~langchain_netgpt.routing.text_embedding.EmbeddingCache` keeps
it) and takes one dot product. It is an :class:`~langchain_netgpt.routing.scoring.EdgeScorer`:
pass it wherever a :class:`~langchain_netgpt.routing.scoring.LearnedScorer` goes.

Example:
    .. code-block:: python

        from langchain_core.messages import HumanMessage
        from langchain_netgpt.routing import RequestFeatures
        from langchain_netgpt.routing.text_scorer import TextScorer

        texts = ["What is 2 + 2?", "Prove the Riemann hypothesis in full."] * 20
        features = [RequestFeatures.from_messages([HumanMessage(t)]) for t in texts]
        scorer = TextScorer.fit(texts, features, [1.0, 0.0] * 20, embedders=["hashed"])
        messages = [HumanMessage("What is 3 + 3?")]
        s = scorer.score(RequestFeatures.from_messages(messages), messages)
        assert 0.0 <= s <= 1.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.features import FEATURE_NAMES, RequestFeatures
from langchain_netgpt.routing.graded_logistic import GradedLogistic
from langchain_netgpt.routing.scoring import (
    _interpolate,
    _isotonic_knots,
    read_scorer_json,
    write_scorer_json,
)
from langchain_netgpt.routing.text_embedding import (
    EMBEDDER_NAMES,
    EmbeddingCache,
    TextEmbedder,
    make_embedder,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CLOUD_RELATIVE_KIND",
    "TEXT_SCORER_KIND",
    "TEXT_STAT_NAMES",
    "CloudRelativeScorer",
    "TextScorer",
    "load_text_scorer",
    "step_text",
    "text_statistics",
]

TEXT_SCORER_KIND = "netgpt.text_scorer"
TEXT_STAT_NAMES: tuple[str, ...] = (
    "log_chars",
    "sentence_count",
    "log_max_number",
    "operator_signs",
)
"""Cheap statistics of the step's text, read beside the embedding (length, sentences, the
largest number written, and ``% / * + =`` signs)."""

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_OPERATORS = re.compile(r"[%/*+=]")
L2_GRID: tuple[float, ...] = (1.0, 3.0, 10.0)
"""L2 penalties (``1 / C``) :meth:`TextScorer.fit` chooses from by cross-validated log loss."""


def text_statistics(text: str) -> tuple[float, ...]:
    """:data:`TEXT_STAT_NAMES` of ``text``."""
    numbers = []
    for raw in _NUMBER.findall(text):
        try:
            numbers.append(float(raw.replace(",", "")))
        except ValueError:
            continue
    return (
        math.log1p(len(text)),
        float(len(_SENTENCE_END.findall(text))),
        math.log1p(max(numbers, default=0.0)),
        float(len(_OPERATORS.findall(text))),
    )


def step_text(messages: Sequence[BaseMessage]) -> str:
    """The text a :class:`TextScorer` reads: the user messages' text, joined by newlines."""
    parts = []
    for m in messages:
        if isinstance(m, HumanMessage):
            parts.append(m.content if isinstance(m.content, str) else m.text)
    return "\n".join(parts)


def _sigmoid_array(z: Any) -> Any:
    import numpy

    return 0.5 * (1.0 + numpy.tanh(0.5 * z))


class TextScorer(BaseModel):
    """Calibrated logistic regression over text embeddings, text statistics and features.

    Args:
        embedders: Names of the text representations, in the order their weights are stored
            (``"minilm"``, ``"hashed"``).
        hashed_features: Buckets of the ``"hashed"`` representation.
        bias: Intercept.
        text_weights: Weights of the concatenated text vectors.
        dense_weights: Weights of the standardised :data:`TEXT_STAT_NAMES` and
            ``FEATURE_NAMES`` (in that order).
        dense_means: Training means of those.
        dense_scales: Training standard deviations of those (> 0).
        l2: The L2 penalty chosen by cross-validation.
        n_train: Training rows.
        calibration: ``(raw, calibrated)`` isotonic knots (see ``LearnedScorer.calibration``).
        trained_on: Provenance (data file, split, seed).

    Raises:
        pydantic.ValidationError: The weights do not match the representation's size or the
            features of this version (the message names the field).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["netgpt.text_scorer"] = "netgpt.text_scorer"
    schema_version: int = 1
    embedders: list[str] = Field(min_length=1)
    hashed_features: int = Field(default=4096, ge=16)
    bias: float = Field(allow_inf_nan=False)
    text_weights: list[float]
    dense_names: list[str] = Field(
        default_factory=lambda: [*TEXT_STAT_NAMES, *FEATURE_NAMES],
        description="Names of the dense inputs, in order.",
    )
    dense_weights: list[float]
    dense_means: list[float]
    dense_scales: list[float]
    l2: float = Field(default=1.0, gt=0)
    n_train: int = Field(default=0, ge=0)
    calibration: list[tuple[float, float]] | None = None
    trained_on: dict[str, Any] = Field(default_factory=dict)

    _embedders: dict[str, TextEmbedder] = PrivateAttr(default_factory=dict)
    _cache: EmbeddingCache = PrivateAttr(default_factory=lambda: EmbeddingCache(4096))

    @field_validator("embedders")
    @classmethod
    def _known_embedders(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in EMBEDDER_NAMES]
        if unknown or len(set(names)) != len(names):
            raise ConfigurationError(
                f"TextScorer.embedders must be distinct names from {list(EMBEDDER_NAMES)}, "
                f"got {names}",
                field="embedders",
                value=names,
            )
        return names

    @field_validator("dense_names")
    @classmethod
    def _same_dense(cls, names: list[str]) -> list[str]:
        expected = [*TEXT_STAT_NAMES, *FEATURE_NAMES]
        if names != expected:
            raise ConfigurationError(
                f"TextScorer was trained on inputs {names}, but this version computes "
                f"{expected}; retrain it",
                field="dense_names",
                value=names,
            )
        return names

    def model_post_init(self, __context: Any) -> None:
        """Check that the weights fit the representation and the calibration is monotone."""
        dims = sum(384 if n == "minilm" else self.hashed_features for n in self.embedders)
        dense = len(self.dense_names)
        checks = (
            ("text_weights", self.text_weights, dims),
            ("dense_weights", self.dense_weights, dense),
            ("dense_means", self.dense_means, dense),
            ("dense_scales", self.dense_scales, dense),
        )
        for name, values, size in checks:
            if len(values) != size or not all(math.isfinite(v) for v in values):
                raise ConfigurationError(
                    f"TextScorer.{name} must hold {size} finite numbers, got {len(values)}",
                    field=name,
                )
        if any(s <= 0 for s in self.dense_scales):
            raise ConfigurationError("TextScorer.dense_scales must be > 0", field="dense_scales")
        knots = self.calibration
        if knots is not None and (
            not knots
            or any(not (0 <= v <= 1) for k in knots for v in k)
            or any(b[0] <= a[0] or b[1] < a[1] for a, b in pairwise(knots))
        ):
            raise ConfigurationError(
                "TextScorer.calibration must be (raw, calibrated) knots in [0, 1], raw strictly "
                "increasing and calibrated non-decreasing",
                field="calibration",
            )

    def attach(
        self,
        embedders: Mapping[str, TextEmbedder] | None = None,
        *,
        cache: EmbeddingCache | None = None,
    ) -> TextScorer:
        """Use these embedder instances and this cache (e.g. a GPU embedder, a shared cache).

        Returns:
            ``self``, for chaining.
        """
        for name, embedder in (embedders or {}).items():
            if name not in self.embedders:
                raise ValueError(f"this scorer does not use embedder {name!r}")
            self._embedders[name] = embedder
        if cache is not None:
            self._cache = cache
        return self

    def _embedder(self, name: str) -> TextEmbedder:
        if name not in self._embedders:
            self._embedders[name] = make_embedder(name, hashed_features=self.hashed_features)
        return self._embedders[name]

    def _design(
        self, texts: Sequence[str], features: Sequence[RequestFeatures]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        import numpy

        blocks = [self._cache.embed(self._embedder(n), texts) for n in self.embedders]
        return numpy.hstack(blocks).astype(float), _dense_columns(texts, features)

    def raw_scores(
        self, texts: Sequence[str], features: Sequence[RequestFeatures]
    ) -> NDArray[np.float64]:
        """Uncalibrated logistic outputs of many steps at once."""
        import numpy

        text, dense = self._design(texts, features)
        z = (
            self.bias
            + text @ numpy.asarray(self.text_weights)
            + ((dense - numpy.asarray(self.dense_means)) / numpy.asarray(self.dense_scales))
            @ numpy.asarray(self.dense_weights)
        )
        return _sigmoid_array(z)  # type: ignore[no-any-return]

    def score_many(self, texts: Sequence[str], features: Sequence[RequestFeatures]) -> list[float]:
        """Calibrated scores of many steps (one embedding batch)."""
        raw = self.raw_scores(texts, features)
        if self.calibration is None:
            return [float(v) for v in raw]
        return [_interpolate(self.calibration, float(v)) for v in raw]

    def score(self, features: RequestFeatures, messages: Sequence[BaseMessage]) -> float:
        """Score one step from its user messages' text and its features."""
        return self.score_many([step_text(messages)], [features])[0]

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        features: Sequence[RequestFeatures],
        labels: Sequence[float],
        *,
        embedders: Sequence[str | TextEmbedder] = ("minilm",),
        cache: EmbeddingCache | None = None,
        hashed_features: int = 4096,
        l2_grid: Sequence[float] = L2_GRID,
        folds: int = 5,
        calibration_prior: float = 10.0,
        trained_on: Mapping[str, Any] | None = None,
    ) -> TextScorer:
        """Fit on labelled steps: L2 chosen by cross-validation, isotonic calibration.

        Row ``i`` is in fold ``i % folds`` (pass rows in a stable order for a reproducible fit).
        A fractional label (a graded quality in ``[0, 1]``) counts as that weight of a good
        answer and the rest of a bad one.

        Args:
            texts: Each step's text (:func:`step_text` of its messages).
            features: Each step's request features.
            labels: 1 where the edge answered well, 0 where not; or a quality in ``[0, 1]``.
            embedders: Representations, by name or as instances (``"minilm"``, ``"hashed"``).
            cache: Embedding cache (shared with later scoring).
            hashed_features: Buckets of the ``"hashed"`` representation.
            l2_grid: Penalties to choose from.
            folds: Cross-validation folds (also the calibration's out-of-fold predictions).
            calibration_prior: Pseudo-rows at the base rate added to each isotonic block.
            trained_on: Provenance recorded in the file.

        Returns:
            The fitted scorer (with the embedders and cache attached).

        Raises:
            ValueError: Lengths differ, fewer than ``2 * folds`` rows, labels outside ``[0, 1]``
                or all equal, or an empty ``l2_grid``.
            ImportError: scikit-learn (extra ``bench``) or an embedder's packages are missing.
        """
        import numpy

        fit = GradedLogistic()  # needs scikit-learn: checked first
        n = len(texts)
        y = numpy.asarray([float(v) for v in labels])
        _check_fit_inputs(n, len(features), y, folds, l2_grid)
        instances = [
            e if not isinstance(e, str) else make_embedder(e, hashed_features=hashed_features)
            for e in embedders
        ]
        for e in instances:
            if e.name == "hashed":
                hashed_features = e.dimension
        shared = cache if cache is not None else EmbeddingCache()
        text = numpy.hstack([shared.embed(e, texts) for e in instances]).astype(float)
        design, means, scales = _fit_design(text, texts, features)
        l2, oof = fit.choose_l2(design, y, l2_grid, folds)
        final = fit.rows(design, y, numpy.arange(n), l2)
        coef = final.coef_[0]
        knots = _isotonic_knots(
            [float(v) for v in oof],
            [float(v) for v in y],
            [1.0] * n,
            prior_weight=calibration_prior,
        )
        scorer = cls(
            embedders=[e.name for e in instances],
            hashed_features=hashed_features,
            bias=float(final.intercept_[0]),
            text_weights=[float(v) for v in coef[: text.shape[1]]],
            dense_weights=[float(v) for v in coef[text.shape[1] :]],
            dense_means=[float(v) for v in means],
            dense_scales=[float(v) for v in scales],
            l2=l2,
            n_train=n,
            calibration=knots,
            trained_on=dict(trained_on or {}),
        )
        return scorer.attach({e.name: e for e in instances}, cache=shared)

    def save(self, path: str | Path) -> None:
        """Write the scorer as JSON (atomically: a temp file then a rename)."""
        write_scorer_json(path, self.model_dump_json())

    @classmethod
    def load(cls, path: str | Path) -> TextScorer:
        """Read a scorer written by :meth:`save`.

        Raises:
            FileNotFoundError: The file does not exist.
            ConfigurationError: The file is not a text scorer of this version.
        """
        scorer = load_text_scorer(path)
        if not isinstance(scorer, TextScorer):
            raise ConfigurationError(
                f"{path}: a {scorer.kind!r} file, not a single {TEXT_SCORER_KIND!r} head",
                field="kind",
                value=scorer.kind,
            )
        return scorer


CLOUD_RELATIVE_KIND = "netgpt.cloud_relative_scorer"


class CloudRelativeScorer(BaseModel):
    """An edge score that also knows how good the cloud is on this step.

    NetGPT's closed form keeps a step on the edge iff ``s >= q_c - cost / V`` with ``q_c`` the
    cloud's *mean* quality; but the cloud's quality varies with the step too (on GSM8K both
    models fail the hardest questions). With two calibrated heads, ``P_edge(x)`` and
    ``P_cloud(x)``, this scorer returns ``clip(q_c + P_edge(x) - P_cloud(x), 0, 1)``, so the
    unchanged closed form compares the two sides' qualities on the step itself:
    ``s >= tau  <=>  P_cloud(x) - P_edge(x) <= cost / V``. Both heads share one embedding cache,
    so a step's text is embedded once.

    Args:
        edge: Head fitted on the edge's outcomes.
        cloud: Head fitted on the cloud's outcomes (same embedders).
        cloud_mean: ``q_c``: the cloud's mean quality on the training rows (give the policy the
            same number as ``NetGPTPolicy.cloud_quality``).

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing import RequestFeatures
            from langchain_netgpt.routing.text_scorer import CloudRelativeScorer

            texts = ["What is 2 + 2?", "Prove the Riemann hypothesis in full."] * 20
            feats = [RequestFeatures.from_messages([HumanMessage(t)]) for t in texts]
            scorer = CloudRelativeScorer.fit(
                texts, feats, [1.0, 0.0] * 20, [1.0, 0.5] * 20, embedders=["hashed"]
            )
            assert 0.0 <= scorer.score(feats[0], [HumanMessage(texts[0])]) <= 1.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["netgpt.cloud_relative_scorer"] = "netgpt.cloud_relative_scorer"
    edge: TextScorer
    cloud: TextScorer
    cloud_mean: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _same_representation(self) -> CloudRelativeScorer:
        if (self.edge.embedders, self.edge.hashed_features) != (
            self.cloud.embedders,
            self.cloud.hashed_features,
        ):
            raise ConfigurationError(
                "CloudRelativeScorer's heads must read the same embedders "
                f"({self.edge.embedders} vs {self.cloud.embedders})",
                field="cloud",
            )
        # One cache and one set of embedders for both heads: each text is embedded once.
        self.cloud.attach(self.edge._embedders, cache=self.edge._cache)
        self.cloud._embedders = self.edge._embedders
        return self

    def attach(
        self,
        embedders: Mapping[str, TextEmbedder] | None = None,
        *,
        cache: EmbeddingCache | None = None,
    ) -> CloudRelativeScorer:
        """Use these embedders and this cache in both heads (see :meth:`TextScorer.attach`)."""
        self.edge.attach(embedders, cache=cache)
        self.cloud.attach(embedders, cache=cache)
        self.cloud._embedders = self.edge._embedders
        return self

    def score_many(self, texts: Sequence[str], features: Sequence[RequestFeatures]) -> list[float]:
        """Scores of many steps."""
        edge = self.edge.score_many(texts, features)
        cloud = self.cloud.score_many(texts, features)
        return [
            min(1.0, max(0.0, self.cloud_mean + e - c)) for e, c in zip(edge, cloud, strict=True)
        ]

    def score(self, features: RequestFeatures, messages: Sequence[BaseMessage]) -> float:
        """Score one step."""
        return self.score_many([step_text(messages)], [features])[0]

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        features: Sequence[RequestFeatures],
        edge_labels: Sequence[float],
        cloud_labels: Sequence[float],
        **kwargs: Any,
    ) -> CloudRelativeScorer:
        """Fit both heads with :meth:`TextScorer.fit` (same keyword arguments, one cache).

        Raises:
            ValueError: As :meth:`TextScorer.fit`, for either head.
        """
        cache = kwargs.pop("cache", None) or EmbeddingCache()
        edge = TextScorer.fit(texts, features, edge_labels, cache=cache, **kwargs)
        cloud = TextScorer.fit(texts, features, cloud_labels, cache=cache, **kwargs)
        mean = sum(float(v) for v in cloud_labels) / len(cloud_labels)
        return cls(edge=edge, cloud=cloud, cloud_mean=mean)

    def save(self, path: str | Path) -> None:
        """Write the scorer as JSON (atomically)."""
        write_scorer_json(path, self.model_dump_json())


def load_text_scorer(path: str | Path) -> TextScorer | CloudRelativeScorer:
    """Read a :class:`TextScorer` or :class:`CloudRelativeScorer` file (by its ``kind``).

    Raises:
        FileNotFoundError: The file does not exist.
        ConfigurationError: The file is neither.
    """
    data = read_scorer_json(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == CLOUD_RELATIVE_KIND:
        return CloudRelativeScorer.model_validate(data)
    if kind == TEXT_SCORER_KIND:
        return TextScorer.model_validate(data)
    raise ConfigurationError(
        f"{path}: not a text scorer file (kind {kind!r}, expected {TEXT_SCORER_KIND!r} or "
        f"{CLOUD_RELATIVE_KIND!r})",
        field="kind",
        value=kind,
    )


def _dense_columns(texts: Sequence[str], features: Sequence[RequestFeatures]) -> Any:
    """The dense columns of steps: their text statistics, then their request features."""
    import numpy

    return numpy.asarray(
        [(*text_statistics(t), *f.vector()) for t, f in zip(texts, features, strict=True)],
        dtype=float,
    )


def _fit_design(
    text: Any, texts: Sequence[str], features: Sequence[RequestFeatures]
) -> tuple[Any, Any, Any]:
    """The design matrix (text columns, then standardised dense ones), dense means, scales."""
    import numpy

    dense = _dense_columns(texts, features)
    means = dense.mean(axis=0)
    scales = dense.std(axis=0)
    scales[scales < 1e-9] = 1.0
    return numpy.hstack([text, (dense - means) / scales]), means, scales


def _check_fit_inputs(
    n: int, n_features: int, y: Any, folds: int, l2_grid: Sequence[float]
) -> None:
    """Raise ``ValueError`` naming what is wrong with :meth:`TextScorer.fit`'s inputs."""
    import numpy

    if n_features != n or len(y) != n:
        raise ValueError(f"{n} texts, {n_features} feature rows and {len(y)} labels")
    if folds < 2 or n < 2 * folds:
        raise ValueError(f"fitting needs at least {2 * folds} rows ({folds} folds), got {n}")
    if numpy.any((y < 0) | (y > 1)) or not numpy.all(numpy.isfinite(y)):
        raise ValueError("labels must lie in [0, 1]")
    if float(y.min()) == float(y.max()):
        raise ValueError("labels are all equal: nothing to learn a ranking from")
    if not l2_grid or any(not (v > 0 and math.isfinite(v)) for v in l2_grid):
        raise ValueError(f"l2_grid must hold finite values > 0, got {list(l2_grid)}")
