"""A timed-out try of the real bundled edge stops generating: the deadline frees the CPU.

The edge (SmolLM2-135M-Instruct on the CPU, a 1024-token budget: a minute or more of decoding) is
asked for a long story under a 2 s ``step_timeout_s``; the fallback answers at the deadline and
the edge's generation must end right after, not at the end of its budget (the edge holds its
generate lock while it decodes). CPU numbers: ``benchmarks/abandoned_edge_cpu.py``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.routing import AlwaysEdge
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

pytestmark = pytest.mark.integration

STORY = [HumanMessage("Write a very long story about a lighthouse keeper, in many chapters.")]
# Far below the minute the full budget takes; loose enough for a loaded 2-core CI machine.
STOPPED_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def edge() -> HuggingFaceEdgeModel:
    model = HuggingFaceEdgeModel.from_bundled(device="cpu", max_new_tokens=1024)
    model.load()
    return model


def _router(edge: HuggingFaceEdgeModel, sink: InMemoryTraceSink) -> NetGPTRouter:
    return NetGPTRouter(
        edge=edge,
        cloud=ScriptedChatModel(responses=["the cloud's answer"]),
        policy=AlwaysEdge(),
        step_timeout_s=2.0,
        sinks=[sink],
    )


def _seconds_until_idle(edge: HuggingFaceEdgeModel) -> float:
    started = time.perf_counter()
    lock = edge.load().generate_lock
    assert lock.acquire(timeout=60), "the abandoned generation ran on"
    lock.release()
    return time.perf_counter() - started


def test_a_timed_out_edge_try_stops_generating_when_the_fallback_answers(
    edge: HuggingFaceEdgeModel,
) -> None:
    sink = InMemoryTraceSink()
    reply = _router(edge, sink).invoke(STORY)
    assert reply.content == "the cloud's answer"
    assert sink.traces[0].fallback_code == "timeout"
    assert _seconds_until_idle(edge) < STOPPED_WITHIN_S


async def test_a_timed_out_async_edge_try_stops_generating_too(
    edge: HuggingFaceEdgeModel,
) -> None:
    sink = InMemoryTraceSink()
    reply = await _router(edge, sink).ainvoke(STORY)
    assert reply.content == "the cloud's answer"
    assert await asyncio.to_thread(_seconds_until_idle, edge) < STOPPED_WITHIN_S
