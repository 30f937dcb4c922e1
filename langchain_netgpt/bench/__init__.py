"""The benchmarks: routing policies replayed over recorded outcomes and network traces.

``netgpt bench`` replays BFCL tasks (:mod:`~langchain_netgpt.bench.replay`,
:mod:`~langchain_netgpt.bench.report`) or a recorded model pair
(:mod:`~langchain_netgpt.bench.pair_bench`); the recorded data they read (BFCL tasks and their
checker, edge and pair outcomes) lives in :mod:`langchain_netgpt.recorded`, which the training
code shares.
"""
