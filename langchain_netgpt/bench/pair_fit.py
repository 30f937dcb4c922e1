"""Fit every router of the pairs benchmark on one seed's train half and score its test half.

Scorers (edge scores, ``P(edge answers well)``-like; the lowest go to the cloud):

- ``text``: the text-aware
  :class:`~langchain_netgpt.routing.text_scorer.CloudRelativeScorer`: two calibrated
  :class:`~langchain_netgpt.routing.text_scorer.TextScorer` heads (edge and cloud outcomes; the
  configured embedders, text statistics and request features), scored as
  ``q_c + P_edge - P_cloud`` (chosen over the edge head alone by cross-validation on the train
  halves: it ranks by the gap the cloud would close, not by the edge's difficulty alone);
- ``text-edge``: its edge head alone, ``P(edge answers well)``;
- ``features``: the package's :class:`~langchain_netgpt.routing.scoring.LearnedScorer` on request
  features alone (calibrated), what the router had before;
- RouteLLM's families (:mod:`~langchain_netgpt.bench.pair_peers`) on the first embedder's vectors:
  ``sw-ranking``, ``mf``, ``classifier-head``, and ``random``.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_fit import SCORERS

        assert SCORERS[0] == "text"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_netgpt.bench.pair_bench import PairBenchConfig, PairTask
from langchain_netgpt.bench.pair_peers import (
    ClassifierHeadPeer,
    MatrixFactorisationPeer,
    PairPeer,
    RandomPeer,
    SWRankingPeer,
)
from langchain_netgpt.recorded.splits import stable_seed
from langchain_netgpt.routing.scoring import LearnedScorer
from langchain_netgpt.routing.text_embedding import EmbeddingCache, TextEmbedder
from langchain_netgpt.routing.text_scorer import CloudRelativeScorer

__all__ = ["OURS", "PEERS", "SCORERS", "fit_seed"]

OURS = ("text", "text-edge", "features")
PEERS = ("sw-ranking", "mf", "classifier-head", "random")
SCORERS = (*OURS, *PEERS)


def _peers(seed: int) -> list[PairPeer]:
    return [
        SWRankingPeer(),
        MatrixFactorisationPeer(seed=stable_seed(seed, "mf") % 2**31),
        ClassifierHeadPeer(),
        RandomPeer(seed=stable_seed(seed, "random-peer") % 2**31),
    ]


def fit_seed(
    train: Sequence[PairTask],
    test: Sequence[PairTask],
    *,
    seed: int,
    config: PairBenchConfig,
    embedders: Sequence[TextEmbedder],
    cache: EmbeddingCache,
) -> dict[str, Any]:
    """Fit every scorer on ``train``; fill ``scores`` of each ``test`` task.

    Returns:
        What was fitted (the text scorer's penalty and calibration size, per-scorer notes).
    """
    import numpy

    texts = [t.text for t in train]
    labels = [t.edge_quality for t in train]
    text_scorer = CloudRelativeScorer.fit(
        texts,
        [t.features for t in train],
        labels,
        [t.cloud_quality for t in train],
        embedders=list(embedders),
        cache=cache,
        trained_on={"seed": seed, "rows": len(train), "split": "train half"},
    )
    test_texts = [t.text for t in test]
    test_features = [t.features for t in test]
    relative = text_scorer.score_many(test_texts, test_features)
    edge_only = text_scorer.edge.score_many(test_texts, test_features)
    for item, s, e in zip(test, relative, edge_only, strict=True):
        item.scores["text"] = s
        item.scores["text-edge"] = e
    features = LearnedScorer.fit(
        [t.features for t in train],
        labels,
        l2=1.0,
        calibrate=True,
        calibration_folds=5,
        calibration_prior=10.0,
    )
    for item in test:
        item.scores["features"] = features.score(item.features, [])
    base = embedders[0]
    train_emb = cache.embed(base, texts)
    test_emb = cache.embed(base, test_texts)
    edge_q = numpy.asarray(labels, dtype=float)
    cloud_q = numpy.asarray([t.cloud_quality for t in train], dtype=float)
    for peer in _peers(seed):
        scores = peer.fit(train_emb, edge_q, cloud_q).score(test_emb)
        for item, s in zip(test, scores, strict=True):
            item.scores[peer.name] = float(s)
    return {
        "text_scorer": {
            "embedders": text_scorer.edge.embedders,
            "edge_head_l2": text_scorer.edge.l2,
            "cloud_head_l2": text_scorer.cloud.l2,
            "cloud_mean": text_scorer.cloud_mean,
            "edge_head_knots": len(text_scorer.edge.calibration or []),
            "cloud_head_knots": len(text_scorer.cloud.calibration or []),
            "max_test_score": max(item.scores["text"] for item in test),
        },
        "features_scorer": {"l2": features.l2},
        "peers_on": base.name,
    }
