"""What a :class:`~langchain_netgpt.tracing.store.TraceStore` row holds, and how queries pick rows.

Shared by the SQLite and PostgreSQL stores: the retention settings, the warning for an unreadable
row, a trace's row tuple and the query filters.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_netgpt.tracing.trace import RouteTrace

__all__ = ["StoredRowWarning", "TraceRetention", "query_filters", "trace_row"]


class TraceRetention(BaseModel):
    """How many traces a :class:`TraceStore` keeps; the oldest go first.

    Retention is checked every ``check_every`` writes (a trace or a batch counts once per trace),
    so the store may hold up to ``check_every - 1`` rows over ``max_rows`` between checks.

    Args:
        max_rows: Keep at most this many traces (``None``: no cap).
        max_age_s: Delete traces whose ``created_at`` is older than this (``None``: no cap).
        check_every: Writes between two retention checks.

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing import TraceRetention

            keep = TraceRetention(max_rows=100_000, max_age_s=30 * 24 * 3600)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rows: int | None = Field(default=None, gt=0, description="Most traces kept.")
    max_age_s: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Oldest trace kept, in seconds."
    )
    check_every: int = Field(default=100, gt=0, description="Writes between retention checks.")

    @model_validator(mode="after")
    def _needs_a_limit(self) -> TraceRetention:
        if self.max_rows is None and self.max_age_s is None:
            raise ValueError("TraceRetention needs max_rows or max_age_s (or both); got neither")
        return self


class StoredRowWarning(UserWarning):
    """A stored row holds no readable trace and was skipped by a query."""


def trace_row(trace: RouteTrace) -> tuple[Any, ...]:
    """The indexed columns and the JSON body of ``trace``, in the traces table's insert order."""
    if not isinstance(trace, RouteTrace):
        raise TypeError(f"TraceStore stores RouteTrace objects, got {type(trace).__name__}")
    valid = None if trace.tool_calls_valid is None else int(trace.tool_calls_valid)
    return (
        trace.trace_id,
        trace.created_at,
        trace.final_target,
        trace.session_id,
        valid,
        trace.to_json(),
    )


def _timestamp(name: str, value: float | datetime) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be Unix seconds or a datetime, got {value!r}")
    return float(value)


def query_filters(
    since: float | datetime | None,
    until: float | datetime | None,
    route: str | None,
    session_id: str | None,
    valid: bool | None,
) -> tuple[list[str], list[Any]]:
    """SQL ``WHERE`` terms (``?`` placeholders, table alias ``t``) and their parameters.

    Raises:
        ValueError: A filter of the wrong type, or a time that is not finite.
    """
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append("t.created_at >= ?")
        params.append(_timestamp("since", since))
    if until is not None:
        where.append("t.created_at < ?")
        params.append(_timestamp("until", until))
    for name, column, value in (
        ("route", "final_target", route),
        ("session_id", "session_id", session_id),
    ):
        if value is not None:
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string or None, got {value!r}")
            where.append(f"t.{column} = ?")
            params.append(value)
    if valid is not None:
        if not isinstance(valid, bool):
            raise ValueError(f"valid must be True, False or None, got {valid!r}")
        where.append("t.tool_calls_valid = ?")
        params.append(int(valid))
    return where, params
