"""Embed every row of pair-outcome files with all-MiniLM-L6-v2 and keep them in a cache file.

The pairs benchmark reads this cache instead of loading the model (same vectors: both are rounded
to float16), and the unit tests read a slice of it, so they run the scorer on embeddings computed
by the real model without loading its weights.

    python benchmarks/pair_embeddings.py ../shared/data/pairs/routellm-gsm8k.jsonl \
        --out benchmarks/results/pairs/embeddings-minilm.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from langchain_netgpt.recorded.pair_outcomes import load_pairs, pair_text
from langchain_netgpt.routing.text_embedding import EmbeddingCache, MiniLMEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", nargs="+", type=Path)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/pairs/embeddings-minilm.npz")
    )
    args = parser.parse_args()
    texts = sorted({pair_text(row) for file in args.pairs for row in load_pairs(file)})
    cache = EmbeddingCache.load(args.out) if args.out.is_file() else EmbeddingCache()
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    cache.embed(embedder, texts)
    elapsed = time.perf_counter() - started
    cache.save(args.out)
    print("| texts | newly embedded | seconds | per text (ms) | cache |")
    print("|---:|---:|---:|---:|---|")
    print(
        f"| {len(texts)} | {cache.misses} | {elapsed:.1f} | "
        f"{1000 * elapsed / max(1, cache.misses):.1f} | {args.out} |"
    )


if __name__ == "__main__":
    main()
