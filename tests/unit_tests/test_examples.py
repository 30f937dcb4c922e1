"""Examples are part of the docs: a stale example is a failing test."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_threshold_example_shows_tau_falling_as_the_link_degrades() -> None:
    module = runpy.run_path(str(EXAMPLES / "network_moves_the_threshold.py"))
    rows = module["main"]()
    thresholds = [tau for _, tau, _ in rows]
    assert thresholds == sorted(thresholds, reverse=True)
    assert rows[-1][2] == "edge"
