"""Network samples from server timing, the learned edge service time, and the context window."""

from __future__ import annotations

import io
import struct

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI

from langchain_netgpt import NetGPTRouter, NetworkMonitor, NetworkState
from langchain_netgpt.cloud import WanProfile, local_cloud
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge, NetGPTPolicy
from langchain_netgpt.routing.context_window import (
    ContextWindow,
    _gguf_context_length,
    _tokenizer_count,
    model_context_tokens,
)
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.latency import CPU_EDGE, DEFAULT_EDGE, LatencyModel
from langchain_netgpt.routing.measure import server_timing, with_timing_headers
from langchain_netgpt.routing.network import NetworkSampleClock, NetworkSampleSource
from langchain_netgpt.testing import ConstantScorer, FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

from .cloud.fakes import ScriptedToolModel

LTE = NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=50)


def test_an_answer_without_server_timing_is_not_fed_as_a_round_trip() -> None:
    monitor, sink = NetworkMonitor(initial=LTE), InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=ScriptedChatModel(responses=["slow cloud"], delay_s=0.3),
        policy=AlwaysCloud(),
        monitor=monitor,
        sinks=[sink],
    )
    router.invoke("hi")
    assert monitor.observations == 0 and monitor.state().rtt_ms == 50
    sample = sink.traces[0].network_sample
    assert sample is not None and sample.source is NetworkSampleSource.UNSEPARATED
    assert not sample.fed


def test_a_reported_compute_time_leaves_only_the_network_in_the_round_trip() -> None:
    monitor, sink = NetworkMonitor(initial=LTE, alpha=1.0), InMemoryTraceSink()
    timed = AIMessage("c", response_metadata={"headers": {"x-netgpt-server-ms": "250"}})
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=ScriptedChatModel(responses=[timed], delay_s=0.35),
        policy=AlwaysCloud(),
        monitor=monitor,
        sinks=[sink],
    )
    router.invoke("hi")
    sample = sink.traces[0].network_sample
    assert sample is not None and sample.source is NetworkSampleSource.SERVER_TIMING
    assert sample.header == "x-netgpt-server-ms" and sample.rtt_ms is not None
    assert 80 <= monitor.state().rtt_ms <= 200  # 350 ms wall - 250 ms compute


@pytest.mark.parametrize(
    ("headers", "streamed", "expected"),
    [
        ({"openai-processing-ms": "120"}, False, ("openai-processing-ms", 0.12)),
        ({"X-Compute-Time": "40"}, False, ("x-compute-time", 0.04)),
        ({"server-timing": 'db;dur=5, app;dur="70.5"'}, False, ("server-timing", 0.0705)),
        ({"x-netgpt-server-first-chunk-ms": "9", "x-netgpt-server-ms": "1"}, True,
         ("x-netgpt-server-first-chunk-ms", 0.009)),
        ({"x-netgpt-server-first-chunk-ms": "9"}, False, None),
        ({"openai-processing-ms": "not a number"}, False, None),
    ],
)  # fmt: skip
def test_server_timing_reads_the_known_headers(
    headers: dict[str, str], streamed: bool, expected: tuple[str, float] | None
) -> None:
    assert server_timing(headers, streamed=streamed) == expected


def test_a_plain_chat_openai_is_called_with_headers_the_user_does_not_see() -> None:
    plain = ChatOpenAI(model="m", api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    timed = with_timing_headers(plain)
    assert timed.include_response_headers and not plain.include_response_headers  # type: ignore[attr-defined]
    asked = ChatOpenAI(model="m", api_key="sk-test", include_response_headers=True)
    assert with_timing_headers(asked) is asked
    router = NetGPTRouter(edge=ScriptedChatModel(responses=["e"]), cloud=plain)
    assert router.engine.headers_added("cloud") and not router.engine.headers_added("edge")


def test_the_policy_learns_the_edge_from_a_cpu_prior() -> None:
    sink = InMemoryTraceSink()
    edge = ScriptedChatModel(responses=["an edge answer"] * 8, delay_s=0.2)
    router = NetGPTRouter(
        edge=edge, cloud=ScriptedChatModel(responses=["c"]), policy=AlwaysEdge(), sinks=[sink]
    )
    for i in range(6):
        router.invoke(f"question {i}")
    expected = [t.expected_edge_s for t in sink.traces]
    measured = [t.attempts[0].latency_s for t in sink.traces]
    assert expected[-1] is not None
    assert abs(expected[-1] - measured[-1]) / measured[-1] < 0.3
    assert router.policy.latency_model.edge_service_time is None  # the user's policy is untouched


def test_a_configured_edge_profile_is_the_learners_prior() -> None:
    policy = AlwaysEdge(latency_model=LatencyModel(edge=CPU_EDGE))
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]), cloud=ScriptedChatModel(responses=["c"])
    )
    lent = router.engine.edge_speed.policy_for(policy, router.edge)
    assert lent.latency_model.edge_service_time.profile() == CPU_EDGE
    assert LatencyModel().edge == DEFAULT_EDGE


def _router_with_window(edge_tokens: int, *, cloud_tokens: int | None = None, **kw: object):
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"] * 4),
        cloud=ScriptedChatModel(responses=["c"] * 4),
        policy=NetGPTPolicy(),
        scorer=ConstantScorer(1.0),
        monitor=FixedNetworkMonitor(LTE),
        context_window=ContextWindow(edge_tokens=edge_tokens, cloud_tokens=cloud_tokens),
        sinks=[sink],
        **kw,
    )
    return router, sink


