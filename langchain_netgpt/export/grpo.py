"""GRPO prompts: the steps the cloud answered acceptably, with its answer as the reference.

Rows are TRL prompt-only conversational rows (``prompt``, ``tools``) plus the columns the reward
functions in :mod:`langchain_netgpt.learn.rewards` read:

* ``reference_calls``: JSON string, the cloud's accepted tool calls
  ``[{"name": ..., "arguments": {...}}]``; ``"[]"`` when it answered in text;
* ``reference_text``: the cloud's answer text (``""`` for a pure tool call);
* ``escalated``: self-offload: ``True`` where the edge itself escalated the step to the cloud
  (``trace.escalated``), so :class:`~langchain_netgpt.learn.rewards.EscalationAwareReward` can
  learn where escalating is right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_netgpt.export.chat import (
    UnsupportedMessageError,
    chat_messages,
    message_arrow_type,
    reference_calls,
    tools_json,
)
from langchain_netgpt.export.sft import accepted_answer
from langchain_netgpt.export.writers import ExportFormat, ExportSummary, _import, write_dataset
from langchain_netgpt.routing.policy import CLOUD
from langchain_netgpt.tracing.scrub import SecretScrubber

if TYPE_CHECKING:
    import pyarrow as pa

    from langchain_netgpt.tracing import RouteTrace

__all__ = ["GRPO_COLUMNS", "export_grpo", "grpo_row"]

GRPO_COLUMNS = (
    "prompt",
    "tools",
    "reference_calls",
    "reference_text",
    "escalated",
    "trace_id",
    "created_at",
)
"""Columns of a GRPO row (see the module docstring for their meaning)."""


def grpo_row(
    trace: RouteTrace, scrubber: SecretScrubber, teacher: str = CLOUD
) -> dict[str, Any] | str:
    """One trace as a GRPO prompt row, or the reason it is skipped."""
    answer = accepted_answer(trace, teacher)
    if isinstance(answer, str):
        return answer
    try:
        prompt = chat_messages(trace.messages, scrubber)
    except UnsupportedMessageError:
        return "unsupported message type"
    return {
        "prompt": prompt,
        "tools": tools_json(trace.tools, scrubber),
        "reference_calls": reference_calls(answer, scrubber),
        "reference_text": scrubber.scrub_text(answer.text),
        "escalated": trace.escalated,
        "trace_id": trace.trace_id,
        "created_at": trace.created_at,
    }


def grpo_schema() -> pa.Schema:
    """The Arrow schema of GRPO prompts (requires pyarrow)."""
    pa = _import("pyarrow")
    return pa.schema(
        [
            ("prompt", pa.list_(message_arrow_type())),
            ("tools", pa.string()),
            ("reference_calls", pa.string()),
            ("reference_text", pa.string()),
            ("escalated", pa.bool_()),
            ("trace_id", pa.string()),
            ("created_at", pa.float64()),
        ]
    )


def export_grpo(
    traces: Iterable[RouteTrace],
    out: str | Path,
    *,
    format: ExportFormat = "parquet",
    teacher: str = CLOUD,
    scrubber: SecretScrubber | None = None,
    batch_rows: int = 1_000,
    overwrite: bool = False,
    on_trace: Callable[[RouteTrace], None] | None = None,
) -> ExportSummary:
    """Write GRPO prompts with the teacher's (the cloud's) accepted answer as reference.

    Args:
        traces: Any iterable of traces.
        out: Output file (``jsonl``, ``parquet``) or folder (``hf``).
        format: ``jsonl``, ``parquet`` or ``hf``.
        teacher: Target whose answers are the references.
        scrubber: Removes credentials from every text (default: the environment's secrets).
        batch_rows: Rows buffered per flush.
        overwrite: Replace an existing ``out``.
        on_trace: Called after each trace is read.

    Returns:
        Rows read, written and skipped (by reason).
    """
    scrub = scrubber or SecretScrubber.from_environ()
    return write_dataset(
        traces,
        lambda trace: grpo_row(trace, scrub, teacher),
        kind="grpo",
        schema=grpo_schema,
        out=out,
        format=format,
        header={"kind": "netgpt.grpo", "schema_version": 1, "teacher": teacher},
        batch_rows=batch_rows,
        overwrite=overwrite,
        on_trace=on_trace,
    )
