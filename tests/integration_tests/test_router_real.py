"""NetGPTRouter over real parts: the bundled edge model in-process, and ChatOpenAI over real HTTP
to `netgpt serve` (the same model) behind an emulated WAN that replays a degrading trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter, NetworkMonitor
from langchain_netgpt.cloud import LOCAL_API_KEY, LocalServer, WanEmulator, WanProfile
from langchain_netgpt.demo.agent_tools import DEMO_TOOLS
from langchain_netgpt.demo.run import demo_policy
from langchain_netgpt.demo.scenario import ScenarioClock, write_scripted_degradation
from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.edge.backend import llama_cpp_importable
from langchain_netgpt.tracing import InMemoryTraceSink

pytestmark = pytest.mark.integration

GOOD_S = 10.0  # scripted phase "LTE, good signal"
OUTAGE_S = 42.5  # scripted phase "edge of coverage", inside an outage


@pytest.fixture(scope="module")
def edge() -> HuggingFaceEdgeModel:
    model = HuggingFaceEdgeModel.from_bundled(device="cpu", max_new_tokens=48)
    model.load()
    return model


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_scripted_degradation(tmp_path_factory.mktemp("link"))


@pytest.fixture()
def routed(
    edge: HuggingFaceEdgeModel, link: tuple[Path, Path]
) -> Iterator[tuple[NetGPTRouter, ScenarioClock, InMemoryTraceSink]]:
    clock = ScenarioClock(speed=0.05)
    profile = WanProfile(rtt_ms=40, trace_down=link[0], trace_up=link[1])
    with LocalServer(edge, model_name="stand-in", wan=WanEmulator(profile, clock=clock)) as server:
        cloud = ChatOpenAI(
            model="stand-in",
            base_url=server.base_url,
            api_key=SecretStr(LOCAL_API_KEY),
            max_retries=0,
            timeout=120,
            include_response_headers=True,
            stream_usage=True,
        )
        sink = InMemoryTraceSink()
        router = NetGPTRouter(
            edge=edge,
            cloud=cloud,
            policy=demo_policy(),
            monitor=NetworkMonitor.from_trace(link[0], link[1], base_rtt_ms=40, clock=clock),
            sinks=[sink],
        )
        yield router, clock, sink


def test_the_router_moves_a_step_to_the_edge_when_the_emulated_link_degrades(
    routed: tuple[NetGPTRouter, ScenarioClock, InMemoryTraceSink],
) -> None:
    router, clock, sink = routed
    bound = router.bind_tools(DEMO_TOOLS, tool_choice="any")
    clock.jump_to(GOOD_S)
    on_good = bound.invoke("Convert 10 miles to kilometers.")
    clock.jump_to(OUTAGE_S)
    on_outage = bound.invoke("Convert 10 miles to kilometers.")
    assert on_good.response_metadata["netgpt"]["target"] == "cloud"
    assert on_outage.response_metadata["netgpt"]["target"] == "edge"
    good, outage = sink.traces
    assert outage.threshold < good.threshold
    assert outage.network.rtt_ms > 5 * good.network.rtt_ms
    assert good.tool_calls_valid and outage.tool_calls_valid  # real tool calls, schema-valid
    served = outage.attempts[-1].output
    assert served is not None
    # The trace names the runtime: llama.cpp where it is built, else the transformers fallback.
    expected = "llama_cpp" if llama_cpp_importable() else "transformers"
    assert served.response_metadata["edge_backend"] == expected


def test_cloud_calls_over_real_http_carry_server_timing_and_feed_the_trace(
    routed: tuple[NetGPTRouter, ScenarioClock, InMemoryTraceSink],
) -> None:
    router, clock, sink = routed
    clock.jump_to(GOOD_S)
    router.policy = router.policy.model_copy(
        update={"value_correct_usd": 1.0, "cloud_quality": 1.0}
    )  # cloud wins
    reply = router.invoke("Say hello.")
    assert reply.response_metadata["netgpt"]["target"] == "cloud"
    assert "x-netgpt-server-ms" in reply.response_metadata["headers"]
    trace = sink.traces[-1]
    assert trace.bytes_sent > 0 and trace.bytes_received > 0
    assert trace.attempts[0].latency_s > 0.04  # at least the emulated RTT


async def test_async_streaming_through_the_real_cloud_path(
    routed: tuple[NetGPTRouter, ScenarioClock, InMemoryTraceSink],
) -> None:
    router, clock, sink = routed
    clock.jump_to(GOOD_S)
    router.policy = router.policy.model_copy(
        update={"value_correct_usd": 1.0, "cloud_quality": 1.0}
    )
    chunks = [chunk async for chunk in router.astream("Count to three.")]
    assert len(chunks) > 1
    assert chunks[-1].response_metadata["netgpt"]["target"] == "cloud"
    assert "".join(str(c.content) for c in chunks).strip()
    assert sink.traces[-1].mode == "astream"
