"""Route traces and where they go."""

from langchain_netgpt.tracing.sinks import (
    CallbackTraceSink,
    InMemoryTraceSink,
    JsonlTraceSink,
    TraceFileError,
    TraceSink,
    read_jsonl_traces,
)
from langchain_netgpt.tracing.trace import TRACE_SCHEMA_VERSION, AttemptRecord, RouteTrace

__all__ = [
    "TRACE_SCHEMA_VERSION",
    "AttemptRecord",
    "CallbackTraceSink",
    "InMemoryTraceSink",
    "JsonlTraceSink",
    "RouteTrace",
    "TraceFileError",
    "TraceSink",
    "read_jsonl_traces",
]
