"""EpsilonGreedyPolicy: logged propensities, and the router copying them into traces."""

from __future__ import annotations

import pytest

from langchain_netgpt import CloudBudget, NetGPTRouter, NetworkState
from langchain_netgpt.routing import AlwaysCloud, RequestFeatures
from langchain_netgpt.routing.exploration import EpsilonGreedyPolicy
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

FEATURES = RequestFeatures(
    prompt_tokens=300, question_tokens=30, new_tokens=300, payload_bytes=1200, message_count=1
)
NETWORK = NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=50)


def test_the_propensity_is_the_probability_of_the_chosen_target() -> None:
    policy = EpsilonGreedyPolicy(base=AlwaysCloud(), epsilon=0.3, seed=1)

    decisions = [policy.decide(FEATURES, 0.5, NETWORK) for _ in range(200)]

    for decision in decisions:
        expected = 0.85 if decision.target == "cloud" else 0.15
        assert decision.propensity == pytest.approx(expected)


def test_the_other_target_is_chosen_at_half_the_exploration_rate() -> None:
    policy = EpsilonGreedyPolicy(base=AlwaysCloud(), epsilon=0.2, seed=2)

    edge_share = sum(policy.decide(FEATURES, 0.5, NETWORK).target == "edge" for _ in range(4000))

    assert edge_share / 4000 == pytest.approx(0.1, abs=0.02)


def test_zero_epsilon_follows_the_base_policy_with_propensity_one() -> None:
    policy = EpsilonGreedyPolicy(base=AlwaysCloud(), epsilon=0.0, seed=3)

    decision = policy.decide(FEATURES, 0.9, NETWORK)

    assert (decision.target, decision.propensity) == ("cloud", 1.0)


def test_the_same_seed_replays_the_same_choices() -> None:
    first = EpsilonGreedyPolicy(epsilon=0.5, seed=4)
    second = EpsilonGreedyPolicy(epsilon=0.5, seed=4)

    targets = [
        (first.decide(FEATURES, 0.5, NETWORK).target, second.decide(FEATURES, 0.5, NETWORK).target)
        for _ in range(50)
    ]

    assert all(a == b for a, b in targets)


def test_targets_must_be_two_distinct_names() -> None:
    with pytest.raises(ValueError, match=r"two distinct names, got \('edge', 'edge'\)"):
        EpsilonGreedyPolicy(targets=("edge", "edge"))


def test_epsilon_outside_zero_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedyPolicy(epsilon=1.5)


def _router(**kwargs: object) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        monitor=FixedNetworkMonitor(NETWORK),
        sinks=[sink],
        **kwargs,  # type: ignore[arg-type]
    )
    return router, sink


def test_the_router_copies_the_propensity_into_the_trace() -> None:
    router, sink = _router(policy=EpsilonGreedyPolicy(base=AlwaysCloud(), epsilon=0.4, seed=5))

    for _ in range(20):
        router.invoke("hello")

    logged = {(t.decided_target, round(t.propensity, 9)) for t in sink.traces}
    assert logged == {("cloud", 0.8), ("edge", 0.2)}


def test_a_budget_override_is_logged_with_propensity_one() -> None:
    budget = CloudBudget(max_cloud_usd=0.0)
    router, sink = _router(
        policy=EpsilonGreedyPolicy(base=AlwaysCloud(), epsilon=0.1, seed=6), budget=budget
    )

    router.invoke("hello")

    trace = sink.traces[0]
    assert (trace.overridden_by, trace.decided_target, trace.propensity) == ("budget", "edge", 1.0)
