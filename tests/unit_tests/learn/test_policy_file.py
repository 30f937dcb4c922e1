"""The policy file: the learned threshold, loading it into a router, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.learn import (
    LearnedThresholdPolicy,
    PolicyFile,
    load_policy,
    load_policy_scorer,
)
from langchain_netgpt.routing import LearnedScorer
from langchain_netgpt.routing.features import FEATURE_NAMES
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

N = len(FEATURE_NAMES)


def _threshold(rtt_weight: float = -1.0) -> LearnedThresholdPolicy:
    return LearnedThresholdPolicy(
        bias=0.0, weights=[rtt_weight, 0.3, 0.3, 0.0], means=[5, 2, 3, 0], scales=[1, 1, 1, 1]
    )


def _policy_file(tmp_path: Path, scorer_bias: float = 0.0) -> Path:
    scorer = LearnedScorer(bias=scorer_bias, weights=[0.0] * N, means=[0.0] * N, scales=[1.0] * N)
    path = tmp_path / "policy.json"
    PolicyFile(scorer=scorer, threshold=_threshold(), trained_on={"rows": 0}).save(path)
    return path


def test_the_learned_threshold_falls_as_rtt_rises_with_a_negative_weight() -> None:
    policy = _threshold(rtt_weight=-1.0)
    taus = [
        policy.threshold(NetworkState(bandwidth_up_mbps=5, bandwidth_down_mbps=20, rtt_ms=rtt))
        for rtt in (10, 100, 1000, 5000)
    ]

    assert taus == sorted(taus, reverse=True) and taus[0] > taus[-1]


def test_a_saved_policy_routes_in_a_router(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, scorer_bias=0.0)  # every step scores 0.5
    sink = InMemoryTraceSink()
    slow = NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=3000)
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=load_policy(path),
        scorer=load_policy_scorer(path),
        monitor=FixedNetworkMonitor(slow),
        sinks=[sink],
    )

    reply = router.invoke("hello")

    assert load_policy(path).threshold(slow) < 0.5
    assert reply.response_metadata["netgpt"]["target"] == "edge"
    assert sink.traces[0].policy == "policynet"


def test_a_file_of_another_kind_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps({"kind": "netgpt.scorer", "schema_version": 1}), encoding="utf-8")

    expected = r"kind 'netgpt\.scorer', expected 'netgpt\.policy'"
    with pytest.raises(ConfigurationError, match=expected):
        load_policy(path)


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["schema_version"] = 99
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(ConfigurationError, match="schema_version 99, expected 1"):
        load_policy(path)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="not a JSON policy file"):
        load_policy_scorer(path)


def test_a_threshold_with_the_wrong_number_of_weights_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["threshold"]["weights"] = [1.0]
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(ConfigurationError, match="invalid policy file"):
        load_policy(path)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_policy(tmp_path / "absent.json")
