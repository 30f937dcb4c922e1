from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ModelResponse, wrap_model_call
from langchain.agents.structured_output import ToolStrategy
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, interrupt
from pydantic import BaseModel

from langchain_netgpt import CloudBudget, NetGPTRouter, NetworkState, RoutingError
from langchain_netgpt.middleware import NetGPTRoutingMiddleware
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.testing import (
    ConstantScorer,
    FixedNetworkMonitor,
    ScriptedChatModel,
    tool_call,
)
from langchain_netgpt.tracing import InMemoryTraceSink

GOOD = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)
BAD = NetworkState(bandwidth_up_mbps=0.2, bandwidth_down_mbps=0.5, rtt_ms=1500)


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


class Forecast(BaseModel):
    """A forecast."""

    city: str
    sky: str


def make_agent(
    *,
    edge: list[Any] | None = None,
    cloud: list[Any] | None = None,
    network: NetworkState = GOOD,
    score: float = 0.5,
    tools: list[Any] | None = None,
    extra_middleware: list[Any] | None = None,
    agent_kwargs: dict[str, Any] | None = None,
    cycle: bool = True,
    **options: Any,
) -> tuple[Any, NetGPTRoutingMiddleware, InMemoryTraceSink, ScriptedChatModel]:
    sink = InMemoryTraceSink()
    declared = ScriptedChatModel(responses=[RuntimeError("the declared model was called")])
    routing = NetGPTRoutingMiddleware(
        edge=ScriptedChatModel(responses=edge or ["edge says hi"], cycle=cycle),
        cloud=ScriptedChatModel(responses=cloud or ["cloud says hi"], cycle=cycle),
        monitor=FixedNetworkMonitor(network),
        scorer=ConstantScorer(score),
        sinks=[sink],
        **options,
    )
    agent = create_agent(
        declared,
        tools or [],
        middleware=[*(extra_middleware or []), routing],
        **(agent_kwargs or {}),
    )
    return agent, routing, sink, declared


def last_route(state: dict[str, Any]) -> str:
    return str(state["messages"][-1].response_metadata["netgpt"]["target"])


def ask(text: str) -> Any:
    return {"messages": [("user", text)]}


def test_a_middling_step_goes_to_the_cloud_on_a_good_link_and_to_the_edge_on_a_bad_one() -> None:
    good, _, _, _ = make_agent(network=GOOD, score=0.6)
    bad, _, _, _ = make_agent(network=BAD, score=0.6)
    assert last_route(good.invoke(ask("hello"))) == "cloud"
    assert last_route(bad.invoke(ask("hello"))) == "edge"


def test_the_chosen_side_answers_instead_of_the_agents_declared_model() -> None:
    agent, routing, _, declared = make_agent(network=BAD, score=0.9)
    reply = agent.invoke(ask("hello"))["messages"][-1]
    assert reply.content == "edge says hi"
    assert declared.calls == []
    assert len(routing.router.edge.calls) == 1  # type: ignore[attr-defined]


def test_the_answer_carries_the_decision_in_response_metadata() -> None:
    agent, _, sink, _ = make_agent(network=BAD, score=0.9)
    info = agent.invoke(ask("hello"))["messages"][-1].response_metadata["netgpt"]
    assert info["target"] == "edge" and info["decided_target"] == "edge"
    assert info["score"] == 0.9 and info["rtt_ms"] == 1500 and info["fallback"] is False
    assert info["trace_id"] == sink.traces[0].trace_id


def test_every_model_call_of_the_agent_writes_exactly_one_trace() -> None:
    agent, _, sink, _ = make_agent(
        edge=[tool_call("get_weather", {"city": "Oslo"}), "It is sunny in Oslo."],
        network=BAD,
        score=0.9,
        tools=[get_weather],
        cycle=False,
    )
    messages = agent.invoke(ask("weather in Oslo?"), {"configurable": {"thread_id": "t-7"}})[
        "messages"
    ]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert len(sink.traces) == 2
    assert {t.session_id for t in sink.traces} == {"t-7"}
    assert {t.mode for t in sink.traces} == {"invoke"}
    assert sink.traces[1].features["turn_index"] == 1
    assert sink.traces[1].features["previous_target"] == "edge"
    assert sink.traces[0].tools[0]["function"]["name"] == "get_weather"


def test_the_system_prompt_counts_in_the_features_and_the_trace() -> None:
    agent, _, sink, _ = make_agent(agent_kwargs={"system_prompt": "Answer in French."})
    agent.invoke(ask("hello"))
    trace = sink.traces[0]
    assert trace.messages[0].type == "system" and trace.messages[0].content == "Answer in French."
    assert trace.features["message_count"] == 2


