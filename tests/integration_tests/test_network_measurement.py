"""The network monitor measures the link, not the cloud's compute, with a plain ``ChatOpenAI``.

A real ``netgpt serve`` (:class:`LocalServer`) behind an emulated 50 ms link serves a scripted
model whose compute time varies from 0 to 1.5 s a call; the router wraps a ``ChatOpenAI`` built
without ``include_response_headers``. Over 20 steps of invoke and of streaming with tools, every
round-trip estimate stays within 20% of the emulated RTT, and the user's replies carry no headers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter, NetworkMonitor
from langchain_netgpt.cloud import LOCAL_API_KEY, LocalServer, WanProfile
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.network import NetworkSampleSource
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

pytestmark = pytest.mark.integration

RTT_MS = 50.0
COMPUTE_S = (0.0, 1.5, 0.2, 0.8, 0.05, 1.2, 0.4, 0.0, 1.0, 0.3)


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


class SlowToolModel(BaseChatModel):
    """Answers every call with a ``get_weather`` call after a compute time from a cycle."""

    delays: Any = None

    @property
    def _llm_type(self) -> str:
        return "slow-tool-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return self.bind(tools=tools, **kwargs)

    def _answer(self) -> AIMessage:
        return AIMessage(
            "",
            tool_calls=[{"name": "get_weather", "args": {"city": "Lisbon"}, "id": "call_1"}],
            usage_metadata={"input_tokens": 40, "output_tokens": 12, "total_tokens": 52},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        time.sleep(next(self.delays))
        return ChatResult(generations=[ChatGeneration(message=self._answer())])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.sleep(next(self.delays))
        return ChatResult(generations=[ChatGeneration(message=self._answer())])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        await asyncio.sleep(next(self.delays))  # the compute time before the first chunk
        args = '{"city": "Lisbon"}'
        for i, part in enumerate((args[:9], args[9:])):
            chunk = AIMessageChunk(
                "",
                tool_call_chunks=[
                    {"name": "get_weather" if i == 0 else None, "args": part,
                     "id": "call_1" if i == 0 else None, "index": 0}
                ],
            )  # fmt: skip
            yield ChatGenerationChunk(message=chunk)
            await asyncio.sleep(0.05)


@pytest.fixture()
def plain_cloud() -> Iterator[ChatOpenAI]:
    model = SlowToolModel(delays=itertools.cycle(COMPUTE_S))
    with LocalServer(model, model_name="slow", wan=WanProfile(rtt_ms=RTT_MS)) as server:
        yield ChatOpenAI(
            model="slow",
            base_url=server.base_url,
            api_key=SecretStr(LOCAL_API_KEY),
            max_retries=0,
            timeout=60,
        )


def _router(cloud: ChatOpenAI) -> tuple[NetGPTRouter, NetworkMonitor, InMemoryTraceSink]:
    monitor, sink = NetworkMonitor(), InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["never"]),
        cloud=cloud,
        policy=AlwaysCloud(),
        monitor=monitor,
        sinks=[sink],
    )
    return router, monitor, sink


def _report(estimates: list[float], samples: list[Any]) -> None:
    print("RTT estimates (ms):", [round(e, 1) for e in estimates])
    print("RTT samples (ms):", [round(s.rtt_ms, 1) for s in samples if s and s.rtt_ms])
    print("max error of the estimate:", round(max(abs(e - RTT_MS) for e in estimates) / RTT_MS, 3))


def _within(values: list[float], share: float = 0.2) -> bool:
    return all(abs(v - RTT_MS) <= share * RTT_MS for v in values)


def test_invoke_with_tools_measures_the_link_whatever_the_compute_time(
    plain_cloud: ChatOpenAI,
) -> None:
    router, monitor, sink = _router(plain_cloud)
    agent = router.bind_tools([get_weather])
    estimates = []
    for i in range(20):
        reply = agent.invoke(f"What's the weather in Lisbon? ({i})")
        assert reply.tool_calls and "headers" not in reply.response_metadata
        estimates.append(monitor.state().rtt_ms)
    samples = [t.network_sample for t in sink.traces]
    _report(estimates, samples)
    assert all(s is not None and s.source is NetworkSampleSource.SERVER_TIMING for s in samples)
    assert _within(estimates), estimates


def test_streaming_with_tools_measures_the_link_from_the_first_chunk(
    plain_cloud: ChatOpenAI,
) -> None:
    router, monitor, sink = _router(plain_cloud)
    agent = router.bind_tools([get_weather])
    estimates = []
    for i in range(20):
        chunks = list(agent.stream(f"What's the weather in Lisbon? ({i})"))
        assert all("headers" not in c.response_metadata for c in chunks)
        estimates.append(monitor.state().rtt_ms)
    samples = [t.network_sample for t in sink.traces]
    _report(estimates, samples)
    assert all(
        s is not None and s.source is NetworkSampleSource.FIRST_CHUNK_TIMING for s in samples
    ), samples
    assert _within(estimates), estimates


@pytest.mark.slow
def test_the_bundled_model_behind_netgpt_serve_is_measured_as_the_link() -> None:
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    model = HuggingFaceEdgeModel.from_bundled(device="cpu")
    with LocalServer(model, model_name="bundled", wan=WanProfile(rtt_ms=RTT_MS)) as server:
        cloud = ChatOpenAI(
            model="bundled",
            base_url=server.base_url,
            api_key=SecretStr(LOCAL_API_KEY),
            max_retries=0,
            timeout=300,
            max_tokens=12,
        )
        router, monitor, sink = _router(cloud)
        estimates = []
        for i in range(4):
            router.invoke(f"Say hello to user number {i}.")
            estimates.append(monitor.state().rtt_ms)
            list(router.stream(f"Say goodbye to user number {i}."))
            estimates.append(monitor.state().rtt_ms)
    samples = [t.network_sample for t in sink.traces]
    _report(estimates, samples)
    print("server compute (s):", [round(s.server_s or 0, 2) for s in samples if s])
    assert all(s is not None and s.fed for s in samples)
    assert _within(estimates), estimates
