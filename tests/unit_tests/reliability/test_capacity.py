"""Per-side capacity: a stalled side cannot starve the other; queueing is not a try timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr, ValidationError

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.errors import CapacityError
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.capacity import SideSlots, TryCapacity
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.testing.faults import FaultMode, FaultProxy, FaultyStreamModel, StreamFault
from langchain_netgpt.tracing import InMemoryTraceSink, RouteTrace

DEADLINE_S = 1.0
# The bar is step_deadline_s + 100 ms (benchmarks/step_concurrency.py measures the overshoot);
# the tests allow more, as they share 2 cores with whatever else runs, and still catch a step
# that waits for a stalled side (seconds to minutes).
SLACK_S = 0.5


@pytest.fixture
def stalled_proxy() -> Iterator[FaultProxy]:
    """A loopback OpenAI endpoint that reads every request and never answers."""
    with FaultProxy("127.0.0.1", 9, mode=FaultMode.STALL) as proxy:
        yield proxy


def _stalled_openai(proxy: FaultProxy) -> ChatOpenAI:
    # The client's own timeout is long (as by default): only the router can give up early.
    return ChatOpenAI(
        model="stalled", base_url=proxy.base_url, api_key=SecretStr("x"), max_retries=0, timeout=60
    )


def _router(cloud: object, sink: InMemoryTraceSink, **options: object) -> NetGPTRouter:
    return NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge answer"]),
        cloud=cloud,
        policy=AlwaysCloud(),
        sinks=[sink],
        **{"step_timeout_s": 0.3, "step_deadline_s": DEADLINE_S, **options},
    )


# 100 steps at once on 2 shared cores: each step's own CPU time (LangChain's callbacks, the
# routing) is counted by the wall clock of the tries that run beside it, so a healthy-cloud run
# gets the timeouts a user would set for a 0.1 s cloud under load, not 0.3 s.
_LOADED = {"step_timeout_s": 1.0, "step_deadline_s": 2.0}


def _timeouts(traces: list[RouteTrace]) -> int:
    return sum(a.error_type == "StepTimeoutError" for t in traces for a in t.attempts)


# -- the configuration ---------------------------------------------------------------------------
def test_capacity_is_bounded_per_side_and_validated() -> None:
    capacity = TryCapacity(max_in_flight=4, per_target={"cloud": 2})
    assert capacity.limit("cloud") == 2 and capacity.limit("edge") == 4
    with pytest.raises(ValidationError, match="max_in_flight"):
        TryCapacity(max_in_flight=0)
    with pytest.raises(ValidationError, match="queue_timeout_s"):
        TryCapacity(queue_timeout_s=-1)


def test_a_slot_freed_goes_to_the_first_waiter() -> None:
    slots = SideSlots("cloud", 1)
    first = slots.acquire(0)
    with pytest.raises(CapacityError, match="may not wait"):
        slots.acquire(0)
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire(5)))
    waiter.start()
    time.sleep(0.05)
    first.release()
    waiter.join(5)
    assert got and got[0] is not None and slots.busy == 1


def test_a_side_whose_slots_are_all_abandoned_is_not_waited_for() -> None:
    slots = SideSlots("cloud", 1)
    held = slots.acquire(0)
    held.abandon()
    t0 = time.perf_counter()
    with pytest.raises(CapacityError, match="stalled"):
        slots.acquire(5)
    assert time.perf_counter() - t0 < 0.05
    held.release()
    assert slots.acquire(0) is not None


def test_a_try_that_times_out_lets_the_waiters_go_at_once() -> None:
    slots = SideSlots("cloud", 2)
    slots.acquire(0)
    held = slots.acquire(0)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            slots.acquire(5)
        except CapacityError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    t0 = time.perf_counter()
    waiter.start()
    time.sleep(0.05)
    held.abandon()
    waiter.join(5)
    assert time.perf_counter() - t0 < 1 and "timed out while this one waited" in str(errors[0])


# -- a stalled cloud (real ChatOpenAI against a loopback server that never answers) ---------------
def test_a_stalled_cloud_never_makes_the_edge_fail(stalled_proxy: FaultProxy) -> None:
    sink = InMemoryTraceSink()
    router = _router(
        _stalled_openai(stalled_proxy), sink, try_capacity=TryCapacity(max_in_flight=3)
    )
    worst = 0.0
    for i in range(12):
        t0 = time.perf_counter()
        reply = router.invoke(f"step {i}")
        worst = max(worst, time.perf_counter() - t0)
        assert reply.content == "edge answer"
    assert worst < DEADLINE_S + SLACK_S
    codes = [t.fallback_code for t in sink.traces]
    assert len(codes) == 12 and codes[:3] == ["timeout"] * 3
    assert set(codes[3:]) == {"capacity"}  # the cloud's 3 slots are held by abandoned tries
    assert router.engine.deadlines.capacity.snapshot()["cloud"]["abandoned"] == 3


def test_a_stalled_cloud_never_makes_the_edge_fail_for_100_threads(
    stalled_proxy: FaultProxy,
) -> None:
    sink = InMemoryTraceSink()
    router = _router(_stalled_openai(stalled_proxy), sink, **_LOADED)
    answers: list[tuple[str, float]] = []

    def step(i: int) -> None:
        t0 = time.perf_counter()
        reply = router.invoke(f"step {i}")
        answers.append((str(reply.content), time.perf_counter() - t0))

    threads = [threading.Thread(target=step, args=(i,)) for i in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a for a, _ in answers] == ["edge answer"] * 100
    assert max(s for _, s in answers) < 2.0 + SLACK_S
    assert len(sink.traces) == 100 and all(t.final_target == "edge" for t in sink.traces)


async def test_a_stalled_cloud_never_makes_the_edge_fail_for_100_tasks(
    stalled_proxy: FaultProxy,
) -> None:
    sink = InMemoryTraceSink()
    router = _router(_stalled_openai(stalled_proxy), sink, **_LOADED)

    async def step(i: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        reply = await router.ainvoke(f"step {i}")
        return str(reply.content), time.perf_counter() - t0

    results = await asyncio.gather(*(step(i) for i in range(100)))
    assert [a for a, _ in results] == ["edge answer"] * 100
    assert max(s for _, s in results) < 2.0 + SLACK_S
    assert len(sink.traces) == 100


# -- both sides healthy: no false timeouts -------------------------------------------------------
def test_100_threads_with_a_healthy_cloud_record_no_false_timeout() -> None:
    sink = InMemoryTraceSink()
    router = _router(ScriptedChatModel(responses=["cloud answer"], delay_s=0.1), sink, **_LOADED)
    errors: list[BaseException] = []

    def step(i: int) -> None:
        try:
            router.invoke(f"step {i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=step, args=(i,)) for i in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(sink.traces) == 100 and _timeouts(sink.traces) == 0
    queued = [a.queue_s for t in sink.traces for a in t.attempts if a.queue_s]
    assert queued, "100 steps on 32 cloud slots must have queued"
    assert all(a.target == "cloud" for t in sink.traces for a in t.attempts)


async def test_100_tasks_with_a_healthy_cloud_record_no_false_timeout() -> None:
    sink = InMemoryTraceSink()
    router = _router(ScriptedChatModel(responses=["cloud answer"], delay_s=0.1), sink, **_LOADED)
    replies = await asyncio.gather(*(router.ainvoke(f"step {i}") for i in range(100)))
    assert all(isinstance(r, AIMessage) for r in replies)
    assert len(sink.traces) == 100 and _timeouts(sink.traces) == 0


# -- pool exhaustion -----------------------------------------------------------------------------
def test_an_exhausted_side_sends_the_step_to_the_other_side_with_a_clear_reason() -> None:
    sink = InMemoryTraceSink()
    cloud = FaultyStreamModel(fault=StreamFault.SILENT, hold_s=10)
    router = _router(cloud, sink, try_capacity=TryCapacity(max_in_flight=2, queue_timeout_s=0.05))
    try:
        replies = [router.invoke(f"step {i}") for i in range(5)]
    finally:
        cloud.release()
    assert [r.content for r in replies] == ["edge answer"] * 5
    assert cloud.peak_in_flight == 2 and cloud.calls == 2
    last = sink.traces[-1]
    assert last.fallback_code == "capacity"
    assert last.attempts[0].error_type == "CapacityError"
    assert "cloud at capacity" in (last.fallback_reason or "")


def test_a_capacity_refusal_does_not_count_against_the_circuit() -> None:
    from langchain_netgpt.routing.reliability import CircuitBreakerConfig, CircuitState

    sink = InMemoryTraceSink()
    cloud = FaultyStreamModel(fault=StreamFault.SILENT, hold_s=10)
    router = _router(
        cloud,
        sink,
        try_capacity=TryCapacity(max_in_flight=1, queue_timeout_s=0),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=3, open_s=60),
    )
    try:
        router.invoke("fills the slot")  # a timeout: one failure
        for i in range(5):
            router.invoke(f"refused {i}")  # capacity: no failure
    finally:
        cloud.release()
    assert router.engine.circuit_state("cloud") is CircuitState.CLOSED


async def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    slots = SideSlots("cloud", 1)
    held = slots.acquire(0)
    waiting = asyncio.ensure_future(slots.aacquire(5))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    held.release()
    assert slots.busy == 0 and slots.acquire(0) is not None


def test_a_try_abandoned_without_a_timeout_keeps_the_waiters_waiting() -> None:
    slots = SideSlots("cloud", 2)
    slots.acquire(0)
    held = slots.acquire(0)
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire(5)))
    waiter.start()
    time.sleep(0.05)
    held.abandon(shed=False)  # Ctrl-C or a closed stream: not a sign the side is slow
    time.sleep(0.05)
    assert not got
    held.release()
    waiter.join(5)
    assert got and slots.busy == 2
