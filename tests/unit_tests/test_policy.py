from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage

from langchain_netgpt import CloudBudget, NetGPTPolicy, NetworkState
from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing import (
    AlwaysCloud,
    AlwaysEdge,
    FixedThresholdPolicy,
    LatencyModel,
    RandomPolicy,
    RequestFeatures,
    RoutePolicy,
)
from tests.unit_tests.test_features import WEATHER

FEATURES = RequestFeatures.from_messages([HumanMessage("Weather in Paris?")], [WEATHER])
GOOD = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=30)
BAD = NetworkState(bandwidth_up_mbps=0.3, bandwidth_down_mbps=1, rtt_ms=1200)

rtts = st.floats(min_value=0, max_value=10_000, allow_nan=False)
bandwidths = st.floats(min_value=0, max_value=1_000, allow_nan=False)
policies = st.builds(
    NetGPTPolicy,
    value_correct_usd=st.floats(min_value=1e-5, max_value=1.0),
    latency_usd_per_s=st.floats(min_value=0, max_value=0.01),
    cloud_quality=st.floats(min_value=0, max_value=1),
    escalation_recall=st.floats(min_value=0, max_value=1),
)


@settings(max_examples=300, deadline=None)
@given(policy=policies, up=bandwidths, down=bandwidths, rtt_a=rtts, rtt_b=rtts)
def test_threshold_never_rises_when_rtt_rises(
    policy: NetGPTPolicy, up: float, down: float, rtt_a: float, rtt_b: float
) -> None:
    low, high = sorted((rtt_a, rtt_b))
    at_low = policy.threshold(
        NetworkState(bandwidth_up_mbps=up, bandwidth_down_mbps=down, rtt_ms=low), FEATURES
    )
    at_high = policy.threshold(
        NetworkState(bandwidth_up_mbps=up, bandwidth_down_mbps=down, rtt_ms=high), FEATURES
    )
    assert at_high <= at_low + 1e-12


@settings(max_examples=300, deadline=None)
@given(policy=policies, rtt=rtts, bw_a=bandwidths, bw_b=bandwidths, ratio=st.floats(0.01, 100))
def test_threshold_never_falls_when_bandwidth_rises(
    policy: NetGPTPolicy, rtt: float, bw_a: float, bw_b: float, ratio: float
) -> None:
    low, high = sorted((bw_a, bw_b))

    def state(bw: float) -> NetworkState:
        return NetworkState(bandwidth_up_mbps=bw, bandwidth_down_mbps=bw * ratio, rtt_ms=rtt)

    assert policy.threshold(state(high), FEATURES) >= policy.threshold(state(low), FEATURES) - 1e-12


def test_threshold_is_a_probability_and_moves_with_the_link() -> None:
    policy = NetGPTPolicy()
    assert 0.0 <= policy.threshold(BAD) < policy.threshold(GOOD) <= 1.0


def test_closed_form_matches_the_utility_comparison() -> None:
    policy = NetGPTPolicy(escalation_recall=0.0)
    est = LatencyModel().estimate(FEATURES, GOOD)
    v, lt = policy.value_correct_usd, policy.latency_usd_per_s
    tau = policy.cloud_quality - (lt * (est.cloud_s - est.edge_s) + est.cloud_price_usd) / v
    assert policy.threshold(GOOD, FEATURES) == pytest.approx(min(max(tau, 0.0), 1.0))
    for s in (tau - 0.01, tau + 0.01):
        edge_utility = s * v - lt * est.edge_s
        cloud_utility = policy.cloud_quality * v - lt * est.cloud_s - est.cloud_price_usd
        chosen = policy.decide(FEATURES, min(max(s, 0.0), 1.0), GOOD).target
        if 0 <= s <= 1:
            assert chosen == ("edge" if edge_utility >= cloud_utility else "cloud")


def test_link_down_keeps_every_step_on_the_edge() -> None:
    down = NetworkState(bandwidth_up_mbps=0, bandwidth_down_mbps=0, rtt_ms=50)
    decision = NetGPTPolicy().decide(FEATURES, 0.0, down)
    assert decision.target == "edge"
    assert math.isinf(decision.expected_cloud_s)
    assert decision.to_dict()["expected_cloud_s"] is None


def test_decision_explains_itself() -> None:
    decision = NetGPTPolicy().decide(FEATURES, 0.99, BAD)
    assert decision.target == "edge"
    assert "threshold" in decision.reason and "rtt 1200 ms" in decision.reason
    assert decision.expected_cloud_s > decision.expected_edge_s
    assert decision.policy == "netgpt"


