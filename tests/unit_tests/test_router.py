from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_netgpt import (
    CloudBudget,
    JsonlTraceSink,
    NetGPTPolicy,
    NetGPTRouter,
    NetworkMonitor,
    NetworkState,
    RoutingError,
)
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.testing import (
    ConstantScorer,
    FixedNetworkMonitor,
    ScriptedChatModel,
    tool_call,
)
from langchain_netgpt.tracing import InMemoryTraceSink, read_jsonl_traces

GOOD = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)
BAD = NetworkState(bandwidth_up_mbps=0.2, bandwidth_down_mbps=0.5, rtt_ms=1500)


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def make_router(
    *,
    edge: list[Any] | None = None,
    cloud: list[Any] | None = None,
    network: NetworkState = GOOD,
    score: float = 0.5,
    **kwargs: Any,
) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=edge or ["edge says hi"], model_name="edge-model"),
        cloud=ScriptedChatModel(responses=cloud or ["cloud says hi"], model_name="cloud-model"),
        monitor=FixedNetworkMonitor(network),
        scorer=ConstantScorer(score),
        sinks=[sink, *kwargs.pop("sinks", [])],
        **kwargs,
    )
    return router, sink


def route_of(message: BaseMessage) -> str:
    return str(message.response_metadata["netgpt"]["target"])


def test_a_middling_step_goes_to_the_cloud_on_a_good_link_and_stays_on_the_edge_on_a_bad_one() -> (
    None
):
    good, _ = make_router(network=GOOD, score=0.6)
    bad, _ = make_router(network=BAD, score=0.6)
    assert route_of(good.invoke("hello")) == "cloud"
    assert route_of(bad.invoke("hello")) == "edge"


def test_the_answer_carries_the_decision_in_response_metadata() -> None:
    router, _ = make_router(network=BAD, score=0.9)
    info = router.invoke("hello").response_metadata["netgpt"]
    assert info["target"] == "edge" and info["decided_target"] == "edge"
    assert info["score"] == 0.9
    assert 0.0 <= info["threshold"] <= 1.0
    assert info["rtt_ms"] == 1500 and info["fallback"] is False
    assert "threshold" in info["reason"] and info["trace_id"]


def test_every_call_writes_exactly_one_trace() -> None:
    router, sink = make_router()
    router.invoke("one")
    router.batch(["two", "three"])
    assert len(sink.traces) == 3
    assert {t.mode for t in sink.traces} == {"invoke"}
    trace = sink.traces[0]
    assert trace.messages[0].content == "one" and trace.output is not None
    assert trace.network == GOOD


async def test_async_calls_are_routed_and_traced() -> None:
    router, sink = make_router(network=BAD, score=0.9)
    answers = await asyncio.gather(*(router.ainvoke(f"q{i}") for i in range(5)))
    assert [route_of(a) for a in answers] == ["edge"] * 5
    assert len(sink.traces) == 5 and {t.mode for t in sink.traces} == {"ainvoke"}


def test_streaming_without_tools_streams_chunks_and_the_last_carries_the_route() -> None:
    router, sink = make_router(edge=["one two three four"], network=BAD, score=0.9)
    chunks = list(router.stream("count"))
    assert "".join(str(c.content) for c in chunks) == "one two three four"
    assert len(chunks) >= 4
    assert chunks[-1].response_metadata["netgpt"]["target"] == "edge"
    assert sink.traces[0].mode == "stream"


async def test_async_streaming_routes_too() -> None:
    router, sink = make_router(cloud=["a b c"], network=GOOD, score=0.1)
    chunks = [c async for c in router.astream("abc")]
    assert "".join(str(c.content) for c in chunks) == "a b c"
    assert chunks[-1].response_metadata["netgpt"]["target"] == "cloud"
    assert sink.traces[0].mode == "astream"


