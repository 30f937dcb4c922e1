"""One engine under every front door: one option set, named targets everywhere, typed reasons."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph

from langchain_netgpt import (
    NetGPTRouter,
    NetGPTRoutingMiddleware,
    NetworkState,
    RoutingError,
)
from langchain_netgpt.graph import NetGPTState, create_netgpt_agent, netgpt_router_node
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.routing.config import ROUTING_OPTIONS, RoutingConfig
from langchain_netgpt.routing.engine import RoutingEngine
from langchain_netgpt.routing.gates import GateRefusal
from langchain_netgpt.routing.qos import QoSPolicy
from langchain_netgpt.routing.reasons import FallbackReason
from langchain_netgpt.routing.reliability import CircuitBreakerConfig
from langchain_netgpt.routing.step import RoutedStep
from langchain_netgpt.routing.step_trace import ROUTE_INFO_KEYS
from langchain_netgpt.routing.targets import TargetSpec
from langchain_netgpt.testing import (
    ConstantScorer,
    FixedNetworkMonitor,
    ScriptedChatModel,
    tool_call,
)
from langchain_netgpt.tracing import InMemoryTraceSink

GOOD = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def _sides(edge: list[Any] | None = None, cloud: list[Any] | None = None) -> dict[str, Any]:
    return {
        "edge": ScriptedChatModel(responses=edge or ["edge says hi"]),
        "cloud": ScriptedChatModel(responses=cloud or ["cloud says hi"]),
        "monitor": FixedNetworkMonitor(GOOD),
    }


def _ask(text: str = "hi") -> dict[str, Any]:
    return {"messages": [("user", text)]}


# -- one option set ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build",
    [
        lambda kw: NetGPTRouter(**kw),
        lambda kw: NetGPTRoutingMiddleware(**kw),
        lambda kw: create_netgpt_agent(tools=[], **kw),
    ],
    ids=["router", "middleware", "agent"],
)
def test_every_front_door_refuses_a_misspelled_option_and_names_the_valid_ones(build: Any) -> None:
    with pytest.raises(TypeError, match=r"'step_timout_s' \(did you mean 'step_timeout_s'\?\)"):
        build({**_sides(), "step_timout_s": 3})
    with pytest.raises(TypeError, match="valid options: edge, cloud, policy"):
        build({**_sides(), "colud": 3})


def test_every_front_door_accepts_one_routing_config() -> None:
    sink = InMemoryTraceSink()
    config = RoutingConfig(**_sides(), policy=AlwaysCloud(), sinks=[sink])
    router = NetGPTRouter(config=config)
    assert router.config is config and router.policy is config.policy
    assert router.invoke("hi").response_metadata["netgpt"]["target"] == "cloud"
    middleware = NetGPTRoutingMiddleware(config=config)
    agent = create_agent(config.cloud, [], middleware=[middleware])
    assert agent.invoke(_ask())["messages"][-1].response_metadata["netgpt"]["target"] == "cloud"
    graph = create_netgpt_agent(config=config)
    assert graph.invoke(_ask())["netgpt_route"]["target"] == "cloud"
    assert [t.decided_target for t in sink.traces] == ["cloud"] * 3


def test_a_config_and_keywords_together_are_refused() -> None:
    config = RoutingConfig(**_sides())
    with pytest.raises(TypeError, match="not both"):
        NetGPTRouter(config=config, fallback=False)
    with pytest.raises(TypeError, match="not both"):
        NetGPTRoutingMiddleware(config=config, fallback=False)
    with pytest.raises(TypeError, match="not both"):
        create_netgpt_agent(config=config, fallback=False)


def test_the_routing_options_are_the_fields_of_the_config_and_attributes_of_the_router() -> None:
    router = NetGPTRouter(**_sides())
    for name in ROUTING_OPTIONS:
        assert getattr(router, name) is getattr(router.config, name)
    router.fallback = False
    assert router.engine.config.fallback is False


def test_langchains_standard_parameters_are_accepted_and_ignored() -> None:
    router = NetGPTRouter(**_sides(), temperature=0, max_tokens=100, timeout=60, max_retries=2)
    assert router.invoke("hi").response_metadata["netgpt"]["target"] in ("edge", "cloud")


# -- named targets through every front door ------------------------------------------------------
def _targets() -> dict[str, TargetSpec]:
    return {
        "small": TargetSpec(model=ScriptedChatModel(responses=["small"]), kind="edge", quality=0.2),
        "big": TargetSpec(model=ScriptedChatModel(responses=["big"]), kind="edge", quality=0.99),
        "cloud": TargetSpec(model=ScriptedChatModel(responses=["cloud"]), kind="cloud"),
    }


def test_the_middleware_serves_a_named_target_with_that_targets_model() -> None:
    targets = _targets()
    routing = NetGPTRoutingMiddleware(targets=targets, monitor=FixedNetworkMonitor(GOOD))
    agent = create_agent(ScriptedChatModel(responses=["declared"]), [], middleware=[routing])
    reply = agent.invoke(_ask())["messages"][-1]
    route = reply.response_metadata["netgpt"]
    assert route["target"] == route["decided_target"] == "big"
    assert reply.text == "big"  # not the first edge's, nor the cloud's


def test_from_router_keeps_the_routers_named_targets() -> None:
    router = NetGPTRouter(targets=_targets(), policy=QoSPolicy(), monitor=FixedNetworkMonitor(GOOD))
    routing = NetGPTRoutingMiddleware.from_router(router)
    agent = create_agent(ScriptedChatModel(responses=["declared"]), [], middleware=[routing])
    assert agent.invoke(_ask())["messages"][-1].text == "big"
    assert routing.engine is router.engine


def test_the_graph_node_routes_with_an_engine_or_a_config() -> None:
    engine = RoutingEngine(RoutingConfig(**_sides(), policy=AlwaysEdge()))
    for router in (engine, engine.config):
        builder = StateGraph(NetGPTState)
        builder.add_node("model", netgpt_router_node(router))
        builder.add_edge(START, "model")
        builder.add_edge("model", END)
        assert builder.compile().invoke(_ask())["netgpt_route"]["target"] == "edge"
    with pytest.raises(TypeError, match="needs a NetGPTRouter, a RoutingEngine or a RoutingConfig"):
        netgpt_router_node(object())  # type: ignore[arg-type]


# -- the trace: typed reasons, decision time -----------------------------------------------------
def _router_and_sink(**options: Any) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    sides = _sides(options.pop("edge", None), options.pop("cloud", None))
    router = NetGPTRouter(**sides, scorer=ConstantScorer(0.99), sinks=[sink], **options)
    return router, sink


def test_a_failed_edge_is_traced_with_a_code_beside_the_readable_reason() -> None:
    router, sink = _router_and_sink(edge=[RuntimeError("GPU fell over")])
    router.invoke("hi")
    trace = sink.traces[0]
    assert trace.fallback_code == FallbackReason.FAILED
    assert trace.fallback_reason == "edge failed: RuntimeError: GPU fell over"


def test_invalid_tool_calls_have_their_code() -> None:
    router, sink = _router_and_sink(
        edge=[tool_call("no_such_tool", {})], cloud=[tool_call("get_weather", {"city": "Oslo"})]
    )
    router.bind_tools([get_weather]).invoke("weather in Oslo?")
    assert sink.traces[0].fallback_code == "invalid_tool_calls"
    assert sink.traces[0].fallback_reason.startswith(  # type: ignore[union-attr]
        "edge answered with invalid tool calls: call of unknown tool 'no_such_tool'"
    )


def test_a_side_swapped_on_the_router_answers_the_next_call_and_an_open_circuit_has_its_code() -> (
    None
):
    router, sink = _router_and_sink(circuit_breaker=CircuitBreakerConfig(failure_threshold=1))
    router.invoke("hi")
    router.edge = ScriptedChatModel(responses=[RuntimeError("down")])
    router.invoke("hi")
    router.invoke("hi again")
    assert [t.fallback_code for t in sink.traces] == [None, "failed", "circuit_open"]
    assert sink.traces[-1].fallback_reason == "circuit_open: edge circuit is open"


def test_a_timeout_is_its_own_code() -> None:
    slow = ScriptedChatModel(responses=["late"], delay_s=0.5)
    router, sink = _router_and_sink(step_timeout_s=0.05)
    router.edge = slow
    router.invoke("hi")
    assert sink.traces[0].fallback_code == "timeout"
    assert sink.traces[0].fallback_reason.startswith("edge failed: StepTimeoutError")  # type: ignore[union-attr]


def test_the_trace_is_stamped_at_decision_time_and_times_the_decision() -> None:
    router, sink = _router_and_sink(edge=[lambda messages: time.sleep(0.05) or "slow edge"])
    before = time.time()
    router.invoke("hi")
    trace = sink.traces[0]
    assert trace.decision_s is not None and 0 <= trace.decision_s < 0.05
    assert before <= trace.created_at <= before + 0.04  # decided before the 50 ms call
    assert trace.latency_s >= 0.05


def test_the_reply_metadata_is_read_from_the_trace() -> None:
    router, sink = _router_and_sink(edge=[RuntimeError("boom")])
    info = router.invoke("hi").response_metadata["netgpt"]
    trace = sink.traces[0]
    assert tuple(info) == ROUTE_INFO_KEYS
    assert info["trace_id"] == trace.trace_id
    assert info["fallback_reason"] == trace.fallback_reason
    assert info["latency_ms"] == round(trace.latency_s * 1000, 3)


# -- the wiring of shared breakers and engine gates ----------------------------------------------
def test_a_shared_circuit_opened_by_one_router_sends_the_next_routers_step_to_the_cloud() -> None:
    shared = CircuitBreakerConfig(
        failure_threshold=1, open_s=60, shared_state="memory", name=uuid.uuid4().hex
    )
    first, _ = _router_and_sink(edge=[RuntimeError("down")], circuit_breaker=shared)
    second, sink = _router_and_sink(circuit_breaker=shared)
    first.invoke("hi")
    assert second.circuit_state("edge") == "open"
    assert second.invoke("hi").response_metadata["netgpt"]["target"] == "cloud"
    assert sink.traces[0].fallback_code == "circuit_open"


def test_an_engine_gate_refuses_a_side_before_it_is_called() -> None:
    class NoEdge:
        def refusal(self, step: RoutedStep, target: str) -> GateRefusal | None:
            if target == "edge":
                return GateRefusal(FallbackReason.FAILED, RoutingError("the edge is busy"))
            return None

    sink = InMemoryTraceSink()
    config = RoutingConfig(**_sides(), policy=AlwaysEdge(), sinks=[sink])
    engine = RoutingEngine(config, gates=[NoEdge()])
    router = NetGPTRouter.from_engine(engine)
    assert router.invoke("hi").text == "cloud says hi"
    assert config.edge.calls == []  # type: ignore[attr-defined]
    assert sink.traces[0].fallback_reason == "edge failed: RoutingError: the edge is busy"


def test_a_step_planned_by_the_engine_runs_without_a_front_door() -> None:
    engine = RoutingEngine(RoutingConfig(**_sides(), policy=AlwaysCloud()))
    step = engine.plan([HumanMessage("hi")], engine.binding(), mode="invoke")
    answer = step.run(lambda target: engine.config.model_for(target).invoke("hi"))
    assert answer.response_metadata["netgpt"]["target"] == "cloud"
    with pytest.raises(ValueError, match="unknown target 'gpu'"):
        engine.config.model_for("gpu")
