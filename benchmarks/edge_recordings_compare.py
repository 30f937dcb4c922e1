"""Two recordings of the same edge over the same BFCL tasks, side by side (accuracy per runtime).

``benchmarks/edge_tool_calls.py`` times both runtimes on 40 tasks per category; this script
compares two full recordings (``netgpt bench --record``) task by task, typically the bundled
edge recorded in transformers and the same model recorded in llama.cpp: per category, the tasks
both hold, schema-valid %, exact % (BFCL's AST checker) for each, the share of tasks where both
made the same calls, and mean generated tokens and seconds per task. Prints a table and writes
``benchmarks/results/edge_recordings_compare.json``.

The transformers recording this project committed before the llama.cpp one is in git history:

    git show 4f58d18:langchain_netgpt/bench/data/edge_outcomes_smollm2_135m.jsonl > /tmp/hf.jsonl
    python benchmarks/edge_recordings_compare.py /tmp/hf.jsonl \
        langchain_netgpt/bench/data/edge_outcomes_smollm2_135m.jsonl --reference-source 4f58d18
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from langchain_netgpt.bench.record import EdgeOutcome, EdgeOutcomes, load_edge_outcomes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "edge_recordings_compare.json"


def _label(outcomes: EdgeOutcomes) -> str:
    return str(outcomes.header.settings.get("edge_backend", "transformers"))


def _side(rows: list[EdgeOutcome]) -> dict[str, float]:
    n = len(rows)
    return {
        "schema_valid": sum(r.made_call and r.schema_valid for r in rows) / n,
        "exact_correct": sum(r.correct for r in rows) / n,
        "errors": sum(r.error is not None for r in rows) / n,
        "mean_output_tokens": sum(r.output_tokens for r in rows) / n,
        "mean_latency_s": sum(r.latency_s for r in rows) / n,
    }


def compare(reference: EdgeOutcomes, candidate: EdgeOutcomes) -> list[dict[str, Any]]:
    """One row per category (and ``all``) over the task ids both recordings hold."""
    shared = sorted(set(reference.rows) & set(candidate.rows))
    categories = sorted({reference.rows[i].category for i in shared})
    table = []
    for category in [*categories, "all"]:
        ids = [i for i in shared if category == "all" or reference.rows[i].category == category]
        ref = [reference.rows[i] for i in ids]
        new = [candidate.rows[i] for i in ids]
        same = sum(a.calls == b.calls and a.text == b.text for a, b in zip(ref, new, strict=True))
        table.append(
            {
                "category": category,
                "tasks": len(ids),
                "reference": _side(ref),
                "candidate": _side(new),
                "same_answer": same / len(ids),
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="outcomes file (e.g. transformers)")
    parser.add_argument("candidate", type=Path, help="outcomes file (e.g. llama.cpp)")
    parser.add_argument(
        "--reference-source", default=None, help="where the reference file came from (recorded)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    reference, candidate = load_edge_outcomes(args.reference), load_edge_outcomes(args.candidate)
    table = compare(reference, candidate)
    names = (_label(reference), _label(candidate))
    summary = {
        "reference": {
            "runtime": names[0],
            "source": args.reference_source or str(args.reference),
            "header": reference.header.model_dump(),
        },
        "candidate": {
            "runtime": names[1],
            "source": str(args.candidate),
            "header": candidate.header.model_dump(),
        },
        "rows": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"| category | tasks | valid {names[0]} | valid {names[1]} | exact {names[0]} | "
        f"exact {names[1]} | same answer | s/task {names[0]} | s/task {names[1]} |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in table:
        ref, new = row["reference"], row["candidate"]
        print(
            f"| {row['category']} | {row['tasks']} | {ref['schema_valid']:.3f} | "
            f"{new['schema_valid']:.3f} | {ref['exact_correct']:.3f} | "
            f"{new['exact_correct']:.3f} | {row['same_answer']:.3f} | "
            f"{ref['mean_latency_s']:.2f} | {new['mean_latency_s']:.2f} |"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