def test_an_edge_exception_falls_back_to_the_cloud_and_says_so() -> None:
    agent, _, sink, _ = make_agent(edge=[RuntimeError("GPU fell over")], network=BAD, score=0.9)
    reply = agent.invoke(ask("hi"))["messages"][-1]
    info = reply.response_metadata["netgpt"]
    assert info["target"] == "cloud" and info["fallback"] is True
    assert "GPU fell over" in info["fallback_reason"]
    attempts = sink.traces[0].attempts
    assert [(a.target, a.ok, a.error_type) for a in attempts] == [
        ("edge", False, "RuntimeError"),
        ("cloud", True, None),
    ]


def test_a_cloud_exception_falls_back_to_the_edge() -> None:
    agent, _, sink, _ = make_agent(
        cloud=[ConnectionError("no route to host")], policy=AlwaysCloud()
    )
    assert last_route(agent.invoke(ask("hi"))) == "edge"
    assert sink.traces[0].decided_target == "cloud" and sink.traces[0].fallback


def test_an_invalid_tool_call_falls_back_to_the_other_side() -> None:
    agent, _, sink, _ = make_agent(
        edge=[tool_call("get_weather", {"town": "Oslo"})],
        cloud=[tool_call("get_weather", {"city": "Oslo"}), "sunny"],
        network=BAD,
        score=0.9,
        tools=[get_weather],
    )
    messages = agent.invoke(ask("weather?"))["messages"]
    assert messages[1].tool_calls[0]["args"] == {"city": "Oslo"}
    assert messages[1].response_metadata["netgpt"]["target"] == "cloud"
    first = sink.traces[0]
    assert first.attempts[0].tool_calls_valid is False
    assert "missing required property 'city'" in first.attempts[0].problems[0]
    assert isinstance(messages[2], ToolMessage) and messages[2].content == "sunny in Oslo"


def test_a_structured_output_tool_call_counts_as_valid() -> None:
    answer = tool_call("Forecast", {"city": "Oslo", "sky": "clear"})
    agent, _, sink, _ = make_agent(
        edge=[answer],
        network=BAD,
        score=0.9,
        agent_kwargs={"response_format": ToolStrategy(Forecast)},
    )
    state = agent.invoke(ask("forecast for Oslo?"))
    assert state["structured_response"] == Forecast(city="Oslo", sky="clear")
    assert sink.traces[0].fallback is False and sink.traces[0].tool_calls_valid is True


def test_when_both_sides_fail_the_agent_gets_a_routing_error_and_the_trace_is_written() -> None:
    agent, _, sink, _ = make_agent(
        edge=[RuntimeError("edge down")], cloud=[RuntimeError("cloud down")], network=BAD
    )
    with pytest.raises(RoutingError, match="edge down"):
        agent.invoke(ask("hi"))
    assert len(sink.traces) == 1 and sink.traces[0].final_target is None


class _ModelRunRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.runs: list[tuple[list[str], dict[str, Any]]] = []

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.runs.append((list(tags or []), dict(metadata or {})))


def test_each_model_run_is_tagged_with_its_side_and_carries_the_route_metadata() -> None:
    agent, _, _, _ = make_agent(edge=[RuntimeError("edge down")], network=BAD, score=0.9)
    recorder = _ModelRunRecorder()
    agent.invoke(ask("hi"), {"callbacks": [recorder]})
    (edge_tags, edge_meta), (cloud_tags, cloud_meta) = recorder.runs
    assert "netgpt:edge" in edge_tags and "netgpt:cloud" not in edge_tags
    assert "netgpt:cloud" in cloud_tags
    assert edge_meta["netgpt.route"] == "edge" and edge_meta["netgpt.fallback"] is False
    assert cloud_meta["netgpt.route"] == "cloud" and cloud_meta["netgpt.fallback"] is True
    assert cloud_meta["netgpt.rtt_ms"] == 1500.0 and cloud_meta["netgpt.score"] == 0.9


