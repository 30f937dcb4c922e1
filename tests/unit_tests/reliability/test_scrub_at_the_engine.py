"""The engine scrubs once, with the package's scrubber: traces, exceptions and reply metadata."""

from __future__ import annotations

import json
import time

import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.errors import RoutingError
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.privacy import PrivacyRules
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink
from tests.unit_tests.reliability.test_secrets_everywhere import ENV_SECRET, PLANTED, _leaks


@pytest.fixture(autouse=True)
def planted_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_INTERNAL_TOKEN", ENV_SECRET)


def _failing(text: str) -> ScriptedChatModel:
    return ScriptedChatModel(responses=[RuntimeError(f"upstream said: {text}")])


def test_routing_error_text_carries_no_credential() -> None:
    router = NetGPTRouter(edge=_failing(PLANTED), cloud=_failing(PLANTED), policy=AlwaysCloud())
    with pytest.raises(RoutingError) as caught:
        router.invoke("hi")
    assert "upstream said" in str(caught.value)
    assert _leaks(str(caught.value)) == []
    assert all(_leaks(str(exc)) == [] for _, exc in caught.value.attempts)


def test_the_replys_fallback_reason_carries_no_credential() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=_failing(PLANTED),
        policy=AlwaysCloud(),
        sinks=[sink],
    )
    reply = router.invoke("hi")
    route = reply.response_metadata["netgpt"]
    assert route["fallback"] and "upstream said" in route["fallback_reason"]
    assert _leaks(json.dumps(route)) == []
    assert route["fallback_reason"] == sink.traces[0].fallback_reason


def test_a_key_set_after_the_router_was_built_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=_failing("late-secret-value-1234"),
        policy=AlwaysCloud(),
        sinks=[sink],
    )
    router.invoke("warm up")
    monkeypatch.setenv("LATE_API_KEY", "late-secret-value-1234")
    reply = router.invoke("hi")
    assert "late-secret-value-1234" not in reply.response_metadata["netgpt"]["fallback_reason"]
    assert "late-secret-value-1234" not in sink.traces[-1].to_json()


def test_a_sink_trace_is_a_snapshot_even_without_scrubbing() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=AlwaysCloud(),
        sinks=[sink],
        scrub_secrets=False,
    )
    reply = router.invoke("hi")
    reply.response_metadata["late"] = True
    output = sink.traces[0].output
    assert output is not None and output is not reply
    assert "netgpt" not in output.response_metadata and "late" not in output.response_metadata


def test_the_privacy_scan_counts_against_the_step_deadline() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        privacy=PrivacyRules(),
        step_deadline_s=5,
        sinks=[sink],
    )
    t0 = time.perf_counter()
    router.invoke([HumanMessage("lorem ipsum " * 200_000)])  # 2.4 MB, scanned while planning
    elapsed = time.perf_counter() - t0
    trace = sink.traces[0]
    assert trace.latency_s >= trace.decision_s  # the step's clock started before the plan
    assert trace.latency_s <= elapsed
