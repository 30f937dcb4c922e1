"""Pair-outcome rows, now in :mod:`langchain_netgpt.recorded.pair_outcomes` (shared by learn/).

Kept only so that modules importing ``langchain_netgpt.bench.pairs`` (``bench/pair_bench.py``)
keep working while another branch edits them; import from ``langchain_netgpt.recorded`` instead.
"""

from langchain_netgpt.recorded.pair_outcomes import PairRow, load_pairs, pair_features, pair_text

__all__ = ["PairRow", "load_pairs", "pair_features", "pair_text"]
