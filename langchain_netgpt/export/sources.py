"""Where exports read traces from: a :class:`TraceStore` file or a JSONL trace file, filtered."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_netgpt.export.router_data import RouterTraceFields, read_router_traces
from langchain_netgpt.tracing import RouteTrace, read_jsonl_traces

if TYPE_CHECKING:
    from langchain_netgpt.tracing.store import TraceStore

__all__ = ["TraceFilter", "parse_time", "read_traces"]


def parse_time(text: str) -> float:
    """Unix seconds from ``text``: a number (Unix seconds) or ISO 8601 (UTC when naive).

    Raises:
        ValueError: ``text`` is neither.
    """
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"time must be finite Unix seconds or ISO 8601, got {text!r}")
        return value
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"time must be Unix seconds or ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z), "
            f"got {text!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class TraceFilter(BaseModel):
    """Which traces to export (the same filters as ``TraceStore.query``).

    Example:
        .. code-block:: python

            from langchain_netgpt.export import TraceFilter

            only_cloud = TraceFilter(route="cloud", valid=True)
            assert only_cloud.route == "cloud"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: float | None = Field(default=None, description="Created at or after (Unix seconds).")
    until: float | None = Field(default=None, description="Created before (Unix seconds).")
    route: str | None = Field(default=None, description="Answered by this target.")
    session_id: str | None = Field(default=None, description="Of this conversation.")
    valid: bool | None = Field(default=None, description="Tool calls valid (True) or not (False).")
    limit: int | None = Field(default=None, ge=1, description="Stop after this many traces.")

    @field_validator("since", "until")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"must be finite Unix seconds, got {value!r}")
        return value

    def matches(self, trace: RouteTrace | RouterTraceFields) -> bool:
        """Whether a trace passes every filter but ``limit``."""
        return (
            (self.since is None or trace.created_at >= self.since)
            and (self.until is None or trace.created_at < self.until)
            and (self.route is None or trace.final_target == self.route)
            and (self.session_id is None or trace.session_id == self.session_id)
            and (self.valid is None or trace.tool_calls_valid is self.valid)
        )


def read_traces(
    path: str | Path, where: TraceFilter | None = None, *, router_fields: bool = False
) -> Iterator[RouteTrace] | Iterator[RouterTraceFields]:
    """Stream the traces of a JSONL trace file (``*.jsonl``) or a ``TraceStore``, filtered.

    Args:
        path: The trace file, or a ``postgresql://`` URL of a PostgreSQL trace store.
        where: Filters (default: none).
        router_fields: From a JSONL file, parse only the fields router data reads
            (:class:`RouterTraceFields`, several times faster); a store yields full traces.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    where = where or TraceFilter()
    from langchain_netgpt._postgres import is_postgres_url
    from langchain_netgpt.tracing.store import TraceStore

    if is_postgres_url(path):
        return _query(TraceStore(str(path)), where)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no trace file at {path}")
    if path.suffix == ".jsonl":
        if router_fields:
            return _filtered(read_router_traces(path), where)
        return _filtered(read_jsonl_traces(path), where)
    return _query(TraceStore(path), where)


def _query(store: TraceStore, where: TraceFilter) -> Iterator[RouteTrace]:
    return _closing(
        store,
        store.query(
            since=where.since,
            until=where.until,
            route=where.route,
            session_id=where.session_id,
            valid=where.valid,
            limit=where.limit,
        ),
    )


_R = TypeVar("_R", RouteTrace, RouterTraceFields)


def _filtered(traces: Iterator[_R], where: TraceFilter) -> Iterator[_R]:
    taken = 0
    for trace in traces:
        if where.limit is not None and taken >= where.limit:
            return
        if where.matches(trace):
            taken += 1
            yield trace


def _closing(store: TraceStore, traces: Iterator[RouteTrace]) -> Iterator[RouteTrace]:
    try:
        yield from traces
    finally:
        store.close()
