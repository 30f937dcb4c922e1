from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing import LearnedScorer, RequestFeatures
from langchain_netgpt.routing.scoring import load_scorer
from langchain_netgpt.routing.text_embedding import (
    EmbeddingCache,
    HashedNgramEmbedder,
    MiniLMEmbedder,
)
from langchain_netgpt.routing.text_scorer import (
    CloudRelativeScorer,
    TextScorer,
    load_text_scorer,
    step_text,
    text_statistics,
)

from .bench.pair_fixtures import EMBEDDINGS, real_rows

EASY = [f"What is {i} plus {i}?" for i in range(20)]
HARD = [
    f"A train leaves at {i}:15 going 45% faster than a car; how far apart after {i} h?"
    for i in range(20)
]


def _features(texts: list[str]) -> list[RequestFeatures]:
    return [RequestFeatures.from_messages([HumanMessage(t)]) for t in texts]


def _fit(**kwargs: object) -> TextScorer:
    texts = EASY + HARD
    return TextScorer.fit(
        texts,
        _features(texts),
        [1.0] * 20 + [0.0] * 20,
        embedders=["hashed"],
        hashed_features=256,
        **kwargs,
    )


def test_a_fitted_text_scorer_ranks_easy_steps_above_hard_ones() -> None:
    scorer = _fit()
    easy = [HumanMessage("What is 7 plus 7?")]
    hard = [HumanMessage("A bus leaves at 9:15 going 30% faster than a bike; how far apart?")]
    assert scorer.score(RequestFeatures.from_messages(easy), easy) > scorer.score(
        RequestFeatures.from_messages(hard), hard
    )


def test_a_saved_text_scorer_scores_the_same_after_loading(tmp_path: Path) -> None:
    scorer = _fit()
    scorer.save(tmp_path / "s.json")
    again = TextScorer.load(tmp_path / "s.json")
    texts = ["What is 3 plus 3?", "How far apart are two trains?"]
    assert again.score_many(texts, _features(texts)) == scorer.score_many(texts, _features(texts))


def test_scores_are_calibrated_probabilities() -> None:
    scorer = _fit()
    assert scorer.calibration is not None
    assert all(0.0 <= s <= 1.0 for s in scorer.score_many(EASY + HARD, _features(EASY + HARD)))


def test_weights_of_the_wrong_size_are_rejected() -> None:
    data = _fit().model_dump()
    data["text_weights"] = data["text_weights"][:-1]
    with pytest.raises(ValueError, match="text_weights must hold 256"):
        TextScorer.model_validate(data)


def test_fitting_on_one_label_only_says_there_is_nothing_to_learn() -> None:
    with pytest.raises(ValueError, match="all equal"):
        TextScorer.fit(EASY, _features(EASY), [1.0] * 20, embedders=["hashed"])


def test_the_cloud_relative_score_is_the_edge_quality_relative_to_the_cloud_mean() -> None:
    texts = EASY + HARD
    scorer = CloudRelativeScorer.fit(
        texts,
        _features(texts),
        [1.0] * 20 + [0.0] * 20,
        [1.0] * 20 + [0.5] * 20,
        embedders=["hashed"],
        hashed_features=256,
    )
    edge = scorer.edge.score_many(texts, _features(texts))
    cloud = scorer.cloud.score_many(texts, _features(texts))
    got = scorer.score_many(texts, _features(texts))
    assert scorer.cloud_mean == 0.75
    assert got == [min(1.0, max(0.0, 0.75 + e - c)) for e, c in zip(edge, cloud, strict=True)]


def test_load_scorer_reads_a_learned_or_a_text_scorer_by_kind(tmp_path: Path) -> None:
    learned = LearnedScorer.fit(_features(EASY + HARD), [1.0] * 20 + [0.0] * 20)
    learned.save(tmp_path / "learned.json")
    _fit().save(tmp_path / "text.json")
    assert isinstance(load_scorer(tmp_path / "learned.json"), LearnedScorer)
    assert isinstance(load_scorer(tmp_path / "text.json"), TextScorer)
    (tmp_path / "other.json").write_text(json.dumps({"kind": "something"}))
    with pytest.raises(ConfigurationError, match="not a text scorer file"):
        load_text_scorer(tmp_path / "other.json")


def test_the_step_text_is_the_user_messages() -> None:
    assert step_text([HumanMessage("a"), HumanMessage("b")]) == "a\nb"
    assert text_statistics("Pay $1,200 or 5%.")[2] == pytest.approx(np.log1p(1200))


def test_the_embedding_cache_embeds_each_text_once_and_round_trips(tmp_path: Path) -> None:
    cache = EmbeddingCache()
    embedder = HashedNgramEmbedder(64)
    first = cache.embed(embedder, ["a b", "c d", "a b"])
    assert cache.misses == 2 and cache.hits == 1
    cache.save(tmp_path / "c.npz")
    again = EmbeddingCache.load(tmp_path / "c.npz").embed(embedder, ["a b", "c d", "a b"])
    assert np.array_equal(first, again)


def test_a_bounded_cache_drops_the_least_recently_used_text() -> None:
    cache = EmbeddingCache(max_entries=2)
    embedder = HashedNgramEmbedder(64)
    cache.embed(embedder, ["one"])
    cache.embed(embedder, ["two"])
    cache.embed(embedder, ["one"])
    cache.embed(embedder, ["three"])
    assert len(cache) == 2
    cache.embed(embedder, ["two"])
    assert cache.misses == 4


class _NoModel(MiniLMEmbedder):
    """MiniLM whose weights must not load: every vector has to come from the cache file."""

    def embed(self, texts):  # type: ignore[no-untyped-def]
        raise AssertionError(f"{len(texts)} texts missed the committed embedding cache")


def test_minilm_scorer_fits_on_embeddings_the_real_model_computed() -> None:
    from langchain_netgpt.recorded.pair_outcomes import PairRow, pair_features, pair_text

    rows = [PairRow.model_validate(r) for r in real_rows(120)]
    texts = [pair_text(r) for r in rows]
    cache = EmbeddingCache.load(EMBEDDINGS)
    scorer = TextScorer.fit(
        texts,
        [pair_features(r) for r in rows],
        [r.edge.quality for r in rows],
        embedders=[_NoModel()],
        cache=cache,
    )
    vectors = cache.embed(_NoModel(), texts)
    assert vectors.shape == (120, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
    assert scorer.embedders == ["minilm"] and len(scorer.text_weights) == 384
