"""Recorded data that the offline code replays, shared by ``learn/`` and ``bench/``.

- :mod:`~langchain_netgpt.recorded.bfcl_tasks`: BFCL tool-calling tasks (loading, tool schemas)
  and their AST call checker;
- :mod:`~langchain_netgpt.recorded.edge_outcomes`: the recorded-outcomes file format, its reader
  and the bundled model's recording;
- :mod:`~langchain_netgpt.recorded.pair_outcomes`: real per-query outcomes of a model pair;
- :mod:`~langchain_netgpt.recorded.splits` and :mod:`~langchain_netgpt.recorded.curves`: the
  seeded category-stratified split and the routing-quality curves (PGR, APGR, CPT) both score with.

Layering: this package depends on the runtime (``routing/``) and ``errors`` only. ``bench/``
(the benchmarks) and ``learn/`` (training) import it; it imports neither, nor ``export/``, and
the runtime never imports it.
"""

from langchain_netgpt.recorded.bfcl_tasks import (
    BfclTask,
    CallCheck,
    bfcl_schema_to_json_schema,
    check_calls,
    load_bfcl,
    sanitize_tool_name,
)
from langchain_netgpt.recorded.edge_outcomes import (
    BUNDLED_EDGE_OUTCOMES,
    EdgeOutcome,
    EdgeOutcomes,
    load_edge_outcomes,
    tasks_by_id,
)
from langchain_netgpt.recorded.pair_outcomes import PairRow, load_pairs

__all__ = [
    "BUNDLED_EDGE_OUTCOMES",
    "BfclTask",
    "CallCheck",
    "EdgeOutcome",
    "EdgeOutcomes",
    "PairRow",
    "bfcl_schema_to_json_schema",
    "check_calls",
    "load_bfcl",
    "load_edge_outcomes",
    "load_pairs",
    "sanitize_tool_name",
    "tasks_by_id",
]
