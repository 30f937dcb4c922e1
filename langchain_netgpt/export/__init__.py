"""Exports: routed runs read back from LangSmith, and secret scrubbing for every export.

``langsmith`` is imported lazily by the functions that talk to it: importing this package does
not build a client or open a connection.
"""

from langchain_netgpt.export.langsmith import (
    ROUTED_RUNS_FILTER,
    LangSmithExportSummary,
    export_langsmith_routes,
    route_trace_from_run,
    routes_from_langsmith,
)
from langchain_netgpt.export.scrub import REDACTED, SecretScrubber

__all__ = [
    "REDACTED",
    "ROUTED_RUNS_FILTER",
    "LangSmithExportSummary",
    "SecretScrubber",
    "export_langsmith_routes",
    "route_trace_from_run",
    "routes_from_langsmith",
]
