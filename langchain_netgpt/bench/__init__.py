"""Benchmark task layer: BFCL tool-calling tasks, their tool schemas and a call checker.

Only the standard library and pydantic are imported here, so the benchmark helpers load fast and
work without the ``edge`` or ``bench`` extras.
"""

from langchain_netgpt.bench.bfcl import (
    BfclTask,
    CallCheck,
    bfcl_schema_to_json_schema,
    check_calls,
    load_bfcl,
    sanitize_tool_name,
)

__all__ = [
    "BfclTask",
    "CallCheck",
    "bfcl_schema_to_json_schema",
    "check_calls",
    "load_bfcl",
    "sanitize_tool_name",
]
