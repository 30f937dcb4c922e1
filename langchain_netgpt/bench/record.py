"""Recorded edge outcomes: run an edge model once over BFCL files and keep what it did.

The replay benchmark must not re-run the model on every invocation, so the model's answers are
recorded once into a versioned JSON Lines results file: a header line describing how the run was
made (model, device, decoding settings, schema version), then one line per task with the call it
made, whether the call was schema-valid and BFCL-correct, its tokens and its latency.

Recording is atomic and resumable: rows are appended and flushed one by one to ``<out>.partial``,
which replaces ``out`` in one rename when every task is recorded (so ``out`` is never
half-written), and a second run skips the task ids already recorded (so a run stopped half-way
loses at most the task in flight). ``netgpt bench --record`` refreshes the file: in llama.cpp on
CPU (about a second a task on 2 cores), or in transformers on a GPU when one is present.

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
import shutil
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
    "partial_outcomes_path",
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
    replace: bool = False,
) -> EdgeOutcomes:
    """Run ``model`` over every task of ``files`` and write one outcome per task to ``out``.

    Rows are appended to ``<out>.partial`` (see :func:`partial_outcomes_path`) and flushed one
    by one; once every task is recorded that file is renamed to ``out`` in one step, so ``out``
    is never half-written and an earlier ``out`` stays usable until the new one is complete.

    Args:
        model: The edge chat model (``bind_tools`` must accept ``tool_choice`` and
            ``parallel_tool_calls``).
        files: BFCL files (answers found in ``possible_answer/`` beside them).
        out: Outcomes file; created with a header, or resumed (it, or its partial file) when
            it already holds one with the same model and settings.
        model_name: Recorded in the header.
        device: Recorded in the header.
        tool_choice: How the tools are bound for every task (one setting for all categories,
            as a deployed router would bind them).
        parallel_tool_calls: Whether several calls per turn are allowed.
        settings: Further settings to record (decoding budgets ...).
        limit: Tasks per file (``None``: all).
        on_row: Called after each task with ``(outcome, done, total)``.
        replace: Record afresh when ``out`` (or its partial file) holds another model's or
            other settings' rows, replacing it at the end; without it that is refused.

    Returns:
        Everything the file holds once the run is over.

    Raises:
        BenchmarkDataError: A file is bad, or ``out`` was recorded with another model or other
            settings and ``replace`` is False (delete it or pick another path).
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
    partial = partial_outcomes_path(path)
    done = _open_partial(path, partial, header, {t.id for t in tasks}, replace=replace)
    todo = [task for task in tasks if task.id not in done]
    if not todo and not partial.exists():
        return load_edge_outcomes(path)  # nothing new: the file stays as it is
    with partial.open("a", encoding="utf-8") as handle:
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
    # The finished file takes the place of the old one in one step: readers see either.
    os.replace(partial, path)
    _fsync_folder(path.parent)
    return load_edge_outcomes(path)


def partial_outcomes_path(out: str | Path) -> Path:
    """Where a recording into ``out`` keeps its rows until it is complete (``<out>.partial``)."""
    path = Path(out)
    return path.with_name(path.name + ".partial")


def _same_run(existing: OutcomesHeader, header: OutcomesHeader) -> bool:
    return (existing.model, existing.settings) == (header.model, header.settings)


def _open_partial(
    path: Path, partial: Path, header: OutcomesHeader, task_ids: set[str], *, replace: bool
) -> set[str]:
    """Make ``partial`` ready to take rows for ``header``; return the task ids already recorded.

    A partial file of the same run is resumed; otherwise a finished ``path`` of the same run is
    copied into it (and resumed) unless it already holds every task of ``task_ids``; otherwise
    it starts empty, after refusing to overwrite a ``path`` or partial file of another run
    unless ``replace``.
    """
    for source in (partial, path):
        if not source.is_file() or source.stat().st_size == 0:
            continue
        existing = load_edge_outcomes(source)
        if _same_run(existing.header, header):
            if source == path and task_ids <= set(existing.rows):
                return set(existing.rows)  # complete: left as it is
            if source == path:
                shutil.copyfile(path, partial)
            _truncate_partial_last_line(partial)
            return set(existing.rows)
        if not replace:
            raise BenchmarkDataError(
                f"{source} was recorded with model {existing.header.model!r} and settings "
                f"{existing.header.settings}, not {header.model!r} / {header.settings}; "
                "delete it, record into another file, or pass replace=True (the old file "
                "stays until the new recording is complete)",
                path=str(source),
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(header.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return set()


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


def _fsync_folder(folder: Path) -> None:
    # Makes the rename durable; some platforms cannot open a folder, and then the OS decides.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    backend: str = "auto",
    limit: int | None = None,
    on_row: Callable[[EdgeOutcome, int, int], None] | None = None,
) -> EdgeOutcomes:
    """Record the bundled SmolLM2-135M edge model over ``files`` with the committed settings.

    ``backend="auto"`` runs it in llama.cpp on CPU, or in transformers on a GPU when
    ``device="auto"`` finds one; the header's settings name the runtime (``edge_backend``), so a
    file is only resumed by the runtime that started it. Resumes ``out`` if it already holds rows
    of the same run; a file of another run is replaced once the new recording is complete.

    Raises:
        ImportError: The ``edge`` extra is not installed.
        BenchmarkDataError: As :func:`record_edge_outcomes`.
    """
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    edge = HuggingFaceEdgeModel.from_bundled(
        device=device,
        backend=backend,
        max_new_tokens=BUNDLED_RECORDING_SETTINGS["max_new_tokens"],
        max_argument_chars=BUNDLED_RECORDING_SETTINGS["max_argument_chars"],
    )
    runtime = edge.load()
    return record_edge_outcomes(
        edge,
        files,
        out,
        model_name=runtime.model_name,
        device=str(runtime.device),
        settings={**BUNDLED_RECORDING_SETTINGS, "edge_backend": runtime.backend},
        limit=limit,
        on_row=on_row,
        replace=True,
    )


def _truncate_partial_last_line(path: Path) -> None:
    """Drop a last line without its newline (the row in flight when a run was killed)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
