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
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langchain_netgpt.bench.bfcl import BfclTask, check_calls, load_bfcl
from langchain_netgpt.errors import BenchmarkDataError

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

EDGE_OUTCOMES_SCHEMA_VERSION = 1
"""Bumped whenever a field of :class:`EdgeOutcome` or :class:`OutcomesHeader` changes meaning."""


class OutcomesHeader(BaseModel):
    """The first line of an outcomes file: how the answers were produced.

    Attributes:
        kind: Always ``"netgpt.edge_outcomes"``.
        schema_version: :data:`EDGE_OUTCOMES_SCHEMA_VERSION` when written.
        model: Model name as the loaded model reports it.
        device: Device it ran on (``cpu``, ``cuda:0`` ...).
        settings: Decoding and binding settings (tool choice, parallel calls, budgets ...).
        created_at: Unix time the recording started.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str = "netgpt.edge_outcomes"
    schema_version: int = EDGE_OUTCOMES_SCHEMA_VERSION
    model: str
    device: str
    settings: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)


class EdgeOutcome(BaseModel):
    """What the recorded model did on one BFCL task.

    Attributes:
        id: BFCL task id.
        category: BFCL category (file name without prefix).
        calls: Tool calls made, ``[{"name": <BFCL name>, "args": {...}}]`` (empty: text answer).
        text: Text answer (``""`` when it called a tool).
        made_call: Whether at least one call was made.
        schema_valid: Every call names a bound tool with schema-valid arguments (``False`` when
            no call was made).
        correct: BFCL AST-checker verdict.
        reason: Why it is not correct (``""`` when correct).
        input_tokens: Prompt tokens.
        output_tokens: Generated tokens.
        latency_s: Wall time of the call.
        generation_time_s: Time spent generating, as the model reports it.
        escalated: The model asked to hand the step over (when escalation was allowed).
        error: Exception text when the call raised (then nothing else is meaningful).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    calls: list[dict[str, Any]] = Field(default_factory=list)
    text: str = ""
    made_call: bool = False
    schema_valid: bool = False
    correct: bool = False
    reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    generation_time_s: float = 0.0
    escalated: bool = False
    error: str | None = None


class EdgeOutcomes(BaseModel):
    """A loaded outcomes file.

    Attributes:
        header: How the answers were produced.
        rows: One outcome per task, keyed by task id.
    """

    model_config = ConfigDict(extra="forbid")

    header: OutcomesHeader
    rows: dict[str, EdgeOutcome]

    def accuracy(self, category: str | None = None) -> float:
        """BFCL accuracy over all rows, or over one category.

        Raises:
            BenchmarkDataError: No row matches ``category``.
        """
        rows = [r for r in self.rows.values() if category is None or r.category == category]
        if not rows:
            raise BenchmarkDataError(
                f"no recorded outcome for category {category!r}", path="<loaded outcomes>"
            )
        return sum(r.correct for r in rows) / len(rows)


def load_edge_outcomes(path: str | Path) -> EdgeOutcomes:
    """Read an outcomes file written by :func:`record_edge_outcomes`.

    A last line cut short by a crash is ignored (it is the task that was in flight); any other bad
    line is an error.

    Raises:
        BenchmarkDataError: The file is missing, empty, of another schema version, or holds a bad
            line (the message names the file and line).
    """
    file = Path(path)
    if not file.is_file():
        raise BenchmarkDataError(f"edge outcomes file {str(file)!r} does not exist", path=str(file))
    lines = file.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise BenchmarkDataError(
            f"edge outcomes file {str(file)!r} is empty (expected a header)", path=str(file)
        )
    try:
        header = OutcomesHeader.model_validate_json(lines[0])
    except ValidationError as exc:
        raise BenchmarkDataError(
            f"{file}:1: not an edge outcomes header: {exc}", path=str(file), line=1
        ) from exc
    if header.schema_version != EDGE_OUTCOMES_SCHEMA_VERSION:
        raise BenchmarkDataError(
            f"{file}: schema version {header.schema_version}, expected "
            f"{EDGE_OUTCOMES_SCHEMA_VERSION}; re-record with `netgpt bench --record`",
            path=str(file),
            line=1,
        )
    rows: dict[str, EdgeOutcome] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            row = EdgeOutcome.model_validate_json(line)
        except ValidationError as exc:
            if number == len(lines) and not line.endswith("}"):
                break  # the row in flight when a recording was killed
            raise BenchmarkDataError(
                f"{file}:{number}: not an edge outcome: {exc}", path=str(file), line=number
            ) from exc
        rows[row.id] = row
    return EdgeOutcomes(header=header, rows=rows)


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
            outcome = _record_one(model, task, tool_choice, parallel_tool_calls)
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


def _record_one(
    model: BaseChatModel, task: BfclTask, tool_choice: str, parallel_tool_calls: bool
) -> EdgeOutcome:
    bound = model.bind_tools(
        task.tools, tool_choice=tool_choice, parallel_tool_calls=parallel_tool_calls
    )
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


def tasks_by_id(files: Iterable[str | Path]) -> dict[str, BfclTask]:
    """Every task of ``files`` keyed by id (a helper for replays)."""
    return {task.id: task for file in files for task in load_bfcl(file)}
