"""Small synthetic BFCL files, traces and recorded outcomes for the replay benchmark tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from langchain_netgpt.recorded.edge_outcomes import EdgeOutcome, OutcomesHeader

ADD = {
    "name": "math.add",
    "description": "Add two integers a and b.",
    "parameters": {
        "type": "dict",
        "properties": {
            "a": {"type": "integer", "description": "First number."},
            "b": {"type": "integer", "description": "Second number."},
        },
        "required": ["a", "b"],
    },
}


@dataclass
class BenchFiles:
    data: list[Path]
    traces: list[Path]
    outcomes: Path
    root: Path


def write_bfcl(root: Path, n: int = 30) -> list[Path]:
    """An answered ``toyadd`` file and an ``irrelevance`` file (no answers), ``n`` tasks each."""
    (root / "possible_answer").mkdir(parents=True, exist_ok=True)
    easy, answers, irrelevant = [], [], []
    for i in range(n):
        easy.append(
            {
                "id": f"toyadd_{i}",
                "question": [[{"role": "user", "content": f"Add {i} and {i + 1} please."}]],
                "function": [ADD],
            }
        )
        answers.append(
            {"id": f"toyadd_{i}", "ground_truth": [{"math.add": {"a": [i], "b": [i + 1]}}]}
        )
        irrelevant.append(
            {
                "id": f"irrelevance_{i}",
                "question": [[{"role": "user", "content": f"Who painted portrait number {i}?"}]],
                "function": [ADD],
            }
        )
    paths = [root / "BFCL_v4_toyadd.json", root / "BFCL_v4_irrelevance.json"]
    for path, rows in zip(paths, (easy, irrelevant), strict=True):
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (root / "possible_answer" / "BFCL_v4_toyadd.json").write_text(
        "\n".join(json.dumps(r) for r in answers) + "\n", encoding="utf-8"
    )
    return paths


def write_trace(
    path: Path,
    *,
    packets_per_ms: int = 1,
    period_ms: int = 2000,
    gap: tuple[int, int] | None = None,
) -> Path:
    """A mahimahi trace: ``packets_per_ms`` opportunities each ms, with an optional outage."""
    lines = []
    for ms in range(1, period_ms + 1):
        if gap is not None and gap[0] <= ms < gap[1]:
            continue
        lines.extend([str(ms)] * packets_per_ms)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def write_outcomes(path: Path, n: int = 30, *, skip: int = 0, latency_s: float = 2.0) -> Path:
    """Edge right on 4 of 5 ``toyadd`` tasks and wrong on every irrelevance task."""
    rows = [OutcomesHeader(model="toy-edge", device="cpu").model_dump_json()]
    for i in range(skip, n):
        right = i % 5 != 0
        rows.append(
            EdgeOutcome(
                id=f"toyadd_{i}",
                category="toyadd",
                calls=[{"name": "math.add", "args": {"a": i, "b": i + 1 if right else i}}],
                made_call=True,
                schema_valid=True,
                correct=right,
                input_tokens=120,
                output_tokens=20,
                latency_s=latency_s,
            ).model_dump_json()
        )
        rows.append(
            EdgeOutcome(
                id=f"irrelevance_{i}",
                category="irrelevance",
                calls=[{"name": "math.add", "args": {"a": 1, "b": 2}}],
                made_call=True,
                schema_valid=True,
                correct=False,
                reason="called a function",
                input_tokens=110,
                output_tokens=20,
                latency_s=latency_s,
            ).model_dump_json()
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bench_files(tmp_path: Path) -> BenchFiles:
    data = write_bfcl(tmp_path / "bfcl")
    traces = [
        write_trace(tmp_path / "toy.down", packets_per_ms=2),
        write_trace(tmp_path / "toy.up", gap=(500, 1500)),
        write_trace(tmp_path / "flat.trace"),
    ]
    outcomes = write_outcomes(tmp_path / "edge.jsonl")
    return BenchFiles(data, traces, outcomes, tmp_path)
