"""NetGPT's loop on BFCL: fine-tune the edge on the train split's cloud answers, then re-record it.

The replay benchmark (``netgpt bench``) scores routing with the bundled SmolLM2-135M edge as it
ships. NetGPT's premise is that the edge improves from what the cloud answers; this script closes
that loop on the benchmark's own data, keeping every split honest:

1. take the benchmark's train split (``split_tasks`` with the benchmark's seed: the same 520 of
   1,040 tasks the learned scorer trains on) and turn its ground-truth answers into SFT rows
   (:func:`~langchain_netgpt.learn.edge_data.rows_from_bfcl`; the simulated cloud answers with
   the ground truth, so these are the cloud's answers; irrelevance tasks have none and are left
   out);
2. fine-tune a LoRA adapter on them (:func:`~langchain_netgpt.learn.edge.finetune_edge`, SFT);
3. record the tuned edge over the **test split only** (tasks it never trained on) into an
   outcomes file (resumable: rerun the script to continue an interrupted recording). With
   ``--runtime llama_cpp`` (default) the adapter is first merged into a copy of the bundled GGUF
   (:func:`~langchain_netgpt.edge.gguf_export.export_merged_gguf`) and recorded in llama.cpp, in
   minutes; ``--runtime transformers`` records the adapter merged in transformers (~5 s a task);
4. print the tuned edge's BFCL accuracy per category next to the bundled edge's on the same
   tasks, and write JSON.

Then ``netgpt bench --edge-outcomes OUT/edge_outcomes_tuned.jsonl`` replays routing with the tuned
edge: only the recorded (test-split) tasks are covered, and the benchmark splits those again, so
the scorer and the scored policies never see a task the adapter trained on.

Usage: python benchmarks/edge_finetune_loop.py [--steps 130] [--out DIR] [--limit N]
       [--runtime llama_cpp|transformers]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from langchain_netgpt.bench.record import BUNDLED_RECORDING_SETTINGS, record_edge_outcomes
from langchain_netgpt.bench.replay import BenchConfig, prepare_tasks, split_tasks
from langchain_netgpt.bench.report import default_data_files, default_edge_outcomes
from langchain_netgpt.recorded.bfcl_tasks import load_bfcl
from langchain_netgpt.recorded.edge_outcomes import EdgeOutcome, load_edge_outcomes

ROOT = Path(__file__).resolve().parents[1]


def _accuracy(rows: list[EdgeOutcome]) -> dict[str, dict[str, float]]:
    by: dict[str, list[EdgeOutcome]] = defaultdict(list)
    for row in rows:
        by[row.category].append(row)
        by["all"].append(row)
    return {
        category: {
            "tasks": len(items),
            "accuracy": sum(r.correct for r in items) / len(items),
            "schema_valid": sum(r.schema_valid for r in items) / len(items),
        }
        for category, items in sorted(by.items())
    }


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=BenchConfig().seed, help="Benchmark seed.")
    parser.add_argument("--steps", type=int, default=130, help="SFT optimiser steps.")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--limit", type=int, default=None, help="Record at most N test tasks.")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda.")
    parser.add_argument(
        "--runtime",
        choices=("llama_cpp", "transformers"),
        default="llama_cpp",
        help="Record the tuned edge in llama.cpp (adapter merged into a GGUF) or transformers.",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "edge_loop")
    return parser.parse_args()


def train_adapter(args: argparse.Namespace, train: list[Any], adapter: Path) -> dict[str, Any]:
    """Fine-tune a LoRA adapter on the train split (or reuse the one in ``adapter``)."""
    from langchain_netgpt.learn.edge import EdgeFinetuneConfig, finetune_edge
    from langchain_netgpt.learn.edge_data import rows_from_bfcl

    if (adapter / "netgpt_adapter.json").is_file():
        print(f"reusing the adapter in {adapter}", flush=True)
        return {"reused_adapter": str(adapter)}
    rows = rows_from_bfcl(item.task for item in train)
    data = args.out / "sft_train_split.jsonl"
    data.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    result = finetune_edge(
        EdgeFinetuneConfig(
            data_path=data,
            output_dir=adapter,
            steps=args.steps,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            max_length=1024,
            parallel_tool_calls=True,
            seed=args.seed,
            device=args.device,
        ),
        show_progress=True,
    )
    train_info = {
        "rows": len(rows),
        "examples": result.examples,
        "skipped": result.skipped,
        "steps": result.steps,
        "loss_first": result.mean_loss(first=True),
        "loss_last": result.mean_loss(first=False),
        "seconds": result.seconds,
    }
    print(f"SFT: {train_info}", flush=True)
    return train_info


def tuned_edge(args: argparse.Namespace, adapter: Path, train_info: dict[str, Any]) -> Any:
    """The tuned edge on the chosen runtime (llama.cpp: the adapter merged into a GGUF)."""
    from langchain_netgpt.edge import HuggingFaceEdgeModel, locate_bundled_gguf
    from langchain_netgpt.edge.gguf_export import export_merged_gguf

    budgets = {
        "max_new_tokens": BUNDLED_RECORDING_SETTINGS["max_new_tokens"],
        "max_argument_chars": BUNDLED_RECORDING_SETTINGS["max_argument_chars"],
    }
    if args.runtime == "llama_cpp":
        export_started = time.perf_counter()
        merged = export_merged_gguf(adapter, locate_bundled_gguf())
        train_info["gguf_export_seconds"] = time.perf_counter() - export_started
        return HuggingFaceEdgeModel.from_pretrained(merged, backend="llama_cpp", **budgets)
    return HuggingFaceEdgeModel.from_bundled(
        device=args.device, backend="transformers", adapter_path=str(adapter), **budgets
    )


def print_table(summary: dict[str, Any]) -> None:
    """The per-category comparison as a markdown table."""
    print("\n| category | tasks | bundled accuracy | tuned accuracy | tuned schema-valid |")
    print("|---|---:|---:|---:|---:|")
    for category, row in summary["tuned"].items():
        before = summary["bundled_on_same_tasks"][category]["accuracy"]
        print(
            f"| {category} | {row['tasks']} | {before:.3f} | {row['accuracy']:.3f} | "
            f"{row['schema_valid']:.3f} |"
        )


def main() -> None:
    """Fine-tune on the train split, record the test split, compare with the bundled edge."""
    args = _parse_args()
    files = default_data_files()
    if not files:
        raise SystemExit("../shared/data (BFCL files) is not beside the repo")
    base = load_edge_outcomes(default_edge_outcomes())
    tasks = [task for file in files for task in load_bfcl(file)]
    train, test = split_tasks(
        prepare_tasks(tasks, base.rows), test_fraction=BenchConfig().test_fraction, seed=args.seed
    )
    args.out.mkdir(parents=True, exist_ok=True)
    adapter = args.out / "adapter"
    started = time.perf_counter()
    train_info = train_adapter(args, train, adapter)
    edge = tuned_edge(args, adapter, train_info)
    loaded = edge.load()
    ordered = sorted(test, key=lambda item: item.task.id)[: args.limit]
    test_ids = [item.task.id for item in ordered]
    # record_edge_outcomes reads BFCL files: write each file's test tasks under its own name.
    split_files = _write_test_files(args.out / "test_split", set(test_ids), files)
    # One file per runtime: a recording is only resumed with the settings that started it.
    suffix = "" if args.runtime == "transformers" else f"_{args.runtime}"
    out = args.out / f"edge_outcomes_tuned{suffix}.jsonl"
    record_started = time.perf_counter()
    recorded = record_edge_outcomes(
        edge,
        split_files,
        out,
        model_name=f"{loaded.model_name}+sft-lora(train split, seed {args.seed})",
        device=str(loaded.device),
        parallel_tool_calls=True,
        settings={
            **BUNDLED_RECORDING_SETTINGS,
            "adapter": "sft on the benchmark train split",
            "edge_backend": loaded.backend,
        },
        on_row=lambda row, done, total: (
            print(f"  {done}/{total} {row.id}: {'right' if row.correct else 'wrong'}", flush=True)
            if done % 20 == 0 or done == total
            else None
        ),
    )
    tuned = [recorded.rows[i] for i in test_ids if i in recorded.rows]
    bundled = [base.rows[i] for i in test_ids if i in recorded.rows]
    summary = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "seed": args.seed,
        "train_tasks": len(train),
        "test_tasks_recorded": len(tuned),
        "sft": train_info,
        "runtime": loaded.backend,
        "loaded_from": loaded.loaded_from,
        "outcomes": str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out),
        "record_seconds": time.perf_counter() - record_started,
        "seconds": time.perf_counter() - started,
        "bundled_on_same_tasks": _accuracy(bundled),
        "tuned": _accuracy(tuned),
    }
    (args.out / f"edge_loop{suffix}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print_table(summary)


def _write_test_files(folder: Path, test_ids: set[str], files: list[Path]) -> list[Path]:
    """The test tasks of each BFCL file, as a file of the same name (its category) in ``folder``.

    Each gets its ``possible_answer`` file beside it, as the benchmark's loader expects.
    """
    answers_dir = folder / "possible_answer"
    answers_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for file in files:
        lines = [
            line
            for line in file.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["id"] in test_ids
        ]
        if not lines:
            continue
        target = folder / file.name
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        answer_file = file.parent / "possible_answer" / file.name
        if answer_file.is_file():
            answers = [
                line
                for line in answer_file.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["id"] in test_ids
            ]
            (answers_dir / file.name).write_text("\n".join(answers) + "\n", encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    main()
