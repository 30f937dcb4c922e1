"""Edge tool-call quality and speed on BFCL, with and without grammar-constrained decoding.

Runs the bundled SmolLM2-135M-Instruct (``HuggingFaceEdgeModel.from_bundled``) on BFCL
``simple_python`` and ``multiple`` tasks with ``tool_choice="required"`` and one call per turn,
once constrained by the xgrammar JSON-schema grammar and once decoding freely (then parsing the
JSON it wrote). Reports schema validity and exact-call accuracy (``check_calls``), tokens/s,
time per call (p50/p95) and the process's peak RSS; prints a table and writes
``benchmarks/results/edge_tool_calls.json``.

Usage: HF_HUB_OFFLINE=1 python benchmarks/edge_tool_calls.py --limit 30
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.recorded import check_calls, load_bfcl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "bfcl"
RESULTS = ROOT / "benchmarks" / "results" / "edge_tool_calls.json"
FILES = ("BFCL_v4_simple_python.json", "BFCL_v4_multiple.json")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_file(edge: HuggingFaceEdgeModel, path: Path, limit: int) -> dict[str, Any]:
    tasks = load_bfcl(path, limit=limit)
    valid = correct = called = 0
    seconds: list[float] = []
    out_tokens = 0
    gen_seconds = 0.0
    for task in tasks:
        bound = edge.bind_tools(task.tools, tool_choice="required", parallel_tool_calls=False)
        started = time.perf_counter()
        message = bound.invoke(task.messages)
        seconds.append(time.perf_counter() - started)
        check = check_calls(task, message.tool_calls)
        called += bool(message.tool_calls)
        valid += bool(message.tool_calls) and check.schema_valid
        correct += check.correct
        usage = message.usage_metadata or {"output_tokens": 0}
        out_tokens += usage["output_tokens"]
        gen_seconds += float(message.response_metadata.get("generation_time_s") or 0.0)
    n = len(tasks)
    return {
        "tasks": n,
        "made_a_call": called / n,
        "schema_valid": valid / n,
        "exact_correct": correct / n,
        "tokens_per_s": out_tokens / gen_seconds if gen_seconds else None,
        "s_per_call_p50": _percentile(seconds, 0.5),
        "s_per_call_p95": _percentile(seconds, 0.95),
        "s_per_call_mean": statistics.fmean(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=50, help="tasks per BFCL file (default 50)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:<i>")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.perf_counter()
    base = HuggingFaceEdgeModel.from_bundled(
        device=args.device, max_new_tokens=args.max_new_tokens, max_argument_chars=64
    )
    loaded = base.load()
    load_s = time.perf_counter() - started
    rows: list[dict[str, Any]] = []
    for name in FILES:
        for constrained in (True, False):
            edge = base.model_copy(update={"constrained": constrained})
            result = run_file(edge, DATA / name, args.limit)
            rows.append({"file": name, "constrained": constrained, **result})
    report = {
        "model": loaded.model_name,
        "device": loaded.device,
        "limit_per_file": args.limit,
        "max_new_tokens": args.max_new_tokens,
        "load_s": load_s,
        "peak_rss_mb": _peak_rss_mb(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
    }
    header = (
        f"{'file':28} {'grammar':>7} {'n':>3} {'called':>7} {'valid':>6} {'exact':>6} "
        f"{'tok/s':>6} {'p50 s':>6} {'p95 s':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['file']:28} {'on' if row['constrained'] else 'off':>7} {row['tasks']:>3} "
            f"{row['made_a_call']:>7.0%} {row['schema_valid']:>6.0%} {row['exact_correct']:>6.0%} "
            f"{row['tokens_per_s'] or 0:>6.1f} {row['s_per_call_p50']:>6.2f} "
            f"{row['s_per_call_p95']:>6.2f}"
        )
    print(
        f"model {report['model']} on {report['device']}; load {load_s:.1f} s; "
        f"peak RSS {report['peak_rss_mb']:.0f} MB"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
