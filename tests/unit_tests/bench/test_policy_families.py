"""Benchmark policy families are objects, not strings formatted and compared."""

from __future__ import annotations

import pytest

from langchain_netgpt.bench.policies import (
    CURVE_FAMILIES,
    HEURISTIC,
    LEARNED,
    PolicyFamily,
    constant,
    fixed_threshold,
    oracle,
)


def test_each_scorer_has_its_three_curves() -> None:
    for scorer in (HEURISTIC, LEARNED):
        families = {
            PolicyFamily.netgpt(scorer),
            PolicyFamily.netgpt_cost(scorer),
            PolicyFamily.fixed(scorer),
        }
        assert len(families) == 3 and all(f.is_curve for f in families)
        assert all(f.value.endswith(scorer) or scorer in f.value for f in families)


def test_baselines_are_families_that_draw_no_curve() -> None:
    assert constant("edge").family is PolicyFamily.ALWAYS_EDGE
    assert constant("cloud").name == "always-cloud"
    assert oracle().family is PolicyFamily.ORACLE
    assert not any(f.is_curve for f in (PolicyFamily.ORACLE, PolicyFamily.RANDOM_MATCHED))
    assert PolicyFamily.RANDOM in CURVE_FAMILIES
    assert fixed_threshold(0.5, scorer=LEARNED).family is PolicyFamily.FIXED_LEARNED


def test_a_constant_policy_must_name_a_side() -> None:
    with pytest.raises(ValueError, match="target must be 'edge' or 'cloud', got 'gpu'"):
        constant("gpu")