def test_a_prompt_too_long_for_the_edge_goes_to_the_cloud_with_the_reason() -> None:
    router, sink = _router_with_window(8192)
    answer = router.invoke("x" * 2_000_000)
    trace = sink.traces[0]
    assert answer.response_metadata["netgpt"]["target"] == "cloud"
    assert trace.overridden_by == "context_window" and "8192" in trace.reason
    assert [a.target for a in trace.attempts] == ["cloud"]


def test_a_prompt_that_fits_stays_where_the_policy_put_it() -> None:
    router, sink = _router_with_window(8192)
    router.invoke("short question")
    assert sink.traces[0].final_target == "edge" and sink.traces[0].overridden_by is None


def test_a_cloud_failure_does_not_fall_back_to_an_edge_too_small() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=ScriptedChatModel(responses=[RuntimeError("cloud down")]),
        policy=AlwaysCloud(),
        context_window=ContextWindow(edge_tokens=1000),
        sinks=[sink],
    )
    with pytest.raises(Exception, match="context_window"):
        router.invoke("y" * 40_000)
    trace = sink.traces[0]
    assert [a.target for a in trace.attempts] == ["cloud", "edge"]
    assert trace.attempts[1].error_type == "RoutingError"


def test_a_prompt_too_long_for_a_known_cloud_window_stays_on_the_edge() -> None:
    router, sink = _router_with_window(100_000, cloud_tokens=2_000)
    router.policy = AlwaysCloud()
    router.invoke("z" * 40_000)
    trace = sink.traces[0]
    assert trace.final_target == "edge" and trace.overridden_by == "context_window"


def test_the_edge_window_is_read_from_a_gguf_header() -> None:
    def kv_string(key: str, value: str) -> bytes:
        k, v = key.encode(), value.encode()
        return struct.pack("<Q", len(k)) + k + struct.pack("<IQ", 8, len(v)) + v

    def kv_u32(key: str, value: int) -> bytes:
        k = key.encode()
        return struct.pack("<Q", len(k)) + k + struct.pack("<II", 4, value)

    array = struct.pack("<Q", 5) + b"tok.s" + struct.pack("<IIQ", 9, 4, 3) + b"\x00" * 12
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 3)
    data = header + kv_string("general.architecture", "llama") + array
    data += kv_u32("llama.context_length", 8192)
    assert _gguf_context_length(io.BytesIO(data)) == 8192
    assert _gguf_context_length(io.BytesIO(b"NOPE")) is None


def _timed_cloud_router(cloud: ChatOpenAI, **kw: object) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=cloud,
        policy=AlwaysCloud(),
        monitor=NetworkMonitor(initial=LTE),
        sinks=[sink],
        **kw,
    )
    return router, sink


async def test_every_call_path_times_a_plain_chat_openai_at_the_connection() -> None:
    model = ScriptedToolModel(script=[AIMessage(f"answer {i}") for i in range(4)])
    with local_cloud(model, wan=WanProfile(rtt_ms=20)) as cloud:
        assert not cloud.include_response_headers
        # step_timeout_s: the sync call runs in the deadline pool, with the probe's context.
        router, sink = _timed_cloud_router(cloud, step_timeout_s=30)
        replies = [router.invoke("a"), await router.ainvoke("b")]
        chunks = [c async for c in router.astream("c")] + list(router.stream("d"))
    assert all("headers" not in r.response_metadata for r in replies + chunks)
    samples = [t.network_sample for t in sink.traces]
    assert all(s is not None and s.clock is NetworkSampleClock.CONNECTION for s in samples)
    assert [s.source for s in samples if s] == [
        NetworkSampleSource.SERVER_TIMING,
        NetworkSampleSource.SERVER_TIMING,
        NetworkSampleSource.FIRST_CHUNK_TIMING,
        NetworkSampleSource.FIRST_CHUNK_TIMING,
    ]
    assert all(s.rtt_ms is not None and s.rtt_ms >= 15 for s in samples if s)


def test_headers_the_user_asked_for_stay_on_the_reply() -> None:
    model = ScriptedToolModel(script=[AIMessage("hi")])
    with local_cloud(model, wan=WanProfile(rtt_ms=5), include_response_headers=True) as cloud:
        router, sink = _timed_cloud_router(cloud)
        reply = router.invoke("hi")
    assert "x-netgpt-server-ms" in reply.response_metadata["headers"]
    assert sink.traces[0].network_sample is not None and sink.traces[0].network_sample.fed


class _LlamaLikeRuntime:
    """A loaded llama.cpp runtime as the window check sees it: no tokenizer, count_tokens."""

    context_window_tokens = 2048

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class _LoadedEdge:
    """An in-process edge whose runtime is already in its model cache."""

    def __init__(self) -> None:
        self.model_cache = {"spec": _LlamaLikeRuntime()}

    def _spec(self) -> str:
        return "spec"


def test_a_loaded_llama_cpp_edge_counts_with_its_runtime_and_states_its_window() -> None:
    edge = _LoadedEdge()
    features = RequestFeatures.from_messages([HumanMessage("one two three")])

    count = _tokenizer_count(edge, [HumanMessage("one two three")], features)

    assert count is not None and count >= 3 + 4  # the runtime's 3 tokens, 4 for the message
    assert model_context_tokens(edge, read_files=False) == 2048
