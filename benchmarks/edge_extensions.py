"""Issue 8 measurements: self-offload against the edge's real failures, and prompt completion.

Self-offload compares the bundled edge recorded with ``allow_escalation=True``
(``langchain_netgpt/bench/data/edge_outcomes_smollm2_135m_escalate.jsonl``, the first 40 tasks of
each BFCL file) with the plain recording on the same task ids: escalation precision/recall and
accuracy / PGR at the same cloud share as random, heuristic-threshold and oracle routers.
Prompt completion runs the 20 scripted tasks of :mod:`langchain_netgpt.bench.completion_eval` for
the ``bare``, ``full_context`` and ``template`` arms, and (with ``--edge``) the bundled edge model
rewriting the request. Prints a table and writes ``benchmarks/results/edge_extensions.json``.

Usage: HF_HUB_OFFLINE=1 python benchmarks/edge_extensions.py [--edge]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from langchain_netgpt.bench.completion_eval import measure_prompt_completion
from langchain_netgpt.bench.offload_eval import default_escalation_outcomes, measure_self_offload
from langchain_netgpt.bench.report import default_edge_outcomes

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "bfcl"
RESULTS = ROOT / "benchmarks" / "results" / "edge_extensions.json"
FILES = (
    "BFCL_v4_simple_python.json",
    "BFCL_v4_multiple.json",
    "BFCL_v4_parallel.json",
    "BFCL_v4_irrelevance.json",
)


def main() -> None:
    """Run both measurements, print them and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edge", action="store_true", help="Also rewrite with the bundled edge.")
    args = parser.parse_args()
    offload = measure_self_offload(
        default_escalation_outcomes(), default_edge_outcomes(), [DATA / f for f in FILES]
    )
    print("self-offload (bundled SmolLM2-135M, allow_escalation=True)")
    for key, value in offload.model_dump().items():
        print(f"  {key:26s} {value if not isinstance(value, float) else round(value, 4)}")
    model = None
    started = time.perf_counter()
    if args.edge:
        from langchain_netgpt.edge import HuggingFaceEdgeModel

        model = HuggingFaceEdgeModel.from_bundled(device="cpu", max_new_tokens=64)
    arms = measure_prompt_completion(model=model)
    elapsed = time.perf_counter() - started
    print("\nprompt completion (20 scripted tasks)")
    header = f"{'arm':14s}{'B/prompt':>10s}{'saved':>8s}{'recall':>8s}{'leaks':>7s}{'success':>9s}"
    print(header + f"{'kept':>7s}")
    for r in arms:
        kept = "" if r.edge_rewrites_kept is None else f"{r.edge_rewrites_kept:.0%}"
        print(
            f"{r.arm:14s}{r.mean_bytes:10.1f}{r.bytes_saved_vs_full:8.0%}{r.fact_recall:8.0%}"
            f"{r.private_leaks:7d}{r.success:9.0%}{kept:>7s}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "self_offload": offload.model_dump(),
                "prompt_completion": [r.model_dump() for r in arms],
                "prompt_completion_seconds": round(elapsed, 1),
                "edge_model": args.edge,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