def test_bind_tools_binds_the_tools_on_both_sides() -> None:
    router, _ = make_router(
        edge=[tool_call("get_weather", {"city": "Oslo"})],
        cloud=[tool_call("get_weather", {"city": "Oslo"})],
        network=BAD,
        score=0.9,
    )
    bound = router.bind_tools([get_weather], tool_choice="get_weather")
    message = bound.invoke("weather in Oslo?")
    assert message.tool_calls[0]["args"] == {"city": "Oslo"}
    edge_calls = router.edge.calls  # type: ignore[attr-defined]
    assert edge_calls[0][1]["tools"][0]["function"]["name"] == "get_weather"
    assert edge_calls[0][1]["tool_choice"] == "get_weather"
    router.policy = AlwaysCloud()
    bound.invoke("and now?")
    cloud_calls = router.cloud.calls  # type: ignore[attr-defined]
    assert cloud_calls[0][1]["tools"][0]["function"]["name"] == "get_weather"


def test_tool_choice_naming_an_unbound_tool_is_rejected() -> None:
    router, _ = make_router()
    with pytest.raises(ValueError, match="'get_time', which is not a bound tool"):
        router.bind_tools([get_weather], tool_choice="get_time")


def test_an_edge_exception_falls_back_to_the_cloud_and_says_so() -> None:
    router, sink = make_router(edge=[RuntimeError("GPU fell over")], network=BAD, score=0.9)
    message = router.invoke("hi")
    assert route_of(message) == "cloud"
    info = message.response_metadata["netgpt"]
    assert info["fallback"] is True and "GPU fell over" in info["fallback_reason"]
    attempts = sink.traces[0].attempts
    assert [(a.target, a.ok) for a in attempts] == [("edge", False), ("cloud", True)]
    assert attempts[0].error_type == "RuntimeError"


def test_a_cloud_exception_falls_back_to_the_edge() -> None:
    router, sink = make_router(cloud=[ConnectionError("no route to host")], policy=AlwaysCloud())
    assert route_of(router.invoke("hi")) == "edge"
    assert sink.traces[0].fallback and sink.traces[0].decided_target == "cloud"


def test_an_invalid_tool_call_falls_back_to_the_other_side() -> None:
    router, sink = make_router(
        edge=[tool_call("get_weather", {"town": "Oslo"})],
        cloud=[tool_call("get_weather", {"city": "Oslo"})],
        network=BAD,
        score=0.9,
    )
    message = router.bind_tools([get_weather]).invoke("weather?")
    assert route_of(message) == "cloud"
    assert message.tool_calls[0]["args"] == {"city": "Oslo"}
    trace = sink.traces[0]
    assert trace.attempts[0].tool_calls_valid is False
    assert "missing required property 'city'" in trace.attempts[0].problems[0]
    assert trace.tool_calls_valid is True


def test_a_call_of_an_unknown_tool_is_invalid() -> None:
    router, sink = make_router(
        edge=[tool_call("launch_rocket", {})],
        cloud=[tool_call("get_weather", {"city": "Oslo"})],
        network=BAD,
        score=0.9,
    )
    assert route_of(router.bind_tools([get_weather]).invoke("weather?")) == "cloud"
    assert "unknown tool 'launch_rocket'" in sink.traces[0].attempts[0].problems[0]


def test_when_both_sides_answer_invalidly_the_first_answer_returns_marked_invalid() -> None:
    router, sink = make_router(
        edge=[tool_call("get_weather", {})],
        cloud=[tool_call("get_weather", {"c": 1})],
        network=BAD,
        score=0.9,
    )
    message = router.bind_tools([get_weather]).invoke("weather?")
    assert route_of(message) == "edge"
    assert message.response_metadata["netgpt"]["tool_calls_valid"] is False
    assert sink.traces[0].tool_calls_valid is False and len(sink.traces[0].attempts) == 2


