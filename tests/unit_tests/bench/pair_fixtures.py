"""Pair-outcome rows for the pairs benchmark tests: a slice of the real file and made-up rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED_PAIRS = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "data"
    / "pairs"
    / "routellm-gsm8k.jsonl"
).resolve()
TRACES = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "network-traces"
).resolve()
EMBEDDINGS = (
    Path(__file__).resolve().parents[3]
    / "benchmarks"
    / "results"
    / "pairs"
    / "embeddings-minilm.npz"
)


def real_rows(n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of the real GSM8K pair file."""
    rows = []
    with SHARED_PAIRS.open(encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def graded_row(i: int, edge: float, cloud: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"chat-{i}",
        "category": "chat",
        "messages": [{"role": "user", "content": f"Write a haiku about topic {i}."}],
        "edge": {"model": "small", "score": edge},
        "cloud": {"model": "large", "score": cloud, "response": "A haiku " * 10},
        **extra,
    }