def test_the_request_seen_by_outer_middleware_is_not_changed() -> None:
    seen: list[tuple[ModelRequest[Any], Any, int]] = []

    @wrap_model_call
    def outer(
        request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        model, count = request.model, len(request.messages)
        response = handler(request)
        seen.append((request, model, count))
        return response

    agent, _, _, declared = make_agent(network=BAD, score=0.9, extra_middleware=[outer])
    agent.invoke(ask("hi"))
    request, model, count = seen[0]
    assert request.model is model is declared
    assert len(request.messages) == count == 1


async def test_the_async_agent_is_routed_and_traced() -> None:
    agent, _, sink, _ = make_agent(
        edge=[tool_call("get_weather", {"city": "Oslo"}), "sunny"],
        network=BAD,
        score=0.9,
        tools=[get_weather],
        cycle=False,
    )
    state = await agent.ainvoke(ask("weather in Oslo?"))
    assert last_route(state) == "edge"
    assert len(sink.traces) == 2 and {t.mode for t in sink.traces} == {"ainvoke"}


async def test_an_async_edge_exception_falls_back_to_the_cloud() -> None:
    agent, _, sink, _ = make_agent(edge=[RuntimeError("edge down")], network=BAD, score=0.9)
    recorder = _ModelRunRecorder()
    state = await agent.ainvoke(ask("hi"), {"callbacks": [recorder]})
    assert last_route(state) == "cloud"
    assert [a.target for a in sink.traces[0].attempts] == ["edge", "cloud"]
    assert ["netgpt:cloud" in tags for tags, _ in recorder.runs] == [False, True]


def test_a_slow_side_times_out_and_falls_back() -> None:
    agent, routing, sink, _ = make_agent(network=BAD, score=0.9, step_timeout_s=0.05)
    routing.router.edge.delay_s = 2.0  # type: ignore[attr-defined]
    assert last_route(agent.invoke(ask("hi"))) == "cloud"
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"
    assert sink.traces[0].latency_s < 1.0


async def test_a_slow_side_times_out_in_the_async_agent_too() -> None:
    agent, routing, sink, _ = make_agent(network=BAD, score=0.9, step_timeout_s=0.05)
    routing.router.edge.delay_s = 2.0  # type: ignore[attr-defined]
    assert last_route(await agent.ainvoke(ask("hi"))) == "cloud"
    assert sink.traces[0].attempts[0].error_type == "StepTimeoutError"


def test_the_budget_caps_the_cloud_share_of_the_agents_model_calls() -> None:
    budget = CloudBudget(max_cloud_share=0.25, window_steps=8, adaptive=False)
    agent, _, sink, _ = make_agent(policy=AlwaysCloud(), budget=budget)
    routes = [last_route(agent.invoke(ask(f"q{i}"))) for i in range(16)]
    for end in range(1, 17):
        window = routes[max(0, end - 8) : end]
        assert window.count("cloud") <= 0.25 * len(window) + 1
    overridden = [t for t in sink.traces if t.overridden_by == "budget"]
    assert overridden and all(t.final_target == "edge" for t in overridden)


def test_from_router_shares_the_routers_policy_budget_and_sinks() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=AlwaysCloud(),
        sinks=[sink],
    )
    routing = NetGPTRoutingMiddleware.from_router(router)
    agent = create_agent(router.cloud, [], middleware=[routing])
    assert last_route(agent.invoke(ask("hi"))) == "cloud"
    router.invoke("and the router itself")
    assert routing.router is router
    assert [t.policy for t in sink.traces] == ["always-cloud", "always-cloud"]


def test_from_router_rejects_something_that_is_not_a_router() -> None:
    with pytest.raises(TypeError, match="must be a NetGPTRouter, got ScriptedChatModel"):
        NetGPTRoutingMiddleware.from_router(ScriptedChatModel(responses=["x"]))  # type: ignore[arg-type]


def test_an_interrupt_inside_the_model_call_is_not_a_failure() -> None:
    @wrap_model_call
    def approve_first(
        request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        interrupt("approve this model call?")
        return handler(request)

    sink = InMemoryTraceSink()
    routing = NetGPTRoutingMiddleware(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        monitor=FixedNetworkMonitor(BAD),
        scorer=ConstantScorer(0.9),
        sinks=[sink],
    )
    agent = create_agent(
        routing.router.cloud, [], middleware=[routing, approve_first], checkpointer=InMemorySaver()
    )
    config: Any = {"configurable": {"thread_id": "approval"}}
    paused = agent.invoke(ask("hi"), config)
    assert "__interrupt__" in paused and sink.traces == []
    resumed = agent.invoke(Command(resume=True), config)
    assert last_route(resumed) == "edge"
    assert len(sink.traces) == 1 and sink.traces[0].fallback is False


def test_the_routed_answer_is_a_plain_ai_message_the_agent_keeps() -> None:
    agent, _, _, _ = make_agent(network=GOOD, score=0.1)
    reply = agent.invoke(ask("hi"))["messages"][-1]
    assert isinstance(reply, AIMessage) and reply.content == "cloud says hi"
