"""Route traces and where they go (memory, JSONL, SQLite or PostgreSQL stores, OpenTelemetry)."""

from langchain_netgpt.tracing.otel import OpenTelemetryTraceSink
from langchain_netgpt.tracing.postgres import PostgresTraceStore
from langchain_netgpt.tracing.sinks import (
    CallbackTraceSink,
    InMemoryTraceSink,
    JsonlTraceSink,
    TraceFileError,
    TraceSink,
    read_jsonl_traces,
)
from langchain_netgpt.tracing.store import (
    STORE_SCHEMA_VERSION,
    TraceRetention,
    TraceStore,
    TraceStoreError,
)
from langchain_netgpt.tracing.trace import (
    TRACE_SCHEMA_VERSION,
    AttemptRecord,
    PromptCompletionRecord,
    RouteTrace,
)

__all__ = [
    "STORE_SCHEMA_VERSION",
    "TRACE_SCHEMA_VERSION",
    "AttemptRecord",
    "CallbackTraceSink",
    "InMemoryTraceSink",
    "JsonlTraceSink",
    "OpenTelemetryTraceSink",
    "PostgresTraceStore",
    "PromptCompletionRecord",
    "RouteTrace",
    "TraceFileError",
    "TraceRetention",
    "TraceSink",
    "TraceStore",
    "TraceStoreError",
    "read_jsonl_traces",
]
