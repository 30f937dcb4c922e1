"""Streams obey step_deadline_s: fall back before the first chunk, cut after it, trace always."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.errors import RoutingError
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.routing.policy import RoutePolicy
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.testing.faults import FaultMode, FaultProxy, FaultyStreamModel, StreamFault
from langchain_netgpt.tracing import InMemoryTraceSink

DEADLINE_S = 1.0
SLACK_S = 0.4  # loose for shared CI cores; benchmarks/faults.py measures the overshoot


@pytest.fixture
def faulty() -> Iterator[list[FaultyStreamModel]]:
    made: list[FaultyStreamModel] = []
    yield made
    for model in made:
        model.release()


def _model(made: list[FaultyStreamModel], fault: StreamFault, **kw: float) -> FaultyStreamModel:
    model = FaultyStreamModel(fault=fault, **kw)
    made.append(model)
    return model


def _router(
    edge: object, cloud: object, sink: InMemoryTraceSink, policy: RoutePolicy
) -> NetGPTRouter:
    return NetGPTRouter(
        edge=edge,
        cloud=cloud,
        policy=policy,
        step_timeout_s=0.4,
        step_deadline_s=DEADLINE_S,
        sinks=[sink],
    )


def _edge() -> ScriptedChatModel:
    return ScriptedChatModel(responses=["edge answer here"])


def test_a_silent_cloud_stream_falls_back_to_the_edge_within_the_deadline(
    faulty: list[FaultyStreamModel],
) -> None:
    sink = InMemoryTraceSink()
    cloud = _model(faulty, StreamFault.SILENT, hold_s=10)
    router = _router(_edge(), cloud, sink, AlwaysCloud())
    t0 = time.perf_counter()
    text = "".join(str(c.content) for c in router.stream("hi"))
    elapsed = time.perf_counter() - t0
    assert text == "edge answer here" and elapsed < 0.4 + SLACK_S
    (trace,) = sink.traces
    assert trace.final_target == "edge" and trace.fallback_code == "timeout"


def test_a_silent_real_openai_stream_falls_back_to_the_edge() -> None:
    sink = InMemoryTraceSink()
    with FaultProxy("127.0.0.1", 9, mode=FaultMode.STALL) as proxy:
        cloud = ChatOpenAI(
            model="stalled", base_url=proxy.base_url, api_key=SecretStr("x"), max_retries=0
        )
        router = _router(_edge(), cloud, sink, AlwaysCloud())
        t0 = time.perf_counter()
        text = "".join(str(c.content) for c in router.stream("hi"))
        elapsed = time.perf_counter() - t0
    assert text == "edge answer here" and elapsed < DEADLINE_S + SLACK_S
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"


async def test_a_silent_cloud_astream_falls_back_to_the_edge_within_the_deadline(
    faulty: list[FaultyStreamModel],
) -> None:
    sink = InMemoryTraceSink()
    router = _router(_edge(), _model(faulty, StreamFault.SILENT, hold_s=10), sink, AlwaysCloud())
    t0 = time.perf_counter()
    text = "".join([str(c.content) async for c in router.astream("hi")])
    assert text == "edge answer here" and time.perf_counter() - t0 < 0.4 + SLACK_S
    assert sink.traces[0].fallback_code == "timeout"


@pytest.mark.parametrize("fault", [StreamFault.SLOW_DRIP, StreamFault.LOOP])
def test_a_dripping_or_looping_stream_is_cut_at_the_deadline_with_a_trace(
    faulty: list[FaultyStreamModel], fault: StreamFault
) -> None:
    sink = InMemoryTraceSink()
    edge = _model(faulty, fault, interval_s=0.05, chunks=1000)
    router = _router(edge, ScriptedChatModel(responses=["cloud"]), sink, AlwaysEdge())
    received: list[AIMessageChunk] = []
    t0 = time.perf_counter()
    with pytest.raises(RoutingError, match="cut at step_deadline_s"):
        for chunk in router.stream("hi"):
            received.append(chunk)
    elapsed = time.perf_counter() - t0
    assert received and DEADLINE_S - 0.05 < elapsed < DEADLINE_S + SLACK_S
    (trace,) = sink.traces
    assert trace.final_target is None and trace.attempts[0].error_type == "StepTimeoutError"
    partial = trace.attempts[0].output
    assert partial is not None and str(partial.content).startswith("w0 w1")


async def test_a_looping_astream_is_cut_at_the_deadline_with_a_trace(
    faulty: list[FaultyStreamModel],
) -> None:
    sink = InMemoryTraceSink()
    edge = _model(faulty, StreamFault.LOOP, interval_s=0.05)
    router = _router(edge, ScriptedChatModel(responses=["cloud"]), sink, AlwaysEdge())
    t0 = time.perf_counter()
    with pytest.raises(RoutingError, match="cut at step_deadline_s"):
        async for _ in router.astream("hi"):
            pass
    assert time.perf_counter() - t0 < DEADLINE_S + SLACK_S
    assert len(sink.traces) == 1 and sink.traces[0].error


def test_a_buffered_tool_stream_that_is_too_slow_falls_back_like_invoke(
    faulty: list[FaultyStreamModel],
) -> None:
    from langchain_core.tools import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    sink = InMemoryTraceSink()
    cloud = _model(faulty, StreamFault.SLOW_DRIP, interval_s=0.2, chunks=50)
    router = _router(_edge(), cloud, sink, AlwaysCloud())
    chunks = list(router.bind_tools([add]).stream("hi"))
    assert "".join(str(c.content) for c in chunks) == "edge answer here"
    assert sink.traces[0].fallback_code == "timeout"


def test_a_stream_cut_mid_answer_ends_with_a_clear_error_and_a_trace(
    faulty: list[FaultyStreamModel],
) -> None:
    sink = InMemoryTraceSink()
    edge = _model(faulty, StreamFault.CUT, interval_s=0.0, chunks=3)
    router = _router(edge, ScriptedChatModel(responses=["cloud"]), sink, AlwaysEdge())
    with pytest.raises(RoutingError, match="ConnectionResetError"):
        list(router.stream("hi"))
    assert len(sink.traces) == 1 and sink.traces[0].attempts[0].output is not None


# -- a trace for every started step --------------------------------------------------------------
def test_a_stream_the_caller_stops_after_its_first_chunk_is_traced() -> None:
    sink = InMemoryTraceSink()
    router = _router(
        ScriptedChatModel(responses=["one two three four"]),
        ScriptedChatModel(responses=["cloud"]),
        sink,
        AlwaysEdge(),
    )
    stream = router.stream("hi")
    next(stream)
    stream.close()
    (trace,) = sink.traces
    assert trace.error is not None and "GeneratorExit" in trace.error
    assert trace.attempts[0].error_type == "GeneratorExit"
    assert trace.attempts[0].output is not None


async def test_a_cancelled_astream_is_traced(faulty: list[FaultyStreamModel]) -> None:
    sink = InMemoryTraceSink()
    edge = _model(faulty, StreamFault.LOOP, interval_s=0.05)
    router = NetGPTRouter(
        edge=edge, cloud=ScriptedChatModel(responses=["c"]), policy=AlwaysEdge(), sinks=[sink]
    )

    async def consume() -> None:
        async for _ in router.astream("hi"):
            pass

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (trace,) = sink.traces
    assert trace.error is not None and "CancelledError" in trace.error


async def test_a_cancelled_ainvoke_is_traced(faulty: list[FaultyStreamModel]) -> None:
    sink = InMemoryTraceSink()
    cloud = _model(faulty, StreamFault.SILENT, hold_s=10)
    router = NetGPTRouter(edge=_edge(), cloud=cloud, policy=AlwaysCloud(), sinks=[sink])
    task = asyncio.ensure_future(router.ainvoke("hi"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (trace,) = sink.traces
    assert trace.error is not None and "cancelled" in trace.error
    assert trace.attempts[0].target == "cloud" and trace.attempts[0].error_type == "CancelledError"


def test_ctrl_c_during_a_call_is_traced() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=_edge(),
        cloud=ScriptedChatModel(responses=[KeyboardInterrupt()]),
        policy=AlwaysCloud(),
        sinks=[sink],
    )
    with pytest.raises(KeyboardInterrupt):
        router.invoke("hi")
    (trace,) = sink.traces
    assert trace.error is not None and "KeyboardInterrupt" in trace.error