@pytest.mark.parametrize("score", [-0.1, 1.5, math.nan])
def test_scores_outside_zero_one_are_rejected(score: float) -> None:
    with pytest.raises(ConfigurationError, match="score"):
        NetGPTPolicy().decide(FEATURES, score, GOOD)


def test_policy_parameters_are_validated_at_construction() -> None:
    with pytest.raises(ValueError, match="value_correct_usd"):
        NetGPTPolicy(value_correct_usd=0)
    with pytest.raises(ValueError, match="cloud_share"):
        RandomPolicy(cloud_share=1.5)


def test_baselines_do_what_their_names_say() -> None:
    assert AlwaysEdge().decide(FEATURES, 0.0, GOOD).target == "edge"
    assert AlwaysCloud().decide(FEATURES, 1.0, BAD).target == "cloud"
    fixed = FixedThresholdPolicy(threshold=0.5)
    assert fixed.decide(FEATURES, 0.6, GOOD).target == "edge"
    assert fixed.decide(FEATURES, 0.4, BAD).target == "cloud"
    for policy in (
        AlwaysEdge(),
        AlwaysCloud(),
        fixed,
        NetGPTPolicy(),
        RandomPolicy(cloud_share=0.5),
    ):
        assert isinstance(policy, RoutePolicy)


def test_random_policy_hits_its_cloud_share_reproducibly() -> None:
    draws = [
        RandomPolicy(cloud_share=0.3, seed=1).decide(FEATURES, 0.5, GOOD).target for _ in range(1)
    ]
    policy = RandomPolicy(cloud_share=0.3, seed=1)
    targets = [policy.decide(FEATURES, 0.5, GOOD).target for _ in range(2000)]
    again = RandomPolicy(cloud_share=0.3, seed=1)
    assert targets == [again.decide(FEATURES, 0.5, GOOD).target for _ in range(2000)]
    assert targets.count("cloud") / 2000 == pytest.approx(0.3, abs=0.03)
    assert draws[0] == targets[0]


def test_policy_round_trips_through_a_file(tmp_path) -> None:
    policy = NetGPTPolicy(value_correct_usd=0.01, cloud_quality=0.8)
    policy.save(tmp_path / "policy.json")
    assert NetGPTPolicy.load(tmp_path / "policy.json") == policy


@settings(max_examples=200, deadline=None)
@given(
    cap=st.floats(min_value=0, max_value=1),
    window=st.integers(min_value=1, max_value=40),
    wants=st.lists(st.booleans(), min_size=1, max_size=300),
    fallbacks=st.lists(st.booleans(), min_size=1, max_size=300),
)
def test_cloud_share_never_exceeds_the_cap_by_more_than_one_step(
    cap: float, window: int, wants: list[bool], fallbacks: list[bool]
) -> None:
    budget = CloudBudget(max_cloud_share=cap, window_steps=window, adaptive=False)
    recent: list[bool] = []
    for i, want in enumerate(wants):
        slot = budget.reserve(wants_cloud=want, price_usd=0.001)
        if not slot.cloud and fallbacks[i % len(fallbacks)]:
            budget.upgrade(slot, price_usd=0.001)  # an edge failure asking for the cloud
        recent = [*recent, slot.cloud][-window:]
        # Later upgrades may only flip the newest slot, so the window is what the budget saw.
        assert sum(recent) <= cap * len(recent) + 1 + 1e-9


def test_dollar_budget_stops_cloud_steps_once_spent() -> None:
    budget = CloudBudget(max_cloud_usd=0.0025)
    granted = [budget.reserve(wants_cloud=True, price_usd=0.001).cloud for _ in range(5)]
    assert granted == [True, True, False, False, False]
    assert budget.spent_usd == pytest.approx(0.002)


def test_a_cloud_failure_refunds_the_budget() -> None:
    budget = CloudBudget(max_cloud_usd=0.001)
    slot = budget.reserve(wants_cloud=True, price_usd=0.001)
    budget.downgrade(slot)
    assert budget.spent_usd == 0 and budget.reserve(wants_cloud=True, price_usd=0.001).cloud


def test_budget_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="max_cloud_share"):
        CloudBudget()


def test_adaptive_budget_lowers_the_threshold_while_over_the_cap() -> None:
    budget = CloudBudget(max_cloud_share=0.2, window_steps=10)
    for _ in range(10):
        budget.reserve(wants_cloud=True, price_usd=0.0)
    assert budget.threshold_shift > 0.1
