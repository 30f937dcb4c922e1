"""Named targets through the router: specs, load tracking, fallback along the ranking, SLOs."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from langchain_netgpt import NetGPTPolicy, NetGPTRouter, NetworkState
from langchain_netgpt.routing.qos import LeastLoadedPolicy, QoSPolicy, RoundRobinPolicy
from langchain_netgpt.routing.targets import LoadTracker, TargetSpec
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

GOOD_LINK = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=40)


def _scripted(text: str, *, delay_s: float = 0.0) -> ScriptedChatModel:
    return ScriptedChatModel(responses=[text], cycle=True, delay_s=delay_s)


def _router(**kwargs: object) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    targets = kwargs.pop(
        "targets",
        {
            "small": TargetSpec(model=_scripted("small"), kind="edge", quality=0.95, slo_s=5.0),
            "big": TargetSpec(model=_scripted("big"), kind="edge", quality=0.6),
            "cloud": TargetSpec(model=_scripted("cloud"), kind="cloud"),
        },
    )
    router = NetGPTRouter(
        targets=targets, monitor=FixedNetworkMonitor(GOOD_LINK), sinks=[sink], **kwargs
    )
    return router, sink


def test_edge_target_serves_one_request_at_a_time_by_default() -> None:
    assert TargetSpec(kind="edge").concurrency == 1
    assert TargetSpec(kind="cloud").concurrency is None


def test_target_spec_rejects_a_negative_slo_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="slo_s"):
        TargetSpec(kind="edge", slo_s=-1.0)


def test_router_needs_an_edge_and_a_cloud_target() -> None:
    with pytest.raises(ValidationError, match="at least one edge and one cloud"):
        NetGPTRouter(targets={"a": TargetSpec(model=_scripted("a"), kind="edge")})


def test_router_refuses_targets_and_edge_together() -> None:
    with pytest.raises(ValidationError, match="not both"):
        NetGPTRouter(
            edge=_scripted("e"),
            targets={"c": TargetSpec(model=_scripted("c"), kind="cloud")},
        )


def test_router_refuses_a_two_target_policy_with_named_targets() -> None:
    with pytest.raises(ValidationError, match="ranks targets"):
        _router(policy=NetGPTPolicy())


def test_router_defaults_to_the_qos_policy_and_calls_the_chosen_target_by_name() -> None:
    router, sink = _router()
    reply = router.invoke("What is 2 + 2?")
    trace = sink.traces[0]
    assert trace.policy == "qos"
    assert reply.text == trace.decided_target == trace.final_target == "small"


def test_trace_records_every_targets_load_and_the_slo_outcome() -> None:
    router, sink = _router()
    router.invoke("hi")
    trace = sink.traces[0]
    assert trace.target_loads is not None and set(trace.target_loads) == {"small", "big", "cloud"}
    assert trace.target_loads["small"]["in_flight"] == 0
    assert trace.slo_violated is False


def test_a_slow_target_records_an_slo_violation() -> None:
    targets = {
        "slow": TargetSpec(model=_scripted("s", delay_s=0.05), kind="edge", quality=1, slo_s=0.01),
        "cloud": TargetSpec(model=_scripted("c"), kind="cloud", quality=0.0),
    }
    router, sink = _router(targets=targets)
    reply = router.invoke("hi")
    assert sink.traces[0].slo_violated is True
    assert reply.response_metadata["netgpt"]["slo_violated"] is True
    assert router.target_loads()["slow"].slo_violations == 1


def test_router_falls_back_along_the_policys_ranking() -> None:
    broken = ScriptedChatModel(responses=[RuntimeError("down")], cycle=True)
    targets = {
        "small": TargetSpec(model=broken, kind="edge", quality=0.9),
        "big": TargetSpec(model=_scripted("big"), kind="edge", quality=0.8),
        "cloud": TargetSpec(model=_scripted("cloud"), kind="cloud", quality=0.1),
    }
    router, sink = _router(targets=targets)
    reply = router.invoke("hi")
    trace = sink.traces[0]
    assert [a.target for a in trace.attempts] == ["small", "big"]
    assert reply.text == "big" and trace.fallback


def test_router_counts_measured_service_time_per_target() -> None:
    router, _ = _router(policy=RoundRobinPolicy())
    for _ in range(3):
        router.invoke("hi")
    loads = router.target_loads()
    assert all(load.completed == 1 and load.in_flight == 0 for load in loads.values())
    assert all(load.service_s is not None for load in loads.values())


async def test_concurrent_async_calls_spread_over_targets_by_load() -> None:
    targets = {
        "a": TargetSpec(model=_scripted("a", delay_s=0.05), kind="edge", quality=0.8),
        "b": TargetSpec(model=_scripted("b", delay_s=0.05), kind="edge", quality=0.8),
        "cloud": TargetSpec(model=_scripted("cloud", delay_s=0.05), kind="cloud"),
    }
    router, sink = _router(targets=targets, policy=LeastLoadedPolicy())
    replies = await asyncio.gather(*(router.ainvoke("hi") for _ in range(3)))
    assert sorted(r.text for r in replies) == ["a", "b", "cloud"]
    assert all(load.in_flight == 0 for load in router.target_loads().values())
    assert len(sink.traces) == 3


def test_qos_router_sends_requests_to_the_cloud_when_the_edge_queue_breaks_its_slo() -> None:
    targets = {
        "edge": TargetSpec(
            model=_scripted("edge", delay_s=0.3),
            kind="edge",
            quality=0.95,
            service_s=0.3,
            slo_s=0.5,
        ),
        "cloud": TargetSpec(model=_scripted("cloud"), kind="cloud"),
    }
    router, _ = _router(targets=targets, policy=QoSPolicy())
    assert router.invoke("hi").text == "edge"  # idle: the edge is good enough and free
    tracker = router.engine.target_routing().loads  # type: ignore[union-attr]
    for _ in range(3):
        tracker.start("edge")  # three requests already running or queued on the edge
    assert router.invoke("hi").text == "cloud"


def test_load_tracker_refuses_an_unknown_target() -> None:
    tracker = LoadTracker({"edge": TargetSpec(kind="edge")})
    with pytest.raises(ValueError, match="unknown target 'gpu'"):
        tracker.start("gpu")


def test_load_tracker_removes_interference_from_measured_service_time() -> None:
    tracker = LoadTracker({"edge": TargetSpec(kind="edge", concurrency=2, interference=0.5)})
    tracker.start("edge")
    second = tracker.start("edge")
    tracker.finish("edge", elapsed_s=3.0, concurrent=second)
    assert tracker.snapshot()["edge"].service_s == pytest.approx(2.0)


def test_load_tracker_counts_requests_beyond_concurrency_as_queued() -> None:
    tracker = LoadTracker({"edge": TargetSpec(kind="edge", concurrency=1)})
    for _ in range(3):
        tracker.start("edge")
    snap = tracker.snapshot()["edge"]
    assert (snap.in_flight, snap.queued) == (3, 2)


def test_streamed_calls_count_in_the_targets_load() -> None:
    router, sink = _router()
    text = "".join(chunk.text for chunk in router.stream("hi"))
    target = sink.traces[0].final_target
    assert text == target == "small"
    load = router.target_loads()["small"]
    assert (load.completed, load.in_flight) == (1, 0)


async def test_async_streamed_calls_count_in_the_targets_load() -> None:
    router, _ = _router()
    chunks = [chunk async for chunk in router.astream("hi")]
    assert "".join(c.text for c in chunks) == "small"
    assert router.target_loads()["small"].completed == 1
