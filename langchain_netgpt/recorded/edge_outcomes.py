"""Recorded edge outcomes: the file format, its reader, and the bundled model's recording.

An outcomes file is JSON Lines: a header line describing how the run was made (model, device,
decoding settings, schema version), then one line per BFCL task with the call the model made,
whether it was schema-valid and BFCL-correct, its tokens and its latency. The benchmark writes
it (:mod:`langchain_netgpt.bench.record`); the benchmark and the router's training replay
(:mod:`langchain_netgpt.learn.routing_log`) read it.

Example:
    .. code-block:: python

        from langchain_netgpt.recorded import edge_outcomes

        outcomes = edge_outcomes.load_edge_outcomes(edge_outcomes.BUNDLED_EDGE_OUTCOMES)
        assert outcomes.header.kind == "netgpt.edge_outcomes" and outcomes.rows
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.bfcl_tasks import BfclTask, load_bfcl

__all__ = [
    "BUNDLED_EDGE_OUTCOMES",
    "EDGE_OUTCOMES_SCHEMA_VERSION",
    "EdgeOutcome",
    "EdgeOutcomes",
    "OutcomesHeader",
    "load_edge_outcomes",
    "tasks_by_id",
]

BUNDLED_EDGE_OUTCOMES = (
    Path(__file__).resolve().parents[1] / "bench" / "data" / "edge_outcomes_smollm2_135m.jsonl"
)
"""The recorded outcomes of the bundled SmolLM2-135M on BFCL, shipped with the package."""

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


def tasks_by_id(files: Iterable[str | Path]) -> dict[str, BfclTask]:
    """Every task of ``files`` keyed by id (a helper for replays)."""
    return {task.id: task for file in files for task in load_bfcl(file)}
