"""The one decision rule and the fallback reasons."""

from __future__ import annotations

import math

import pytest

from langchain_netgpt import CloudBudget, NetGPTPolicy, NetworkState
from langchain_netgpt.learn import LearnedThresholdPolicy
from langchain_netgpt.routing import FixedThresholdPolicy
from langchain_netgpt.routing.decision import decide_route
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.reasons import FallbackNote, FallbackReason

FEATURES = RequestFeatures(
    prompt_tokens=300,
    question_tokens=30,
    new_tokens=300,
    payload_bytes=1200,
    message_count=1,
    tool_count=1,
    schema_bytes=600,
    schema_depth=1,
    required_params=2,
)
LINK = NetworkState(bandwidth_up_mbps=5, bandwidth_down_mbps=20, rtt_ms=80)


@pytest.mark.parametrize(
    ("score", "tau", "target"),
    [(0.7, 0.6, "edge"), (0.6, 0.6, "edge"), (0.5, 0.6, "cloud"), (0.0, -math.inf, "edge")],
)
def test_a_score_that_clears_the_threshold_keeps_the_step_on_the_edge(
    score: float, tau: float, target: str
) -> None:
    assert decide_route(score, tau).target == target


def test_a_budget_vetoes_the_cloud_and_records_the_step() -> None:
    budget = CloudBudget(max_cloud_usd=0.0015)
    assert decide_route(0.1, 0.9, budget=budget, price_usd=0.001).target == "cloud"
    verdict = decide_route(0.1, 0.9, budget=budget, price_usd=0.001)
    assert verdict.target == "edge" and verdict.vetoed and verdict.slot is not None
    assert not verdict.slot.cloud and verdict.slot.reason
    kept = decide_route(0.95, 0.9, budget=budget)
    assert kept.target == "edge" and not kept.vetoed


@pytest.mark.parametrize("score", [0.0, 0.3, 0.55, 0.8, 1.0])
def test_every_threshold_policy_decides_with_the_one_rule(score: float) -> None:
    netgpt = NetGPTPolicy()
    est = netgpt.latency_model.estimate(FEATURES, LINK)
    assert (
        netgpt.decide(FEATURES, score, LINK).target
        == decide_route(score, netgpt.raw_threshold(est)).target
    )
    fixed = FixedThresholdPolicy(threshold=0.55)
    assert fixed.decide(FEATURES, score, LINK).target == decide_route(score, 0.55).target
    learned = LearnedThresholdPolicy(
        bias=0.0, weights=[-1.0, 0.5, 0.5, 0.0], means=[4, 2, 3, 0], scales=[1, 1, 1, 1]
    )
    assert (
        learned.decide(FEATURES, score, LINK).target
        == decide_route(score, learned.threshold(LINK)).target
    )


def test_every_fallback_reason_has_a_text_and_keeps_the_forms_readers_know() -> None:
    for reason in FallbackReason:
        assert isinstance(reason.describe("edge", "x"), str)
    circuit = FallbackReason.CIRCUIT_OPEN.describe("cloud", "")
    assert circuit == "circuit_open: cloud circuit is open"
    assert FallbackReason.ESCALATED.describe("edge", "needs live data") == (
        "edge_escalated: needs live data"
    )
    note = FallbackNote.of(FallbackReason.TIMEOUT, "edge", "StepTimeoutError: slow")
    assert note.text == "edge failed: StepTimeoutError: slow"
    later = note.also("cloud budget exhausted")
    assert later.code is FallbackReason.TIMEOUT
    assert later.text == "edge failed: StepTimeoutError: slow; cloud budget exhausted"
