"""The router under edge and cloud faults: deadline, retries, circuit breakers, traces."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from langchain_core.tools import tool

from langchain_netgpt import NetGPTRouter, RoutingError
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.testing.faults import EdgeFault, faulty_edge
from langchain_netgpt.tracing import InMemoryTraceSink


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def router(edge: Any, cloud: Any, sink: InMemoryTraceSink, **options: Any) -> NetGPTRouter:
    options.setdefault("policy", AlwaysEdge())
    return NetGPTRouter(edge=edge, cloud=cloud, sinks=[sink], **options)


def bad_request() -> openai.BadRequestError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return openai.BadRequestError(
        "bad request", response=httpx.Response(400, request=request), body=None
    )


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [(EdgeFault.EXCEPTION, "RuntimeError"), (EdgeFault.OUT_OF_MEMORY, "OutOfMemoryError")],
)
def test_a_failing_edge_falls_back_to_the_cloud_and_the_trace_says_why(
    fault: EdgeFault, error_type: str
) -> None:
    sink = InMemoryTraceSink()
    answer = router(faulty_edge(fault), ScriptedChatModel(responses=["cloud"]), sink).invoke("hi")
    trace = sink.traces[0]
    assert answer.content == "cloud"
    assert (trace.final_target, trace.fallback) == ("cloud", True)
    assert trace.attempts[0].error_type == error_type
    assert trace.fallback_reason is not None and error_type in trace.fallback_reason


def test_an_invalid_edge_tool_call_falls_back_to_the_cloud() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[tool_call("get_weather", {"city": "Oslo"})])
    bound = router(faulty_edge(EdgeFault.INVALID_OUTPUT), cloud, sink).bind_tools([get_weather])
    answer = bound.invoke("weather in Oslo?")
    trace = sink.traces[0]
    assert answer.tool_calls[0]["args"] == {"city": "Oslo"}
    assert trace.attempts[0].error_type == "InvalidToolCallError"
    assert trace.fallback_reason is not None and "no_such_tool" in trace.fallback_reason


def test_a_stalled_step_ends_within_its_deadline_with_a_clear_error() -> None:
    sink = InMemoryTraceSink()
    slow = router(
        ScriptedChatModel(responses=["edge"], delay_s=3),
        ScriptedChatModel(responses=["cloud"], delay_s=3),
        sink,
        step_deadline_s=0.3,
    )
    t0 = time.perf_counter()
    with pytest.raises(RoutingError, match="StepTimeoutError"):
        slow.invoke("hi")
    assert time.perf_counter() - t0 < 0.3 + 0.2
    assert [a.error_type for a in sink.traces[0].attempts] == ["StepTimeoutError"] * 2


async def test_an_async_stalled_step_ends_within_its_deadline() -> None:
    sink = InMemoryTraceSink()
    slow = router(
        ScriptedChatModel(responses=["edge"], delay_s=3),
        ScriptedChatModel(responses=["cloud"], delay_s=3),
        sink,
        step_deadline_s=0.3,
    )
    t0 = time.perf_counter()
    with pytest.raises(RoutingError):
        await slow.ainvoke("hi")
    assert time.perf_counter() - t0 < 0.3 + 0.2
    assert len(sink.traces) == 1


def test_the_deadline_leaves_the_fallback_the_time_the_first_side_did_not_use() -> None:
    sink = InMemoryTraceSink()
    answer = router(
        ScriptedChatModel(responses=["edge"], delay_s=3),
        ScriptedChatModel(responses=["cloud"]),
        sink,
        step_timeout_s=0.1,
        step_deadline_s=1.0,
    ).invoke("hi")
    assert answer.content == "cloud"
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"


def test_a_connection_error_is_retried_on_the_same_side() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[ConnectionResetError("peer reset"), "cloud"], cycle=False)
    answer = router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        retry=RetryPolicy(attempts=3, base_backoff_s=0.01, jitter=0),
    ).invoke("hi")
    trace = sink.traces[0]
    assert (answer.content, trace.fallback) == ("cloud", False)
    assert [a.ok for a in trace.attempts] == [False, True]


async def test_a_connection_error_is_retried_on_the_same_side_in_async() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[ConnectionResetError("peer reset"), "cloud"], cycle=False)
    answer = await router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        retry=RetryPolicy(attempts=2, base_backoff_s=0.01, jitter=0),
    ).ainvoke("hi")
    assert answer.content == "cloud" and len(cloud.calls) == 2


def test_a_client_error_is_not_retried_but_falls_back() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[bad_request()])
    answer = router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        retry=RetryPolicy(attempts=3, base_backoff_s=0.01),
    ).invoke("hi")
    assert (answer.content, len(cloud.calls)) == ("edge", 1)
    assert sink.traces[0].attempts[0].error_type == "BadRequestError"


def test_no_retry_is_made_when_its_wait_would_pass_the_deadline() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[ConnectionResetError("peer reset")])
    router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        step_deadline_s=0.5,
        retry=RetryPolicy(attempts=3, base_backoff_s=2, max_backoff_s=2, jitter=0),
    ).invoke("hi")
    assert len(cloud.calls) == 1


def test_an_open_circuit_sends_steps_to_the_other_side_without_calling_the_dead_one() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[ConnectionRefusedError("refused")])
    routed = router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=2, open_s=60),
    )
    answers = [routed.invoke(f"step {i}").content for i in range(5)]
    assert answers == ["edge"] * 5
    assert len(cloud.calls) == 2
    assert routed.circuit_state("cloud") == "open"
    last = sink.traces[-1]
    assert last.attempts[0].error_type == "CircuitOpenError"
    assert last.fallback_reason is not None and last.fallback_reason.startswith("circuit_open")
    assert len(sink.traces) == 5


def test_a_dead_cloud_costs_one_timeout_not_one_per_step() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=["late"], delay_s=2)
    routed = router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        step_timeout_s=0.1,
        circuit_breaker=CircuitBreakerConfig(failure_threshold=1, open_s=60),
    )
    for i in range(6):
        routed.invoke(f"step {i}")
    timeouts = [a for t in sink.traces for a in t.attempts if a.error_type == "StepTimeoutError"]
    assert len(timeouts) == 1
    assert [t.final_target for t in sink.traces] == ["edge"] * 6


def test_a_half_open_probe_that_succeeds_closes_the_circuit() -> None:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=[ConnectionRefusedError("refused"), "cloud"], cycle=False)
    routed = router(
        ScriptedChatModel(responses=["edge"]),
        cloud,
        sink,
        policy=AlwaysCloud(),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=1, open_s=0.05),
    )
    routed.invoke("first")
    time.sleep(0.06)
    assert routed.circuit_state("cloud") == "half_open"
    assert routed.invoke("probe").content == "cloud"
    assert routed.circuit_state("cloud") == "closed"


def test_circuit_state_rejects_an_unknown_side() -> None:
    routed = router(
        ScriptedChatModel(responses=["e"]), ScriptedChatModel(responses=["c"]), InMemoryTraceSink()
    )
    with pytest.raises(ValueError, match="'moon'"):
        routed.circuit_state("moon")


def test_without_a_breaker_every_side_reads_closed() -> None:
    routed = router(
        ScriptedChatModel(responses=["e"]), ScriptedChatModel(responses=["c"]), InMemoryTraceSink()
    )
    assert (routed.circuit_state("edge"), routed.circuit_state("cloud")) == ("closed", "closed")
