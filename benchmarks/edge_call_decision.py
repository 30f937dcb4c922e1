"""Call-or-answer under ``tool_choice="auto"`` on the bundled edge, with and without the decision.

Runs ``HuggingFaceEdgeModel.from_bundled()`` through the public API (``bind_tools(...).stream``) on
the held-out split of BFCL ``simple_python``, ``multiple`` (a tool fits) and ``irrelevance`` (none
fits) used by ``benchmarks/fit_edge_call_decision.py`` (seed 14, 30% test, never seen by the fit),
in three modes:

* ``decision``: ``tool_choice="auto"`` with the learned call-or-answer decision (the default);
* ``off``: ``tool_choice="auto"`` with ``call_decision={"mode": "off"}`` (the grammar lets the
  model choose; before this change, the only behaviour);
* ``required``: ``tool_choice="required"`` (the accuracy ceiling the decision is compared with).

With the decision, a task decided "call" is generated with exactly the prompt and grammar of
``tool_choice="required"`` (greedy), so its call is the required call: ``required`` runs live on
the call tasks the decision did not call and on ``--check`` others, where the identity is
asserted; the report takes the other required results from the decision run and says so.
A text answer is read from the stream's first chunk and the rest of the generation is cancelled
(only whether a call was made matters for it).

Each mode appends rows to ``benchmarks/results/edge_call_decision/<mode>.jsonl`` (resumable, so
modes can run in parallel processes); ``report`` prints the table and writes
``benchmarks/results/edge_call_decision.json``.

Usage:
    HF_HUB_OFFLINE=1 python benchmarks/edge_call_decision.py run --mode decision --limit 40
    HF_HUB_OFFLINE=1 python benchmarks/edge_call_decision.py run --mode off --limit 15
    HF_HUB_OFFLINE=1 python benchmarks/edge_call_decision.py run --mode required --check 6
    python benchmarks/edge_call_decision.py report
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_edge_call_decision import load_tasks, split

from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.edge.call_decision import CallDecisionConfig
from langchain_netgpt.recorded import check_calls
from langchain_netgpt.recorded.bfcl_tasks import BfclTask

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "results" / "edge_call_decision"
RESULTS = ROOT / "benchmarks" / "results" / "edge_call_decision.json"
CATEGORIES = ("simple_python", "multiple", "irrelevance")
SETTINGS = {"max_new_tokens": 96, "max_argument_chars": 64, "parallel_tool_calls": False}


def held_out(limit: int) -> list[BfclTask]:
    """The first ``limit`` held-out tasks of each category (seeded order), interleaved."""
    _, test = split(load_tasks())
    columns = [[t for t in test if t.category == c][:limit] for c in CATEGORIES]
    return [t for row in zip(*columns, strict=False) for t in row]


def _read(mode: str) -> dict[str, dict[str, Any]]:
    path = ROWS / f"{mode}.jsonl"
    if not path.exists():
        return {}
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines()) if r}


def run_task(edge: HuggingFaceEdgeModel, task: BfclTask, mode: str) -> dict[str, Any]:
    """One task through the public API; the row that records what happened."""
    choice = "required" if mode == "required" else "auto"
    model = (
        edge
        if mode != "off"
        else edge.model_copy(update={"call_decision": CallDecisionConfig(mode="off")})
    )
    bound = model.bind_tools(
        task.tools, tool_choice=choice, parallel_tool_calls=SETTINGS["parallel_tool_calls"]
    )
    started = time.perf_counter()
    message: Any = None
    for chunk in bound.stream(task.messages):
        message = chunk if message is None else message + chunk
        if message.content and not message.tool_call_chunks:
            break  # a text answer: no call; closing the stream cancels the generation
    seconds = time.perf_counter() - started
    calls = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
    check = check_calls(task, calls)
    return {
        "id": task.id,
        "category": task.category,
        "mode": mode,
        "called": bool(calls),
        "schema_valid": bool(calls) and check.schema_valid,
        "correct": check.correct,
        "calls": calls,
        "invalid_tool_calls": len(message.invalid_tool_calls),
        "decision": message.response_metadata.get("netgpt_call_decision"),
        "wrapped_up": bool(message.response_metadata.get("netgpt_wrapped_up")),
        "seconds": seconds,
    }


def run(mode: str, limit: int, check: int, shard: tuple[int, int] = (0, 1)) -> None:
    """Run one mode on the held-out tasks not done yet (appending rows; shard ``k`` of ``n``)."""
    import torch

    torch.set_num_threads(1)  # two threads thrash on a shared 2-core machine
    tasks = held_out(limit)
    if mode == "required":
        decided = _read("decision")
        missed = [t for t in tasks if t.id in decided and not decided[t.id]["called"]]
        called = [t for t in tasks if t.id in decided and decided[t.id]["called"]]
        sample = [t for c in CATEGORIES for t in [t for t in called if t.category == c][:check]]
        tasks = [t for t in missed + sample if t.expects_call]
    index, count = shard
    tasks = tasks[index::count]
    done = _read(mode)
    edge = HuggingFaceEdgeModel.from_bundled(
        device="cpu",
        max_new_tokens=SETTINGS["max_new_tokens"],
        max_argument_chars=SETTINGS["max_argument_chars"],
    )
    ROWS.mkdir(parents=True, exist_ok=True)
    with (ROWS / f"{mode}.jsonl").open("a") as out:
        for task in tasks:
            if task.id in done or task.id in _read(mode):  # another process may have done it
                continue
            row = run_task(edge, task, mode)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(
                f"{mode:9} {task.id:22} called={row['called']!s:5} correct={row['correct']!s:5} "
                f"{row['seconds']:.1f} s",
                flush=True,
            )


def _rate(rows: list[dict[str, Any]], key: str) -> float | None:
    return sum(bool(r[key]) for r in rows) / len(rows) if rows else None


def report(limit: int) -> None:
    """Combine the rows into the table and the JSON result."""
    tasks = held_out(limit)
    decision, off, required_live = _read("decision"), _read("off"), _read("required")
    mismatches = [
        task_id
        for task_id, row in required_live.items()
        if task_id in decision
        and decision[task_id]["called"]
        and row["calls"] != decision[task_id]["calls"]
    ]
    table: list[dict[str, Any]] = []
    for category in CATEGORIES:
        ids = [t.id for t in tasks if t.category == category]
        d_rows = [decision[i] for i in ids if i in decision]
        o_rows = [off[i] for i in ids if i in off]
        r_rows = []
        for i in ids:
            if i in required_live:
                r_rows.append(required_live[i])
            elif i in decision and decision[i]["called"] and category != "irrelevance":
                r_rows.append(decision[i])  # identical by construction (checked on a sample)
        for name, rows in (("decision", d_rows), ("off", o_rows), ("required", r_rows)):
            if not rows or (name == "required" and category == "irrelevance"):
                continue
            table.append(
                {
                    "category": category,
                    "mode": name,
                    "tasks": len(rows),
                    "call_rate": _rate(rows, "called"),
                    "no_call_rate": 1 - (_rate(rows, "called") or 0.0),
                    "schema_valid_rate": _rate(rows, "schema_valid"),
                    "accuracy": _rate(rows, "correct"),
                    "wrapped_up": sum(r["wrapped_up"] for r in rows),
                    "s_per_task_mean": sum(r["seconds"] for r in rows) / len(rows),
                }
            )
    header = (
        f"{'category':14} {'mode':9} {'n':>3} {'called':>7} {'no call':>7} {'valid':>6} "
        f"{'acc':>6} {'wrap':>4} {'s/task':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in table:
        print(
            f"{row['category']:14} {row['mode']:9} {row['tasks']:>3} {row['call_rate']:>7.1%} "
            f"{row['no_call_rate']:>7.1%} {row['schema_valid_rate']:>6.1%} {row['accuracy']:>6.1%} "
            f"{row['wrapped_up']:>4} {row['s_per_task_mean']:>6.1f}"
        )
    print(f"required identity check: {len(required_live)} live rows, mismatches {mismatches}")
    result = {
        "benchmark": "edge_call_decision",
        "model": "SmolLM2-135M-Instruct (bundled GGUF, transformers, CPU, greedy)",
        "settings": SETTINGS,
        "split": "fit_edge_call_decision.split (seed 14, 30% test): held-out tasks only",
        "limit_per_category": limit,
        "required_identity_mismatches": mismatches,
        "required_live_rows": len(required_live),
        "python": platform.python_version(),
        "rows": table,
    }
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["run", "report"])
    parser.add_argument("--mode", choices=["decision", "off", "required"], default="decision")
    parser.add_argument("--limit", type=int, default=40, help="held-out tasks per category")
    parser.add_argument("--check", type=int, default=6, help="required: identity-check tasks")
    parser.add_argument("--shard", default="0/1", help="k/n: run every n-th task from the k-th")
    args = parser.parse_args()
    if args.step == "run":
        index, count = (int(part) for part in args.shard.split("/"))
        run(args.mode, args.limit, args.check, (index, count))
    else:
        report(args.limit)


if __name__ == "__main__":
    main()
