"""Read routed runs back from LangSmith into :class:`~langchain_netgpt.tracing.RouteTrace` form.

A routed model run in LangSmith (tagged ``netgpt:edge`` / ``netgpt:cloud`` with ``netgpt.*``
metadata, see :mod:`langchain_netgpt.tracing.langsmith`) holds the decision, the network, the
prompt, the tools and the answer, but not everything a live trace records.

What a run gives back, and what stays at its default:

* from the metadata: ``final_target`` / the attempt's target (``netgpt.route``), ``score``,
  ``threshold``, ``network`` (``rtt_ms``, ``bandwidth_up_mbps``, ``bandwidth_down_mbps``;
  ``loss`` is not recorded and stays ``0``), ``fallback``, ``latency_s``
  (``netgpt.latency_ms``, else the run's own duration), ``decided_target``, ``policy``,
  ``reason`` and ``mode``, ``session_id`` (``thread_id`` / ``session_id``);
* from the run: ``messages`` (inputs), ``output`` (the generated message), ``tools`` and
  ``tool_choice`` (invocation parameters), ``usage``, ``error``, ``created_at`` (start time),
  ``run_id`` (the parent run: the router's run, or the agent's model node for the middleware),
  ``trace_id`` (the LangSmith run id, so exporting twice gives the same ids), and one
  :class:`~langchain_netgpt.tracing.AttemptRecord` for the run itself;
* not recoverable, left at the defaults: ``features`` (``{}``; recompute them from
  ``messages`` and ``tools`` if needed), ``overridden_by``, ``expected_edge_s``,
  ``expected_cloud_s``, ``expected_cloud_price_usd``, ``cloud_price_usd``, ``bytes_sent``,
  ``bytes_received``, ``tool_calls_valid`` and ``fallback_reason`` (``None`` / ``0``), and the
  other tries of the same step (each routed run is exported as its own trace; a fallback step
  gives two lines, the failed try with ``final_target=None``).

Every trace is passed through a :class:`~langchain_netgpt.tracing.scrub.SecretScrubber` before it
is returned, so API keys, ``Authorization`` headers and the values of ``*_KEY`` / ``*_TOKEN``
environment variables never reach an exported file.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages

from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.policy import CLOUD, EDGE
from langchain_netgpt.tracing import TRACE_SCHEMA_VERSION, AttemptRecord, JsonlTraceSink, RouteTrace
from langchain_netgpt.tracing.langsmith import (
    BANDWIDTH_DOWN_KEY,
    BANDWIDTH_KEY,
    DECIDED_TARGET_KEY,
    FALLBACK_KEY,
    LATENCY_KEY,
    MODE_KEY,
    POLICY_KEY,
    REASON_KEY,
    ROUTE_KEY,
    ROUTE_TAG_PREFIX,
    RTT_KEY,
    SCORE_KEY,
    THRESHOLD_KEY,
    route_tag,
)
from langchain_netgpt.tracing.scrub import SecretScrubber

if TYPE_CHECKING:
    from langsmith import Client
    from langsmith.schemas import Run

__all__ = [
    "ROUTED_RUNS_FILTER",
    "LangSmithExportSummary",
    "export_langsmith_routes",
    "route_trace_from_run",
    "routes_from_langsmith",
]

ROUTED_RUNS_FILTER = f'or(has(tags, "{route_tag(EDGE)}"), has(tags, "{route_tag(CLOUD)}"))'
"""LangSmith filter selecting the routed model runs."""


def routes_from_langsmith(
    client: Client,
    project_name: str,
    *,
    limit: int | None = None,
    scrubber: SecretScrubber | None = None,
) -> Iterator[RouteTrace]:
    """The routed model runs of a LangSmith project, as traces (newest first, as listed).

    Runs are listed with ``client.list_runs(project_name=..., run_type="llm",
    filter=ROUTED_RUNS_FILTER)``. ``list_runs`` is deprecated in langsmith 0.15 in favour of
    ``client.runs.query_v2``, which needs a LangSmith backend >= 0.16 (SmithDB); ``list_runs``
    works with every backend until its removal (announced for 2027), so it is used here with
    its deprecation warning silenced.

    See the module docstring for which trace fields a run can and cannot give back.

    Args:
        client: A LangSmith client (``langsmith.Client(api_url=..., api_key=...)``).
        project_name: The project (tracing session) to read.
        limit: Most runs to read (``None``: all).
        scrubber: Removes secrets (default: :meth:`SecretScrubber.from_environ`).

    Yields:
        One scrubbed trace per routed run.

    Raises:
        ValueError: ``limit`` is below 1, or ``project_name`` is empty.
        langsmith.utils.LangSmithNotFoundError: The project does not exist.
        langsmith.utils.LangSmithError: LangSmith could not be reached or refused the request.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    if not project_name:
        raise ValueError("project_name must be a non-empty LangSmith project name")
    scrubber = scrubber if scrubber is not None else SecretScrubber.from_environ()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"list_runs\(\) is deprecated")
        runs = client.list_runs(
            project_name=project_name, run_type="llm", filter=ROUTED_RUNS_FILTER, limit=limit
        )
    for run in runs:
        yield route_trace_from_run(run, scrubber=scrubber)


