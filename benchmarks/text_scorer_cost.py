"""Cost per routing step of the text-aware scorer, against the features-only LearnedScorer.

A step's text is embedded once (the embedding cache keeps it), so the decision path pays the
embedding on the step's first score and a dot product after that. Measured on real GSM8K
questions on this machine's CPU (2 cores, shared), one step at a time as the router calls it.

    python benchmarks/text_scorer_cost.py
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from langchain_core.messages import HumanMessage

from langchain_netgpt.recorded.pair_outcomes import load_pairs, pair_features, pair_text
from langchain_netgpt.routing import LearnedScorer
from langchain_netgpt.routing.text_embedding import EmbeddingCache
from langchain_netgpt.routing.text_scorer import CloudRelativeScorer

ROOT = Path(__file__).resolve().parents[1]
PAIRS = (ROOT / ".." / "shared" / "data" / "pairs" / "routellm-gsm8k.jsonl").resolve()
CACHE = ROOT / "benchmarks" / "results" / "pairs" / "embeddings-minilm.npz"
OUT = ROOT / "benchmarks" / "results" / "pairs" / "text_scorer_cost.json"


def _per_call_ms(fn, items) -> float:  # type: ignore[no-untyped-def]
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    rows = load_pairs(PAIRS, drop_contaminated=True)
    train, fresh = rows[:600], rows[600:700]
    texts = [pair_text(r) for r in train]
    feats = [pair_features(r) for r in train]
    learned = LearnedScorer.fit(feats, [r.edge.quality for r in train])
    table = []
    steps = [([HumanMessage(pair_text(r))], pair_features(r)) for r in fresh]
    baseline = _per_call_ms(lambda s: learned.score(s[1], s[0]), steps)
    table.append(("LearnedScorer (features only)", baseline, baseline))
    for embedders in (["hashed"], ["minilm"], ["minilm", "hashed"]):
        scorer = CloudRelativeScorer.fit(
            texts,
            feats,
            [r.edge.quality for r in train],
            [r.cloud.quality for r in train],
            embedders=embedders,
            cache=EmbeddingCache.load(CACHE),
        )
        scorer.attach(cache=EmbeddingCache(max_entries=4096))  # a router's cold cache
        scorer.score(*reversed(steps[0]))  # load the model once, as a router does at start
        cold = _per_call_ms(lambda s, sc=scorer: sc.score(s[1], s[0]), steps[1:])
        warm = _per_call_ms(lambda s, sc=scorer: sc.score(s[1], s[0]), steps[1:])
        table.append((f"CloudRelativeScorer {'+'.join(embedders)}", cold, warm))
    print("| scorer | first score of a step (ms, median) | again, cached (ms) | x LearnedScorer |")
    print("|---|---:|---:|---:|")
    for name, cold, warm in table:
        print(f"| {name} | {cold:.2f} | {warm:.2f} | {cold / baseline:.0f} |")
    OUT.write_text(
        json.dumps(
            [{"scorer": n, "first_ms": round(c, 3), "cached_ms": round(w, 3)} for n, c, w in table],
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
