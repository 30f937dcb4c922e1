"""Exports: routed runs read back from LangSmith, training datasets from traces, secret scrubbing.

Dataset exporters (router bandit data, SFT, preference pairs, GRPO prompts) stream any iterable of
:class:`~langchain_netgpt.RouteTrace` into JSONL, Parquet or a HuggingFace dataset folder; pyarrow
and datasets are imported only when a Parquet or HF dataset is written or read. ``langsmith`` is
imported lazily by the functions that talk to it.
"""

from langchain_netgpt.export.grpo import GRPO_COLUMNS, export_grpo
from langchain_netgpt.export.langsmith_runs import (
    ROUTED_RUNS_FILTER,
    LangSmithExportSummary,
    export_langsmith_routes,
    route_trace_from_run,
    routes_from_langsmith,
)
from langchain_netgpt.export.preference import PREFERENCE_COLUMNS, export_preferences
from langchain_netgpt.export.router_data import (
    ROUTER_COLUMNS,
    RewardParams,
    RouterData,
    RouterTraceFields,
    export_router_data,
    read_router_data,
    read_router_traces,
)
from langchain_netgpt.export.sft import SFT_COLUMNS, export_sft
from langchain_netgpt.export.sources import TraceFilter, parse_time, read_traces
from langchain_netgpt.export.writers import EXPORT_FORMATS, ExportSummary, load_export
from langchain_netgpt.tracing.scrub import REDACTED, SecretScrubber

__all__ = [
    "EXPORT_FORMATS",
    "GRPO_COLUMNS",
    "PREFERENCE_COLUMNS",
    "REDACTED",
    "ROUTED_RUNS_FILTER",
    "ROUTER_COLUMNS",
    "SFT_COLUMNS",
    "ExportSummary",
    "LangSmithExportSummary",
    "RewardParams",
    "RouterData",
    "RouterTraceFields",
    "SecretScrubber",
    "TraceFilter",
    "export_grpo",
    "export_langsmith_routes",
    "export_preferences",
    "export_router_data",
    "export_sft",
    "load_export",
    "parse_time",
    "read_router_data",
    "read_router_traces",
    "read_traces",
    "route_trace_from_run",
    "routes_from_langsmith",
]
