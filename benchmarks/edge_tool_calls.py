"""Edge tool calls on BFCL: llama.cpp against transformers, on the same tasks, prompts and grammar.

Runs the bundled SmolLM2-135M-Instruct (``HuggingFaceEdgeModel.from_bundled``) over the first
``--limit`` tasks of each BFCL file (the four shared categories by default) with the settings of
the committed recording (``tool_choice="required"``, one call per turn, grammar on, 96 new
tokens, 64-character argument strings), once per runtime configuration:

* ``transformers``: torch on CPU, xgrammar logits processor (the reference);
* ``llama_cpp/gbnf``: llama.cpp, llama.cpp's grammar sampler (the default);
* ``llama_cpp/xgrammar``: llama.cpp, xgrammar masks;
* ``llama_cpp/gbnf/as-is``: llama.cpp on the Q4_1 file as shipped (no Q8_0 re-encoding).

Each configuration runs in its own process, so the peak RSS is its own. Reported per category:
decode tokens/s (tokens after the first over the time after the first), p50/p95 seconds per
call, schema-valid %, exact % (BFCL's AST checker); prints a table and writes
``benchmarks/results/edge_tool_calls.json``.

Usage: HF_HUB_OFFLINE=1 python benchmarks/edge_tool_calls.py --limit 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "bfcl"
RESULTS = ROOT / "benchmarks" / "results" / "edge_tool_calls.json"
FILES = (
    "BFCL_v4_simple_python.json",
    "BFCL_v4_multiple.json",
    "BFCL_v4_parallel.json",
    "BFCL_v4_irrelevance.json",
)
CONFIGS: dict[str, dict[str, Any]] = {
    "llama_cpp/gbnf": {"backend": "llama_cpp", "grammar_engine": "gbnf"},
    "llama_cpp/xgrammar": {"backend": "llama_cpp", "grammar_engine": "xgrammar"},
    "llama_cpp/gbnf/as-is": {
        "backend": "llama_cpp",
        "grammar_engine": "gbnf",
        "requantize": "none",
    },
    "transformers": {"backend": "transformers"},
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_file(edge: Any, path: Path, limit: int) -> dict[str, Any]:
    from langchain_netgpt.recorded import check_calls, load_bfcl

    tasks = load_bfcl(path, limit=limit)
    valid = correct = called = 0
    seconds: list[float] = []
    decode_tokens = 0
    decode_seconds = 0.0
    for task in tasks:
        bound = edge.bind_tools(task.tools, tool_choice="required", parallel_tool_calls=False)
        started = time.perf_counter()
        message = bound.invoke(task.messages)
        seconds.append(time.perf_counter() - started)
        check = check_calls(task, message.tool_calls)
        called += bool(message.tool_calls)
        valid += bool(message.tool_calls) and check.schema_valid
        correct += check.correct
        meta = message.response_metadata
        first = meta.get("time_to_first_token_s")
        tokens = (message.usage_metadata or {"output_tokens": 0})["output_tokens"]
        if first is not None and tokens > 1:
            decode_tokens += tokens - 1
            decode_seconds += float(meta["generation_time_s"]) - float(first)
    n = len(tasks)
    return {
        "tasks": n,
        "made_a_call": called / n,
        "schema_valid": valid / n,
        "exact_correct": correct / n,
        "decode_tokens_per_s": decode_tokens / decode_seconds if decode_seconds else None,
        "s_per_call_p50": _percentile(seconds, 0.5),
        "s_per_call_p95": _percentile(seconds, 0.95),
        "s_per_call_mean": sum(seconds) / n,
    }


def _warm_up_tool(value: int) -> int:
    """Return the value."""
    return value


def worker(config: str, limit: int, files: list[str], out: Path) -> None:
    """Run one configuration in this process and write its rows to ``out``."""
    from langchain_netgpt.bench.record import BUNDLED_RECORDING_SETTINGS
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    started = time.perf_counter()
    edge = HuggingFaceEdgeModel.from_bundled(
        device="cpu",
        max_new_tokens=BUNDLED_RECORDING_SETTINGS["max_new_tokens"],
        max_argument_chars=BUNDLED_RECORDING_SETTINGS["max_argument_chars"],
        **CONFIGS[config],
    )
    runtime = edge.load()
    load_s = time.perf_counter() - started
    load_average_before = os.getloadavg()[0]
    # One untimed call first: grammar compilers and caches are built lazily on first use.
    edge.bind_tools([_warm_up_tool], tool_choice="required").invoke("Warm up with 2.")
    rows = [{"file": name, **run_file(edge, DATA / name, limit)} for name in files]
    report = {
        "config": config,
        "backend": runtime.backend,
        "loaded_from": runtime.loaded_from,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        # The machine is shared: the 1-minute load average (2 cores) says how busy it was.
        "load_average_before_after": [load_average_before, os.getloadavg()[0]],
        "load_s": load_s,
        "peak_rss_mb": _peak_rss_mb(),
        "rows": rows,
    }
    out.write_text(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="tasks per BFCL file (default 40)")
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}"
    )
    parser.add_argument("--files", default=",".join(FILES), help="comma-separated BFCL files")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    files = args.files.split(",")
    if args.worker:
        worker(args.worker, args.limit, files, args.worker_out)
        return
    configs = args.configs.split(",")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown --configs {unknown}; expected some of {list(CONFIGS)}")
    # Configurations not run now keep their earlier results (each report says when it ran).
    earlier = json.loads(args.out.read_text()) if args.out.is_file() else {}
    reports = {
        r["config"]: r
        for r in earlier.get("configs", [])
        if "config" in r and r.get("limit_per_file", earlier.get("limit_per_file")) == args.limit
    }
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            out = Path(tmp) / f"{config.replace('/', '_')}.json"
            command = [sys.executable, __file__, "--worker", config, "--worker-out", str(out)]
            command += ["--limit", str(args.limit), "--files", args.files]
            print(f"running {config} ...", flush=True)
            subprocess.run(command, check=True)
            reports[config] = {**json.loads(out.read_text()), "limit_per_file": args.limit}
            _write(args, list(reports.values()))
    _print_table([reports[c] for c in CONFIGS if c in reports])
    print(f"wrote {args.out}")


def _write(args: argparse.Namespace, reports: list[dict[str, Any]]) -> None:
    summary = {
        "model": "SmolLM2-135M-Instruct (bundled GGUF, Q4_1)",
        "limit_per_file": args.limit,
        "binding": "tool_choice='required', parallel_tool_calls=False, grammar on",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": len(os.sched_getaffinity(0)),
        "configs": reports,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: an interrupted run leaves the previous results whole.
    partial = args.out.with_name(args.out.name + ".tmp")
    partial.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(partial, args.out)


def _print_table(reports: list[dict[str, Any]]) -> None:
    header = (
        f"| {'runtime':22} | {'category':14} | {'n':>3} | {'valid':>6} | {'exact':>6} | "
        f"{'decode tok/s':>12} | {'p50 s':>6} | {'p95 s':>6} | {'peak RSS MB':>11} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for report in reports:
        for row in report["rows"]:
            category = row["file"].removeprefix("BFCL_v4_").removesuffix(".json")
            print(
                f"| {report['config']:22} | {category:14} | {row['tasks']:>3} | "
                f"{row['schema_valid']:>6.0%} | {row['exact_correct']:>6.0%} | "
                f"{row['decode_tokens_per_s'] or 0:>12.1f} | {row['s_per_call_p50']:>6.2f} | "
                f"{row['s_per_call_p95']:>6.2f} | {report['peak_rss_mb']:>11.0f} |"
            )


if __name__ == "__main__":
    main()
