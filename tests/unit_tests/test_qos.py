"""QoSPolicy and the multi-target baselines, through the public API."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTPolicy, NetworkState
from langchain_netgpt.routing import RequestFeatures
from langchain_netgpt.routing.qos import (
    LeastLoadedPolicy,
    QoSPolicy,
    RandomTargetPolicy,
    RoundRobinPolicy,
)
from langchain_netgpt.routing.targets import LoadSnapshot, TargetSpec

LINK = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=40)
FEATURES = RequestFeatures.from_messages([HumanMessage("What is the weather in Paris?")])
TWO_EDGES = {
    "a": TargetSpec(kind="edge", service_s=1.0, slo_s=4.0),
    "b": TargetSpec(kind="edge", service_s=1.0, slo_s=4.0),
    "cloud": TargetSpec(kind="cloud"),
}
QUALITY = {"a": 0.9, "b": 0.9, "cloud": 0.7}


def _busy(n: int, service_s: float = 1.0) -> LoadSnapshot:
    return LoadSnapshot(in_flight=n, queued=max(0, n - 1), service_s=service_s)


@pytest.mark.parametrize("score", [0.0, 0.3, 0.55, 0.7, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("rtt_ms", [10.0, 150.0, 900.0])
def test_qos_makes_the_netgpt_choice_with_two_idle_targets(score: float, rtt_ms: float) -> None:
    network = NetworkState(bandwidth_up_mbps=5, bandwidth_down_mbps=20, rtt_ms=rtt_ms)
    netgpt = NetGPTPolicy().decide(FEATURES, score, network)
    qos = QoSPolicy().decide(FEATURES, score, network)
    assert qos.target == netgpt.target
    assert qos.threshold == pytest.approx(netgpt.threshold, abs=1e-9)


def test_a_queue_on_one_edge_expert_sends_the_request_to_the_other() -> None:
    choice = QoSPolicy().rank(TWO_EDGES, QUALITY, {"a": _busy(2)}, FEATURES, LINK)
    assert choice.ranking[0] == "b"
    assert choice.estimates["a"].wait_s == pytest.approx(2.0)


def test_interference_on_a_batching_expert_is_counted() -> None:
    batching = {"a": TargetSpec(kind="edge", service_s=1.0, concurrency=4, interference=0.5)}
    est = QoSPolicy().rank(batching, {"a": 0.9}, {"a": _busy(2)}, FEATURES, LINK).estimates["a"]
    assert est.wait_s == 0.0
    assert est.service_s == pytest.approx(2.0)  # 1 s alone, +50% per other running request
    assert est.interference_s == pytest.approx(0.5)  # two running, each slowed 0.5 s for half


def test_expected_slo_violation_lowers_utility() -> None:
    tight = {"a": TargetSpec(kind="edge", service_s=1.0, slo_s=1.2)}
    loose = {"a": TargetSpec(kind="edge", service_s=1.0, slo_s=10.0)}
    policy = QoSPolicy()
    u_tight = policy.rank(tight, {"a": 0.9}, {}, FEATURES, LINK).estimates["a"]
    u_loose = policy.rank(loose, {"a": 0.9}, {}, FEATURES, LINK).estimates["a"]
    assert u_tight.slo_violation_p > 0.4 > u_loose.slo_violation_p
    assert u_tight.utility < u_loose.utility


def test_a_better_expert_wins_when_both_are_idle() -> None:
    choice = QoSPolicy().rank(TWO_EDGES, {"a": 0.6, "b": 0.9, "cloud": 0.5}, {}, FEATURES, LINK)
    assert choice.ranking == ("b", "a", "cloud")


def test_a_down_link_puts_the_cloud_last() -> None:
    down = NetworkState(bandwidth_up_mbps=0, bandwidth_down_mbps=0, rtt_ms=50)
    choice = QoSPolicy().rank(TWO_EDGES, {"a": 0.1, "b": 0.1, "cloud": 1.0}, {}, FEATURES, down)
    assert choice.ranking[-1] == "cloud"


def test_missing_quality_estimate_names_the_target() -> None:
    with pytest.raises(ValueError, match="no quality estimate for target 'cloud'"):
        QoSPolicy().rank(TWO_EDGES, {"a": 0.9, "b": 0.9}, {}, FEATURES, LINK)


def test_least_loaded_picks_the_target_with_fewest_in_flight() -> None:
    loads = {"a": _busy(2), "b": _busy(1), "cloud": _busy(1)}
    choice = LeastLoadedPolicy().rank(TWO_EDGES, QUALITY, loads, FEATURES, LINK)
    assert choice.ranking == ("b", "cloud", "a")


def test_round_robin_takes_targets_in_turn() -> None:
    policy = RoundRobinPolicy()
    firsts = [policy.rank(TWO_EDGES, QUALITY, {}, FEATURES, LINK).ranking[0] for _ in range(4)]
    assert firsts == ["a", "b", "cloud", "a"]


def test_random_target_policy_is_reproducible_with_a_seed() -> None:
    def draws(seed: int) -> list[str]:
        policy = RandomTargetPolicy(seed=seed)
        return [policy.rank(TWO_EDGES, QUALITY, {}, FEATURES, LINK).ranking[0] for _ in range(20)]

    assert draws(3) == draws(3)
    assert set(draws(3)) == {"a", "b", "cloud"}


def test_qos_policy_rejects_a_negative_slo_penalty() -> None:
    with pytest.raises(ValueError, match="slo_penalty_usd"):
        QoSPolicy(slo_penalty_usd=-1.0)
