from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.graph import (
    ROUTE_HISTORY_LIMIT,
    NetGPTState,
    append_routes,
    create_netgpt_agent,
    netgpt_router_node,
)
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


def make_router(
    *,
    edge: list[Any] | None = None,
    cloud: list[Any] | None = None,
    network: NetworkState = GOOD,
    score: float = 0.5,
) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=edge or ["edge says hi"], cycle=False),
        cloud=ScriptedChatModel(responses=cloud or ["cloud says hi"], cycle=False),
        monitor=FixedNetworkMonitor(network),
        scorer=ConstantScorer(score),
        sinks=[sink],
    )
    return router, sink


def single_node_graph(router: NetGPTRouter, **node_options: Any) -> Any:
    builder = StateGraph(NetGPTState)
    builder.add_node("model", netgpt_router_node(router, **node_options))
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    return builder.compile()


def test_the_node_writes_the_route_into_the_state_and_appends_it_to_the_history() -> None:
    router, sink = make_router(network=BAD, score=0.9)
    state = single_node_graph(router).invoke({"messages": [HumanMessage("hi")]})
    assert state["netgpt_route"]["target"] == "edge"
    assert state["netgpt_route"]["trace_id"] == sink.traces[0].trace_id
    assert state["netgpt_routes"] == [state["netgpt_route"]]
    assert state["messages"][-1].content == "edge says hi"


def test_a_conditional_edge_can_branch_on_the_route() -> None:
    def branch(state: dict[str, Any]) -> str:
        return "after_edge" if state["netgpt_route"]["target"] == "edge" else "after_cloud"

    def build(router: NetGPTRouter) -> Any:
        builder = StateGraph(NetGPTState)
        builder.add_node("model", netgpt_router_node(router))
        builder.add_node("after_edge", lambda s: {"messages": [AIMessage("checked locally")]})
        builder.add_node("after_cloud", lambda s: {"messages": [AIMessage("billed")]})
        builder.add_edge(START, "model")
        builder.add_conditional_edges("model", branch, ["after_edge", "after_cloud"])
        builder.add_edge("after_edge", END)
        builder.add_edge("after_cloud", END)
        return builder.compile()

    on_bad_link = build(make_router(network=BAD, score=0.6)[0])
    on_good_link = build(make_router(network=GOOD, score=0.6)[0])
    hi = {"messages": [HumanMessage("hi")]}
    assert on_bad_link.invoke(hi)["messages"][-1].content == "checked locally"
    assert on_good_link.invoke(hi)["messages"][-1].content == "billed"


def test_the_node_takes_the_previous_side_from_the_route_history() -> None:
    router, sink = make_router()
    unmarked = AIMessage("an earlier answer without routing metadata")
    state = {
        "messages": [HumanMessage("hi"), unmarked, HumanMessage("and now?")],
        "netgpt_routes": [{"target": "cloud"}],
    }
    single_node_graph(router).invoke(state)
    assert sink.traces[0].features["previous_target"] == "cloud"


def test_without_a_history_the_previous_side_comes_from_the_last_answer() -> None:
    router, sink = make_router()
    marked = AIMessage("earlier", response_metadata={"netgpt": {"target": "edge"}})
    single_node_graph(router).invoke({"messages": [HumanMessage("hi"), marked, HumanMessage("?")]})
    assert sink.traces[0].features["previous_target"] == "edge"


def test_the_node_puts_the_system_prompt_first_without_storing_it() -> None:
    router, sink = make_router()
    state = single_node_graph(router, system_prompt="Be brief.").invoke(
        {"messages": [HumanMessage("hi")]}
    )
    assert sink.traces[0].messages[0].type == "system"
    assert [m.type for m in state["messages"]] == ["human", "ai"]


async def test_the_node_runs_async_in_an_async_graph() -> None:
    router, sink = make_router(network=BAD, score=0.9)
    state = await single_node_graph(router).ainvoke({"messages": [HumanMessage("hi")]})
    assert state["netgpt_route"]["target"] == "edge"
    assert [t.mode for t in sink.traces] == ["ainvoke"]


def test_the_node_names_the_missing_messages_key() -> None:
    router, _ = make_router()
    node = netgpt_router_node(router, messages_key="conversation")
    with pytest.raises(
        KeyError, match=r"needs state\['conversation'\]; the state has \['messages'\]"
    ):
        node.invoke({"messages": [HumanMessage("hi")]})


