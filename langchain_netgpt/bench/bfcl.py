"""BFCL tasks, now in :mod:`langchain_netgpt.recorded.bfcl_tasks` (shared with ``learn/``).

Kept only so that modules importing ``langchain_netgpt.bench.bfcl`` (``bench/report.py``) keep
working while another branch edits them; import from ``langchain_netgpt.recorded`` instead.
"""

from langchain_netgpt.recorded.bfcl_tasks import BfclTask, check_calls, load_bfcl

__all__ = ["BfclTask", "check_calls", "load_bfcl"]
