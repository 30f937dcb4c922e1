"""The router against a real loopback server behind a fault-injecting proxy (no model weights).

The fast cases run in the default test run; the load test is slow-marked (``make test-slow``).
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.testing.faults import FaultMode, FaultProxy
from langchain_netgpt.tracing import InMemoryTraceSink, RouteTrace

pytestmark = pytest.mark.integration

DEADLINE_S = 1.0
MARGIN_S = 0.35


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ScriptedChatModel(responses=["cloud"]), model_name="scripted") as running:
        yield running


@pytest.fixture
def proxy(server: LocalServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", server.port, retry_after_s=0.05, drip_bytes_per_s=50) as running:
        yield running


def routed(proxy: FaultProxy, sink: InMemoryTraceSink, **options: Any) -> NetGPTRouter:
    cloud = ChatOpenAI(
        model="scripted",
        base_url=proxy.base_url,
        api_key=SecretStr("local"),
        max_retries=0,
        timeout=5,
    )
    options.setdefault("step_deadline_s", DEADLINE_S)
    return NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=cloud,
        policy=AlwaysCloud(),
        sinks=[sink],
        **options,
    )


async def test_a_healthy_path_answers_from_the_cloud(proxy: FaultProxy) -> None:
    sink = InMemoryTraceSink()
    answer = await routed(proxy, sink).ainvoke("hi")
    assert (answer.content, sink.traces[0].fallback) == ("cloud", False)


@pytest.mark.parametrize(
    "mode",
    [
        FaultMode.REFUSE,
        FaultMode.RESET,
        FaultMode.STALL,
        FaultMode.SLOW_DRIP,
        FaultMode.HTTP_500,
        FaultMode.HTTP_503,
        FaultMode.HTTP_429,
        FaultMode.MALFORMED_JSON,
        FaultMode.TRUNCATED,
    ],
)
async def test_every_cloud_fault_ends_in_an_edge_answer_within_the_deadline(
    proxy: FaultProxy, mode: FaultMode
) -> None:
    proxy.set_mode(mode)
    sink = InMemoryTraceSink()
    router = routed(proxy, sink, step_timeout_s=0.5)
    t0 = time.perf_counter()
    answer = await router.ainvoke("hi")
    elapsed = time.perf_counter() - t0
    trace = sink.traces[0]
    assert answer.content == "edge"
    assert elapsed < DEADLINE_S + MARGIN_S
    assert (trace.fallback, trace.attempts[0].target, trace.attempts[0].ok) == (
        True,
        "cloud",
        False,
    )
    assert trace.attempts[0].error_type


def test_a_stalled_cloud_ends_a_sync_step_within_the_deadline(proxy: FaultProxy) -> None:
    proxy.set_mode(FaultMode.STALL)
    sink = InMemoryTraceSink()
    t0 = time.perf_counter()
    answer = routed(proxy, sink, step_timeout_s=0.5).invoke("hi")
    assert answer.content == "edge"
    assert time.perf_counter() - t0 < DEADLINE_S + MARGIN_S
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"


async def test_a_rate_limited_cloud_is_retried_after_retry_after_then_left(
    proxy: FaultProxy,
) -> None:
    proxy.set_mode(FaultMode.HTTP_429)
    sink = InMemoryTraceSink()
    router = routed(proxy, sink, retry=RetryPolicy(attempts=3, base_backoff_s=0.01))
    answer = await router.ainvoke("hi")
    assert answer.content == "edge"
    assert proxy.connections[FaultMode.HTTP_429] == 3
    assert [a.target for a in sink.traces[0].attempts] == ["cloud", "cloud", "cloud", "edge"]


async def test_a_dead_cloud_costs_one_timeout_with_a_circuit_breaker(proxy: FaultProxy) -> None:
    proxy.set_mode(FaultMode.STALL)
    sink = InMemoryTraceSink()
    router = routed(
        proxy,
        sink,
        step_timeout_s=0.3,
        circuit_breaker=CircuitBreakerConfig(failure_threshold=1, open_s=60),
    )
    t0 = time.perf_counter()
    answers = [(await router.ainvoke(f"step {i}")).content for i in range(8)]
    assert answers == ["edge"] * 8
    assert proxy.connections[FaultMode.STALL] == 1
    assert time.perf_counter() - t0 < 0.3 + 1.0
    assert router.circuit_state("cloud") == "open"
    assert all(t.fallback_reason.startswith("circuit_open") for t in sink.traces[1:])  # type: ignore[union-attr]


async def test_the_cloud_is_used_again_once_it_recovers(proxy: FaultProxy) -> None:
    proxy.set_mode(FaultMode.REFUSE)
    sink = InMemoryTraceSink()
    router = routed(
        proxy, sink, circuit_breaker=CircuitBreakerConfig(failure_threshold=1, open_s=0.2)
    )
    assert (await router.ainvoke("first")).content == "edge"
    proxy.set_mode(FaultMode.PASS)
    await asyncio.sleep(0.25)
    assert (await router.ainvoke("probe")).content == "cloud"
    assert router.circuit_state("cloud") == "closed"


async def run_agents(router: NetGPTRouter, runs: int, steps: int) -> None:
    async def one(i: int) -> None:
        for step in range(steps):
            await router.ainvoke(f"run {i} step {step}")

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(runs))), timeout=120)


class CountingSink:
    """Counts traces without keeping them (so memory growth is the router's own)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, trace: RouteTrace) -> None:
        self.count += 1


@pytest.mark.slow
async def test_200_concurrent_runs_lose_no_trace_and_hold_memory_steady(
    server: LocalServer,
) -> None:
    sink = CountingSink()
    cloud = ChatOpenAI(
        model="scripted", base_url=server.base_url, api_key=SecretStr("local"), max_retries=0
    )
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=cloud,
        policy=AlwaysCloud(),
        sinks=[sink],
        step_deadline_s=60,
    )
    await run_agents(router, 200, 2)  # warm-up round: pools, caches, lazy imports
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    await run_agents(router, 200, 2)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert sink.count == 800
    assert router.sink_errors == 0
    assert after - before < 8 * 1024 * 1024