def test_a_required_tool_call_that_never_comes_is_invalid() -> None:
    router, _ = make_router(
        edge=["I refuse"], cloud=[tool_call("get_weather", {"city": "A"})], network=BAD, score=0.9
    )
    message = router.bind_tools([get_weather], tool_choice="any").invoke("weather?")
    assert route_of(message) == "cloud"


def test_when_every_side_fails_a_routing_error_is_raised_and_traced() -> None:
    router, sink = make_router(edge=[RuntimeError("edge down")], cloud=[TimeoutError("cloud down")])
    with pytest.raises(RoutingError, match="edge down") as info:
        router.invoke("hi")
    assert [target for target, _ in info.value.attempts] == ["cloud", "edge"]
    trace = sink.traces[0]
    assert trace.final_target is None and "cloud down" in (trace.error or "")


def test_fallback_off_means_one_try() -> None:
    router, _ = make_router(
        edge=[RuntimeError("edge down")], network=BAD, score=0.9, fallback=False
    )
    with pytest.raises(RoutingError, match="edge down"):
        router.invoke("hi")


def test_a_slow_side_times_out_and_falls_back() -> None:
    router, sink = make_router(network=BAD, score=0.9, step_timeout_s=0.05)
    router.edge.delay_s = 2.0  # type: ignore[attr-defined]
    message = router.invoke("hi")
    assert route_of(message) == "cloud"
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"
    assert sink.traces[0].latency_s < 1.0


async def test_a_slow_side_times_out_in_async_calls_too() -> None:
    router, sink = make_router(network=BAD, score=0.9, step_timeout_s=0.05)
    router.edge.delay_s = 2.0  # type: ignore[attr-defined]
    assert route_of(await router.ainvoke("hi")) == "cloud"
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"


def test_the_budget_caps_the_cloud_share_whatever_the_policy_wants() -> None:
    budget = CloudBudget(max_cloud_share=0.25, window_steps=20, adaptive=False)
    router, sink = make_router(policy=AlwaysCloud(), budget=budget)
    routes = [route_of(router.invoke(f"q{i}")) for i in range(100)]
    for end in range(1, 101):
        window = routes[max(0, end - 20) : end]
        assert window.count("cloud") <= 0.25 * len(window) + 1
    overridden = [t for t in sink.traces if t.overridden_by == "budget"]
    assert overridden and all("cap" in t.reason for t in overridden)


def test_an_edge_failure_may_not_spend_cloud_budget_that_is_gone() -> None:
    budget = CloudBudget(max_cloud_usd=0.0)
    router, sink = make_router(
        edge=[RuntimeError("edge down")], network=BAD, score=0.9, budget=budget
    )
    with pytest.raises(RoutingError):
        router.invoke("hi")
    assert [a.target for a in sink.traces[0].attempts] == ["edge"]
    assert "budget" in (sink.traces[0].fallback_reason or "")


def test_cloud_calls_feed_the_live_network_monitor() -> None:
    monitor = NetworkMonitor(initial=GOOD)
    # The server reports 50 ms of compute; the call takes 200 ms: the rest is network.
    timed = AIMessage("c", response_metadata={"headers": {"x-netgpt-server-ms": "50"}})
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=ScriptedChatModel(responses=[timed], delay_s=0.2),
        policy=AlwaysCloud(),
        monitor=monitor,
    )
    router.invoke("hi")
    router.invoke("again")
    assert monitor.observations == 2
    assert monitor.state().rtt_ms > GOOD.rtt_ms


def test_edge_calls_leave_the_network_estimate_alone() -> None:
    monitor = NetworkMonitor(initial=GOOD)
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=ScriptedChatModel(responses=["c"]),
        policy=AlwaysEdge(),
        monitor=monitor,
    )
    router.invoke("hi")
    assert monitor.observations == 0


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.starts.append(kwargs)


