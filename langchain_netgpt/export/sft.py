"""SFT distillation data: the cloud's accepted answers, in TRL's conversational format.

One row per step the cloud answered with schema-valid output: ``messages`` (the conversation the
router saw, then the cloud's answer as the final assistant turn) and ``tools`` (the bound tools
as a JSON string, which TRL's ``SFTTrainer`` decodes before applying the chat template). Train the
edge model on it to imitate the cloud (the NetGPT loop: route, collect cloud answers, train).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage

from langchain_netgpt.export.chat import (
    UnsupportedMessageError,
    chat_message,
    chat_messages,
    message_arrow_type,
    tools_json,
)
from langchain_netgpt.export.writers import ExportFormat, ExportSummary, _import, write_dataset
from langchain_netgpt.routing.policy import CLOUD
from langchain_netgpt.tracing.scrub import SecretScrubber

if TYPE_CHECKING:
    import pyarrow as pa

    from langchain_netgpt.tracing import RouteTrace

__all__ = ["SFT_COLUMNS", "accepted_answer", "export_sft", "sft_row"]

SFT_COLUMNS = ("messages", "tools", "trace_id", "session_id", "created_at")
"""Columns of an SFT row: TRL's ``messages`` and ``tools``, plus provenance."""


def accepted_answer(trace: RouteTrace, teacher: str = CLOUD) -> AIMessage | str:
    """The teacher's accepted answer of a step, or the reason there is none.

    Accepted: served by ``teacher``, no error, tool calls not invalid, and an AI message.
    """
    if trace.final_target != teacher:
        return f"not served by the {teacher}"
    if trace.error is not None or trace.output is None:
        return "step failed"
    if trace.tool_calls_valid is False:
        return "invalid tool calls"
    if not isinstance(trace.output, AIMessage):
        return "output is not an AI message"
    if not trace.messages:
        return "no prompt messages"
    return trace.output


def sft_row(
    trace: RouteTrace, scrubber: SecretScrubber, teacher: str = CLOUD
) -> dict[str, Any] | str:
    """One trace as an SFT row, or the reason it is skipped."""
    answer = accepted_answer(trace, teacher)
    if isinstance(answer, str):
        return answer
    try:
        messages = [*chat_messages(trace.messages, scrubber), chat_message(answer, scrubber)]
    except UnsupportedMessageError:
        return "unsupported message type"
    return {
        "messages": messages,
        "tools": tools_json(trace.tools, scrubber),
        "trace_id": trace.trace_id,
        "session_id": scrubber.scrub_text(trace.session_id) if trace.session_id else None,
        "created_at": trace.created_at,
    }


def sft_schema() -> pa.Schema:
    """The Arrow schema of SFT data (requires pyarrow)."""
    pa = _import("pyarrow")
    return pa.schema(
        [
            ("messages", pa.list_(message_arrow_type())),
            ("tools", pa.string()),
            ("trace_id", pa.string()),
            ("session_id", pa.string()),
            ("created_at", pa.float64()),
        ]
    )


def export_sft(
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
    """Write the teacher's (the cloud's) schema-valid answers as a TRL SFT dataset.

    Args:
        traces: Any iterable of traces.
        out: Output file (``jsonl``, ``parquet``) or folder (``hf``).
        format: ``jsonl``, ``parquet`` or ``hf``.
        teacher: Target whose answers are distilled.
        scrubber: Removes credentials from every text (default: the environment's secrets).
        batch_rows: Rows buffered per flush.
        overwrite: Replace an existing ``out``.
        on_trace: Called after each trace is read.

    Returns:
        Rows read, written and skipped (by reason).

    Example:
        .. code-block:: python

            import tempfile
            from langchain_netgpt import NetGPTRouter
            from langchain_netgpt.export import export_sft
            from langchain_netgpt.routing.policy import AlwaysCloud
            from langchain_netgpt.testing import ScriptedChatModel
            from langchain_netgpt.tracing import InMemoryTraceSink

            sink = InMemoryTraceSink()
            router = NetGPTRouter(edge=ScriptedChatModel(responses=["edge"]),
                                  cloud=ScriptedChatModel(responses=["Paris."]),
                                  policy=AlwaysCloud(), sinks=[sink])
            router.invoke("Capital of France?")
            with tempfile.TemporaryDirectory() as folder:
                summary = export_sft(sink.traces, f"{folder}/sft.jsonl", format="jsonl")
            assert summary.rows_written == 1
    """
    scrub = scrubber or SecretScrubber.from_environ()
    return write_dataset(
        traces,
        lambda trace: sft_row(trace, scrub, teacher),
        kind="sft",
        schema=sft_schema,
        out=out,
        format=format,
        header={"kind": "netgpt.sft", "schema_version": 1, "teacher": teacher},
        batch_rows=batch_rows,
        overwrite=overwrite,
        on_trace=on_trace,
    )
