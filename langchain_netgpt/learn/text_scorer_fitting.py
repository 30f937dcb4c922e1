"""``netgpt train-router --pairs``: fit the text-aware scorer on pair outcomes, check it, save it.

The rows of pair-outcome files (:mod:`~langchain_netgpt.recorded.pair_outcomes`) are split by id
(seeded, stratified by category, as the pairs benchmark splits them); a
:class:`~langchain_netgpt.routing.text_scorer.CloudRelativeScorer` is fitted on the training split
and scored on the held-out split (APGR and CPT of its routing curve, and of the edge head alone),
and the fitted scorer is written as JSON. Load it with
:func:`~langchain_netgpt.routing.scoring.load_scorer` and pass it as ``NetGPTRouter(scorer=...)``
with ``NetGPTPolicy(cloud_quality=scorer.cloud_mean)``.

Example:
    .. code-block:: python

        from langchain_netgpt.learn.text_scorer_fitting import train_text_scorer

        # fit = train_text_scorer(["pairs.jsonl"], "scorer.json", embedders=["hashed"])
        # print(fit.held_out["text"]["apgr"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_netgpt.recorded.pair_outcomes import PairRow
    from langchain_netgpt.routing.text_scorer import CloudRelativeScorer

__all__ = ["TextScorerFit", "train_text_scorer"]


@dataclass(frozen=True)
class TextScorerFit:
    """What :func:`train_text_scorer` produced.

    Attributes:
        scorer: The fitted scorer (already saved).
        held_out: ``{"text": curve, "text-edge": curve}``: APGR, CPT(50%), CPT(80%) of the
            held-out routing curves.
        n_train: Training rows.
        n_test: Held-out rows.
        notes: Anything the caller should print.
    """

    scorer: Any
    held_out: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    notes: list[str] = field(default_factory=list)


def train_text_scorer(
    pairs: Sequence[str | Path],
    out: str | Path,
    *,
    embedders: Sequence[str] = ("minilm", "hashed"),
    seed: int = 0,
    test_fraction: float = 0.3,
    drop_contaminated: bool = True,
    embedding_cache: str | Path | None = None,
) -> TextScorerFit:
    """Fit a :class:`~langchain_netgpt.routing.text_scorer.CloudRelativeScorer` on pair outcomes.

    Args:
        pairs: Pair-outcome files.
        out: Scorer file to write (JSON).
        embedders: Text representations (``"minilm"``, ``"hashed"``).
        seed: Seed of the split.
        test_fraction: Held-out share, in (0, 1).
        drop_contaminated: Leave out rows marked ``contaminated``.
        embedding_cache: A ``.npz`` embedding cache to read (and update) instead of re-embedding.

    Returns:
        The fit.

    Raises:
        ValueError: Bad options, or too few rows / no quality gap on the held-out split.
        BenchmarkDataError: A pair file is malformed.
        ImportError: scikit-learn or an embedder's packages are missing.
    """
    from langchain_netgpt.recorded.pair_outcomes import load_pairs
    from langchain_netgpt.recorded.splits import split_by_category

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    rows = [r for f in pairs for r in load_pairs(f, drop_contaminated=drop_contaminated)]
    if len({r.id for r in rows}) != len(rows):
        raise ValueError("a row id appears twice across the pair files")
    train, test = split_by_category(
        rows,
        id_of=lambda r: r.id,
        category_of=lambda r: r.category,
        test_fraction=test_fraction,
        seed=seed,
    )
    train.sort(key=lambda r: r.id)
    if len(train) < 20 or len(test) < 10:
        raise ValueError(
            f"{len(rows)} rows split {len(train)}/{len(test)}: need >= 20 training and >= 10 "
            "held-out rows"
        )
    trained_on = {
        "pairs": [str(p) for p in pairs],
        "rows": len(train),
        "seed": seed,
        "test_fraction": test_fraction,
        "drop_contaminated": drop_contaminated,
    }
    scorer = _fit(train, embedders, embedding_cache, trained_on)
    held_out = _held_out(scorer, test)
    scorer.save(out)
    notes = [
        f"use it with NetGPTPolicy(cloud_quality={scorer.cloud_mean:.3f}): the scorer's output "
        "is the edge's quality relative to that mean"
    ]
    return TextScorerFit(scorer, held_out, len(train), len(test), notes)


def _fit(
    train: Sequence[PairRow],
    embedders: Sequence[str],
    embedding_cache: str | Path | None,
    trained_on: dict[str, Any],
) -> CloudRelativeScorer:
    """Fit the scorer on ``train``, through the embedding cache (saved when it grew)."""
    from langchain_netgpt.recorded.pair_outcomes import pair_features, pair_text
    from langchain_netgpt.routing.text_embedding import EmbeddingCache
    from langchain_netgpt.routing.text_scorer import CloudRelativeScorer

    cache_file = Path(embedding_cache) if embedding_cache is not None else None
    cache = EmbeddingCache.load(cache_file) if cache_file and cache_file.is_file() else None
    cache = cache or EmbeddingCache()
    minilm_before = cache.count("minilm")
    scorer = CloudRelativeScorer.fit(
        [pair_text(r) for r in train],
        [pair_features(r) for r in train],
        [r.edge.quality for r in train],
        [r.cloud.quality for r in train],
        embedders=list(embedders),
        cache=cache,
        trained_on=trained_on,
    )
    if cache_file is not None and cache.count("minilm") > minilm_before:
        cache.save(cache_file, embedders=["minilm"])
    return scorer


def _held_out(scorer: CloudRelativeScorer, test: Sequence[PairRow]) -> dict[str, dict[str, float]]:
    """APGR and CPTs of the scorer's (and its edge head's) quality-only curve on ``test``."""
    from langchain_netgpt.recorded.curves import ranking_curve
    from langchain_netgpt.recorded.pair_outcomes import pair_features, pair_text

    texts, features = [pair_text(r) for r in test], [pair_features(r) for r in test]
    edge_q, cloud_q = [r.edge.quality for r in test], [r.cloud.quality for r in test]
    held_out: dict[str, dict[str, float]] = {}
    for name, scores in (
        ("text", scorer.score_many(texts, features)),
        ("text-edge", scorer.edge.score_many(texts, features)),
    ):
        curve = ranking_curve(
            scores, edge_quality=edge_q, cloud_quality=cloud_q, ids=[r.id for r in test]
        )
        held_out[name] = {k: float(v) for k, v in curve.items() if k != "points"}
    return held_out
