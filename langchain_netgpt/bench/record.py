"""Recorded edge outcomes: run an edge model once over BFCL files and keep what it did.

The replay benchmark must not re-run the model on every invocation, so the model's answers are
recorded once into a versioned JSON Lines results file: a header line describing how the run was
made (model, device, decoding settings, schema version), then one line per task with the call it
made, whether the call was schema-valid and BFCL-correct, its tokens and its latency.

Recording is resumable: rows are appended and flushed one by one, and a second run over the same
file skips the task ids it already holds (so a run stopped half-way loses at most the task in
flight). ``netgpt bench --record`` refreshes the file, on a GPU when one is present.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.record import load_edge_outcomes

        outcomes = load_edge_outcomes("edge_outcomes.jsonl")
        print(outcomes.header.model, len(outcomes.rows))
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.bfcl_tasks import BfclTask, check_calls, load_bfcl
from langchain_netgpt.recorded.edge_outcomes import (
    EDGE_OUTCOMES_SCHEMA_VERSION,
    EdgeOutcome,
    EdgeOutcomes,
    OutcomesHeader,
    load_edge_outcomes,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "BUNDLED_RECORDING_SETTINGS",
    "EDGE_OUTCOMES_SCHEMA_VERSION",
    "EdgeOutcome",
    "EdgeOutcomes",
    "OutcomesHeader",
    "load_edge_outcomes",
    "record_bundled_edge_outcomes",
    "record_edge_outcomes",
]


def _outcome(task: BfclTask, message: Any, latency_s: float) -> EdgeOutcome:
    calls = [
        {"name": task.original_name(call["name"]), "args": call["args"]}
        for call in message.tool_calls
    ]
    check = check_calls(task, message.tool_calls)
    usage = message.usage_metadata or {}
    meta = message.response_metadata or {}
    text = message.content if isinstance(message.content, str) else json.dumps(message.content)
    return EdgeOutcome(
        id=task.id,
        category=task.category,
        calls=calls,
        text="" if calls else text,
        made_call=bool(calls),
        schema_valid=bool(calls) and check.schema_valid,
        correct=check.correct,
        reason=check.reason,
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        latency_s=latency_s,
        generation_time_s=float(meta.get("generation_time_s") or 0.0),
        escalated=bool(meta.get("netgpt_escalate")),
    )


def record_edge_outcomes(
    model: BaseChatModel,
    files: Sequence[str | Path],
    out: str | Path,
    *,
    model_name: str,
    device: str,
    tool_choice: str = "required",
    parallel_tool_calls: bool = False,
    settings: dict[str, Any] | None = None,
    limit: int | None = None,
    on_row: Callable[[EdgeOutcome, int, int], None] | None = None,
) -> EdgeOutcomes:
    """Run ``model`` over every task of ``files`` and append one outcome per task to ``out``.

    Args:
        model: The edge chat model (``bind_tools`` must accept ``tool_choice`` and
            ``parallel_tool_calls``).
        files: BFCL files (answers found in ``possible_answer/`` beside them).
        out: Outcomes file; created with a header, or resumed when it already holds one with
            the same model and settings.
        model_name: Recorded in the header.
        device: Recorded in the header.
        tool_choice: How the tools are bound for every task (one setting for all categories,
            as a deployed router would bind them).
        parallel_tool_calls: Whether several calls per turn are allowed.
        settings: Further settings to record (decoding budgets ...).
        limit: Tasks per file (``None``: all).
        on_row: Called after each task with ``(outcome, done, total)``.

    Returns:
        Everything the file holds once the run is over.

    Raises:
        BenchmarkDataError: A file is bad, or ``out`` was recorded with another model or other
            settings (delete it or pick another path).
    """
    per_file = [load_bfcl(file, limit=limit) for file in files]
    # Round-robin over the files, so a run stopped early still covers every category.
    tasks = [task for row in itertools.zip_longest(*per_file) for task in row if task is not None]
    path = Path(out)
    header = OutcomesHeader(
        model=model_name,
        device=device,
        settings={
            "tool_choice": tool_choice,
            "parallel_tool_calls": parallel_tool_calls,
            **(settings or {}),
        },
    )
    done = _open_outcomes_file(path, header)
    todo = [task for task in tasks if task.id not in done]
    with path.open("a", encoding="utf-8") as handle:
        for index, task in enumerate(todo, start=1):
            bound = model.bind_tools(
                task.tools, tool_choice=tool_choice, parallel_tool_calls=parallel_tool_calls
            )
            outcome = _run_task(bound, task)
            handle.write(outcome.model_dump_json() + "\n")
            handle.flush()
            if on_row is not None:
                on_row(outcome, index, len(todo))
        os.fsync(handle.fileno())
    return load_edge_outcomes(path)


def _open_outcomes_file(path: Path, header: OutcomesHeader) -> set[str]:
    """Start ``path`` with ``header``, or resume it: the task ids it already holds.

    Raises:
        BenchmarkDataError: ``path`` was recorded with another model or other settings.
    """
    if not (path.is_file() and path.stat().st_size > 0):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            handle.write(header.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return set()
    existing = load_edge_outcomes(path)
    if (existing.header.model, existing.header.settings) != (header.model, header.settings):
        raise BenchmarkDataError(
            f"{path} was recorded with model {existing.header.model!r} and settings "
            f"{existing.header.settings}, not {header.model!r} / {header.settings}; "
            "delete it or record into another file",
            path=str(path),
        )
    _truncate_partial_last_line(path)
    return set(existing.rows)


def _run_task(bound: Any, task: BfclTask) -> EdgeOutcome:
    """What the bound model does on ``task``; an exception is recorded, not raised."""
    started = time.perf_counter()
    try:
        message = bound.invoke(task.messages)
    except Exception as exc:  # recorded, so a replay knows the edge failed here
        return EdgeOutcome(
            id=task.id,
            category=task.category,
            latency_s=time.perf_counter() - started,
            reason="edge raised",
            error=f"{type(exc).__name__}: {exc}",
        )
    return _outcome(task, message, time.perf_counter() - started)


BUNDLED_RECORDING_SETTINGS: dict[str, Any] = {
    "max_new_tokens": 96,
    "max_argument_chars": 64,
    "constrained": True,
    "temperature": 0.0,
}
"""Decoding settings of the committed recording of the bundled model (one call per turn,
``tool_choice="required"``); :func:`record_bundled_edge_outcomes` uses them so that it can resume
or refresh that file."""


def record_bundled_edge_outcomes(
    files: Sequence[str | Path],
    out: str | Path,
    *,
    device: str = "auto",
    limit: int | None = None,
    on_row: Callable[[EdgeOutcome, int, int], None] | None = None,
) -> EdgeOutcomes:
    """Record the bundled SmolLM2-135M edge model over ``files`` with the committed settings.

    Runs on a GPU when ``device="auto"`` finds one; resumes ``out`` if it already holds rows.

    Raises:
        ImportError: The ``edge`` extra is not installed.
        BenchmarkDataError: As :func:`record_edge_outcomes`.
    """
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    edge = HuggingFaceEdgeModel.from_bundled(
        device=device,
        max_new_tokens=BUNDLED_RECORDING_SETTINGS["max_new_tokens"],
        max_argument_chars=BUNDLED_RECORDING_SETTINGS["max_argument_chars"],
    )
    loaded = edge.load()
    return record_edge_outcomes(
        edge,
        files,
        out,
        model_name=loaded.model_name,
        device=str(loaded.device),
        settings=dict(BUNDLED_RECORDING_SETTINGS),
        limit=limit,
        on_row=on_row,
    )


def _truncate_partial_last_line(path: Path) -> None:
    """Drop a last line without its newline (the row in flight when a run was killed)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