def test_the_route_history_keeps_only_the_most_recent_routes() -> None:
    history = append_routes([{"i": i} for i in range(ROUTE_HISTORY_LIMIT)], [{"i": -1}])
    assert len(history) == ROUTE_HISTORY_LIMIT
    assert history[0] == {"i": 1} and history[-1] == {"i": -1}


def test_create_netgpt_agent_runs_the_tool_loop_with_every_model_call_routed() -> None:
    sink = InMemoryTraceSink()
    agent = create_netgpt_agent(
        ScriptedChatModel(
            responses=[tool_call("get_weather", {"city": "Oslo"}), "Sunny in Oslo."], cycle=False
        ),
        ScriptedChatModel(responses=["cloud"]),
        [get_weather],
        monitor=FixedNetworkMonitor(BAD),
        scorer=ConstantScorer(0.9),
        sinks=[sink],
    )
    state = agent.invoke({"messages": [HumanMessage("weather in Oslo?")]})
    assert [type(m) for m in state["messages"]] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert state["messages"][2].content == "sunny in Oslo"
    assert [r["target"] for r in state["netgpt_routes"]] == ["edge", "edge"]
    assert len(sink.traces) == 2
    assert sink.traces[0].tools[0]["function"]["name"] == "get_weather"


async def test_create_netgpt_agent_runs_async() -> None:
    sink = InMemoryTraceSink()
    agent = create_netgpt_agent(
        ScriptedChatModel(responses=["edge"]),
        ScriptedChatModel(responses=["cloud"]),
        [],
        monitor=FixedNetworkMonitor(GOOD),
        scorer=ConstantScorer(0.0),
        sinks=[sink],
    )
    state = await agent.ainvoke({"messages": [HumanMessage("hi")]})
    assert state["netgpt_route"]["target"] == "cloud" and sink.traces[0].mode == "ainvoke"


def test_the_route_history_survives_a_restart_through_a_sqlite_checkpointer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "checkpoints.sqlite"
    config: Any = {"configurable": {"thread_id": "conversation-1"}}
    sink = InMemoryTraceSink()

    def build(saver: SqliteSaver) -> Any:
        return create_netgpt_agent(
            ScriptedChatModel(responses=["edge"]),
            ScriptedChatModel(responses=["cloud"]),
            [get_weather],
            monitor=FixedNetworkMonitor(GOOD),
            scorer=ConstantScorer(0.0),  # a weak edge on a good link: the cloud answers
            sinks=[sink],
            checkpointer=saver,
        )

    connection = sqlite3.connect(path, check_same_thread=False)
    first = build(SqliteSaver(connection)).invoke({"messages": [HumanMessage("hi")]}, config)
    connection.close()
    first_route = first["netgpt_route"]["target"]
    assert first_route == "cloud"

    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        agent = build(SqliteSaver(connection))
        restored = agent.get_state(config).values["netgpt_routes"]
        assert [r["target"] for r in restored] == [first_route]
        second = agent.invoke({"messages": [HumanMessage("and again?")]}, config)
    finally:
        connection.close()
    assert sink.traces[1].features["previous_target"] == first_route
    assert sink.traces[1].session_id == "conversation-1"
    assert len(second["netgpt_routes"]) == 2 and len(second["messages"]) == 4


def test_the_router_works_as_the_model_of_create_react_agent() -> None:
    router, sink = make_router(
        edge=[tool_call("get_weather", {"city": "Oslo"}), "Sunny in Oslo."], network=BAD, score=0.9
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(router, [get_weather])
    messages = agent.invoke({"messages": [HumanMessage("weather in Oslo?")]})["messages"]
    assert messages[2].content == "sunny in Oslo"
    assert [m.response_metadata["netgpt"]["target"] for m in messages[1::2]] == ["edge", "edge"]
    assert len(sink.traces) == 2


def test_the_router_works_as_the_model_of_create_agent() -> None:
    router, sink = make_router(
        cloud=[tool_call("get_weather", {"city": "Oslo"}), "Sunny in Oslo."],
        network=GOOD,
        score=0.0,
    )
    agent = create_agent(router, [get_weather])
    messages = agent.invoke({"messages": [HumanMessage("weather in Oslo?")]})["messages"]
    assert messages[2].content == "sunny in Oslo"
    assert messages[-1].response_metadata["netgpt"]["target"] == "cloud"
    assert len(sink.traces) == 2 and sink.traces[1].features["previous_target"] == "cloud"