def test_a_routed_call_is_one_chat_model_run_the_sides_start_none() -> None:
    router, _ = make_router(network=BAD, score=0.9)
    recorder = _Recorder()
    router.invoke("hi", config={"callbacks": [recorder], "metadata": {"thread_id": "t-1"}})
    (start,) = recorder.starts
    assert start["parent_run_id"] is None
    assert start["metadata"]["thread_id"] == "t-1"


def test_the_session_id_comes_from_the_thread_id() -> None:
    router, sink = make_router()
    router.invoke("hi", config={"metadata": {"thread_id": "thread-42"}})
    assert sink.traces[0].session_id == "thread-42"


def test_the_previous_route_is_read_from_the_conversation() -> None:
    router, sink = make_router(network=BAD, score=0.9)
    first = router.invoke("hi")
    router.invoke([HumanMessage("hi"), first, HumanMessage("more")])
    assert sink.traces[1].features["previous_target"] == "edge"
    assert sink.traces[1].features["turn_index"] == 1


def test_jsonl_sink_keeps_one_line_per_step(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    router, _ = make_router(sinks=[JsonlTraceSink(path)])
    for i in range(3):
        router.invoke(f"q{i}")
    traces = list(read_jsonl_traces(path))
    assert [t.messages[0].content for t in traces] == ["q0", "q1", "q2"]


class _BrokenSink:
    def write(self, trace: Any) -> None:
        raise OSError("disk full")


def test_a_failing_sink_does_not_break_routing_but_is_counted() -> None:
    router, sink = make_router(sinks=[_BrokenSink()])
    assert router.invoke("hi").content
    assert router.sink_errors == 1 and len(sink.traces) == 1


class Weather(BaseModel):
    """A weather report."""

    city: str
    celsius: float


def test_structured_output_works_through_the_router() -> None:
    router, _ = make_router(
        edge=[tool_call("Weather", {"city": "Oslo", "celsius": 3.5})], network=BAD, score=0.9
    )
    report = router.with_structured_output(Weather).invoke("weather in Oslo")
    assert report == Weather(city="Oslo", celsius=3.5)


class _BreaksMidStream(ScriptedChatModel):
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content="partial "))
        yield ChatGenerationChunk(message=AIMessageChunk(content="answer "))
        raise ConnectionResetError("link dropped")


def test_a_stream_that_breaks_after_output_raises_instead_of_switching_sides() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=_BreaksMidStream(responses=["unused"]),
        policy=AlwaysCloud(),
        sinks=[sink],
    )
    received: list[str] = []
    with pytest.raises(RoutingError, match="link dropped"):
        for chunk in router.stream("hi"):
            received.append(str(chunk.content))
    assert received == ["partial "]
    assert sink.traces[0].final_target is None


def test_a_stream_that_fails_before_output_falls_back() -> None:
    router, _ = make_router(cloud=[RuntimeError("503")], policy=AlwaysCloud())
    chunks = list(router.stream("hi"))
    assert chunks[-1].response_metadata["netgpt"]["target"] == "edge"


def test_streamed_tool_calls_are_validated_before_they_are_released() -> None:
    router, _ = make_router(
        edge=[tool_call("get_weather", {"town": "X"})],
        cloud=[tool_call("get_weather", {"city": "X"})],
        network=BAD,
        score=0.9,
    )
    chunks = list(router.bind_tools([get_weather]).stream("weather?"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls[0]["args"] == {"city": "X"}
    assert merged.response_metadata["netgpt"]["target"] == "cloud"


def test_policy_defaults_are_usable_without_arguments() -> None:
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]), cloud=ScriptedChatModel(responses=["c"])
    )
    assert isinstance(router.policy, NetGPTPolicy)
    assert isinstance(router.invoke("hi"), AIMessage)


def test_a_policy_that_is_not_a_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="policy"):
        NetGPTRouter(
            edge=ScriptedChatModel(responses=["e"]),
            cloud=ScriptedChatModel(responses=["c"]),
            policy="netgpt",  # type: ignore[arg-type]
        )