def route_trace_from_run(run: Run, *, scrubber: SecretScrubber | None = None) -> RouteTrace:
    """One routed LangSmith run as a trace (see the module docstring for the field mapping).

    Args:
        run: A run from ``langsmith.Client.list_runs`` / ``read_run``.
        scrubber: Removes secrets (default: :meth:`SecretScrubber.from_environ`).

    Raises:
        ValueError: The run carries no route (no ``netgpt:*`` tag, no ``netgpt.route``).
    """
    scrubber = scrubber if scrubber is not None else SecretScrubber.from_environ()
    extra = run.extra or {}
    metadata: Mapping[str, Any] = extra.get("metadata") or {}
    target = _target(run, metadata)
    fallback = bool(metadata.get(FALLBACK_KEY, False))
    decided = metadata.get(DECIDED_TARGET_KEY)
    if not isinstance(decided, str):
        decided = (CLOUD if target == EDGE else EDGE) if fallback else target
    duration_s = max(0.0, (run.end_time - run.start_time).total_seconds()) if run.end_time else 0.0
    latency_ms = _number(metadata, LATENCY_KEY)
    output = _output_message(run.outputs)
    params = extra.get("invocation_params") or {}
    tools = params.get("tools")
    session = metadata.get("thread_id") or metadata.get("session_id")
    up = _number(metadata, BANDWIDTH_KEY) or 0.0
    trace = RouteTrace(
        schema_version=TRACE_SCHEMA_VERSION,
        trace_id=run.id.hex,
        created_at=run.start_time.timestamp(),
        run_id=str(run.parent_run_id) if run.parent_run_id else None,
        session_id=str(session) if session is not None else None,
        mode=str(metadata.get(MODE_KEY) or "unknown"),
        decided_target=decided,
        score=_number(metadata, SCORE_KEY) or 0.0,
        threshold=_number(metadata, THRESHOLD_KEY) or 0.0,
        policy=str(metadata.get(POLICY_KEY) or "unknown"),
        reason=str(metadata.get(REASON_KEY) or ""),
        network=NetworkState(
            bandwidth_up_mbps=up,
            bandwidth_down_mbps=_number(metadata, BANDWIDTH_DOWN_KEY) or up,
            rtt_ms=_number(metadata, RTT_KEY) or 0.0,
        ),
        features={},
        attempts=[
            AttemptRecord(
                target=target,
                ok=run.error is None,
                latency_s=duration_s,
                error=run.error[:2000] if run.error else None,
            )
        ],
        final_target=target if run.error is None else None,
        fallback=fallback,
        latency_s=latency_ms / 1000 if latency_ms is not None else duration_s,
        usage=_usage(output, metadata),
        error=run.error,
        tools=[t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else [],
        tool_choice=params.get("tool_choice"),
        messages=_input_messages(run.inputs),
        output=output,
    )
    return RouteTrace.model_validate(scrubber.scrub(trace.model_dump(mode="json")))


@dataclass
class LangSmithExportSummary:
    """What :func:`export_langsmith_routes` wrote.

    Attributes:
        path: The JSONL file.
        runs: Traces written.
        by_target: Traces per final target (``None``: the try failed).
        fallbacks: Traces of fallback tries.
        errors: Traces of tries that failed.
    """

    path: Path
    runs: int = 0
    by_target: dict[str | None, int] = field(default_factory=dict)
    fallbacks: int = 0
    errors: int = 0

    def add(self, trace: RouteTrace) -> None:
        """Count one written trace."""
        self.runs += 1
        self.by_target[trace.final_target] = self.by_target.get(trace.final_target, 0) + 1
        self.fallbacks += trace.fallback
        self.errors += trace.error is not None


def export_langsmith_routes(
    traces: Iterable[RouteTrace],
    out: str | Path,
    *,
    on_trace: Callable[[RouteTrace], None] | None = None,
) -> LangSmithExportSummary:
    """Write traces (from :func:`routes_from_langsmith`) to a JSONL file, one line per run.

    The file is written with :class:`~langchain_netgpt.tracing.JsonlTraceSink` (appending;
    read it back with :func:`~langchain_netgpt.tracing.read_jsonl_traces`).

    Args:
        traces: The traces.
        out: The JSONL file (created with its folders).
        on_trace: Called after each trace is written (progress reporting).

    Returns:
        Counts of what was written.
    """
    sink = JsonlTraceSink(out)
    summary = LangSmithExportSummary(path=sink.path)
    try:
        for trace in traces:
            sink.write(trace)
            summary.add(trace)
            if on_trace is not None:
                on_trace(trace)
    finally:
        sink.close()
    return summary


def _target(run: Run, metadata: Mapping[str, Any]) -> str:
    route = metadata.get(ROUTE_KEY)
    if isinstance(route, str) and route:
        return route
    for tag in run.tags or []:
        if tag.startswith(ROUTE_TAG_PREFIX) and len(tag) > len(ROUTE_TAG_PREFIX):
            return tag[len(ROUTE_TAG_PREFIX) :]
    raise ValueError(
        f"run {run.id} carries no netgpt route: no {route_tag(EDGE)!r} / {route_tag(CLOUD)!r} "
        f"tag and no {ROUTE_KEY!r} metadata"
    )


def _number(metadata: Mapping[str, Any], key: str) -> float | None:
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _revive(value: Any) -> list[BaseMessage]:
    """Messages from LangChain's serialized form (``dumpd``) or plain message dicts."""
    from langchain_core.load import load

    if isinstance(value, Mapping) and value.get("lc") == 1:
        # Only message classes may be revived: the payload comes from a remote service.
        revived = load(dict(value), allowed_objects="messages")
        return [revived] if isinstance(revived, BaseMessage) else []
    if isinstance(value, Mapping):
        return list(convert_to_messages([dict(value)]))
    return []


def _input_messages(inputs: Mapping[str, Any] | None) -> list[BaseMessage]:
    batches = (inputs or {}).get("messages") or []
    # Chat model runs hold a batch of prompts; a routed call always has exactly one.
    prompt = batches[0] if batches and isinstance(batches[0], list) else batches
    messages: list[BaseMessage] = []
    for item in prompt:
        messages.extend(_revive(item))
    return messages


def _output_message(outputs: Mapping[str, Any] | None) -> AIMessage | None:
    generations = (outputs or {}).get("generations") or []
    first = generations[0] if generations and isinstance(generations[0], list) else generations
    if not first or not isinstance(first[0], Mapping):
        return None
    revived = _revive(first[0].get("message") or {})
    if not revived or not isinstance(revived[0], AIMessage):
        return None
    message = revived[0]
    if isinstance(message, AIMessageChunk):
        return AIMessage(
            content=message.content,
            tool_calls=message.tool_calls,
            invalid_tool_calls=message.invalid_tool_calls,
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            id=message.id,
        )
    return message


def _usage(output: AIMessage | None, metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    if output is not None and output.usage_metadata:
        return dict(output.usage_metadata)
    usage = metadata.get("usage_metadata")
    return dict(usage) if isinstance(usage, Mapping) else None
