"""Preference pairs from fallbacks: both sides answered the same step, one of them acceptably.

A step yields a pair when one try returned an answer that was refused (its tool calls did not fit
the bound schemas) and a later try on another target returned an accepted one: the accepted
answer is ``chosen``, the refused one ``rejected``, and the conversation before them is the
``prompt``. Rows follow TRL's conversational preference format (``prompt``, ``chosen``,
``rejected`` as message lists, plus ``tools`` as a JSON string) and load in ``DPOTrainer``.

Each try's answer is recorded in ``AttemptRecord.output``; traces written before that field
existed (or tries that raised instead of answering) give no pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage

from langchain_netgpt.export.chat import (
    UnsupportedMessageError,
    chat_message,
    chat_messages,
    message_arrow_type,
    tools_json,
)
from langchain_netgpt.export.writers import ExportFormat, ExportSummary, _import, write_dataset
from langchain_netgpt.tracing.scrub import SecretScrubber

if TYPE_CHECKING:
    import pyarrow as pa

    from langchain_netgpt.tracing import AttemptRecord, RouteTrace

__all__ = ["PREFERENCE_COLUMNS", "export_preferences", "preference_row"]

PREFERENCE_COLUMNS = (
    "prompt",
    "chosen",
    "rejected",
    "tools",
    "chosen_target",
    "rejected_target",
    "rejected_problems",
    "trace_id",
    "created_at",
)
"""Columns of a preference row: TRL's ``prompt``/``chosen``/``rejected``/``tools``, and why."""


def _pair(trace: RouteTrace) -> tuple[AttemptRecord, AIMessage, AttemptRecord, AIMessage] | str:
    """(accepted try, its answer, refused try, its answer), or why the step has no pair."""
    accepted = next((a for a in trace.attempts if a.ok), None)
    if accepted is None:
        return "no accepted answer"
    refused = [a for a in trace.attempts if not a.ok and a.target != accepted.target]
    if not refused:
        return "no refused answer from another target"
    answered = [a for a in refused if isinstance(a.output, AIMessage)]
    if not answered:
        return "refused side raised or its answer was not recorded"
    chosen = accepted.output
    if chosen is None and trace.final_target == accepted.target:
        chosen = trace.output
    if not isinstance(chosen, AIMessage):
        return "accepted answer not recorded"
    rejected = answered[0]
    return accepted, chosen, rejected, cast("AIMessage", rejected.output)


def preference_row(trace: RouteTrace, scrubber: SecretScrubber) -> dict[str, Any] | str:
    """One trace as a preference row, or the reason it is skipped."""
    if trace.error is not None:
        return "step failed"
    if not trace.messages:
        return "no prompt messages"
    pair = _pair(trace)
    if isinstance(pair, str):
        return pair
    chosen, chosen_answer, rejected, rejected_answer = pair
    try:
        prompt = chat_messages(trace.messages, scrubber)
        chosen_message = chat_message(chosen_answer, scrubber)
        rejected_message = chat_message(rejected_answer, scrubber, include_invalid_calls=True)
    except UnsupportedMessageError:
        return "unsupported message type"
    return {
        "prompt": prompt,
        "chosen": [chosen_message],
        "rejected": [rejected_message],
        "tools": tools_json(trace.tools, scrubber),
        "chosen_target": chosen.target,
        "rejected_target": rejected.target,
        "rejected_problems": [scrubber.scrub_text(p) for p in rejected.problems],
        "trace_id": trace.trace_id,
        "created_at": trace.created_at,
    }


def preference_schema() -> pa.Schema:
    """The Arrow schema of preference data (requires pyarrow)."""
    pa = _import("pyarrow")
    messages = pa.list_(message_arrow_type())
    return pa.schema(
        [
            ("prompt", messages),
            ("chosen", messages),
            ("rejected", messages),
            ("tools", pa.string()),
            ("chosen_target", pa.string()),
            ("rejected_target", pa.string()),
            ("rejected_problems", pa.list_(pa.string())),
            ("trace_id", pa.string()),
            ("created_at", pa.float64()),
        ]
    )


def export_preferences(
    traces: Iterable[RouteTrace],
    out: str | Path,
    *,
    format: ExportFormat = "parquet",
    scrubber: SecretScrubber | None = None,
    batch_rows: int = 1_000,
    overwrite: bool = False,
    on_trace: Callable[[RouteTrace], None] | None = None,
) -> ExportSummary:
    """Write (prompt, chosen, rejected) pairs from steps where a fallback fixed a refused answer.

    Args:
        traces: Any iterable of traces.
        out: Output file (``jsonl``, ``parquet``) or folder (``hf``).
        format: ``jsonl``, ``parquet`` or ``hf``.
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
        lambda trace: preference_row(trace, scrub),
        kind="preferences",
        schema=preference_schema,
        out=out,
        format=format,
        header={"kind": "netgpt.preferences", "schema_version": 1},
        batch_rows=batch_rows,
        overwrite=overwrite,
        on_trace=on_trace,
    )
