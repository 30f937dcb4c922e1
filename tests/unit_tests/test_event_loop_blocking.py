"""Routed graphs run under ``langgraph dev``'s blocking-call detector with file and SQLite sinks.

``langgraph dev`` turns on blockbuster while it runs graphs: a blocking call on the event loop
(``os.mkdir``, ``os.write``, ``sqlite3`` ...) raises ``BlockingError`` and fails the run. These
tests turn on the very same detector (langgraph-runtime-inmem's own settings) around an async run
of a routed agent whose traces go to a JSONL file and a SQLite store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

from langchain_netgpt.graph import create_netgpt_agent
from langchain_netgpt.routing import AlwaysEdge
from langchain_netgpt.routing.config import RoutingConfig
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import JsonlTraceSink, TraceStore, read_jsonl_traces

queue = pytest.importorskip("langgraph_runtime_inmem.queue")


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@pytest.fixture
def detector() -> Iterator[Any]:
    enable = getattr(queue, "_enable_blockbuster", None)
    if enable is None:
        pytest.skip("this langgraph-runtime-inmem has no _enable_blockbuster")
    bb = enable()
    try:
        yield bb
    finally:
        bb.deactivate()


def _config(tmp_path: Path) -> RoutingConfig:
    edge = ScriptedChatModel(responses=[tool_call("get_weather", {"city": "Lisbon"}), "Sunny."])
    cloud = ScriptedChatModel(responses=["cloud"])
    return RoutingConfig(
        edge=edge,
        cloud=cloud,
        policy=AlwaysEdge(),
        sinks=[JsonlTraceSink(tmp_path / "traces" / "routes.jsonl")],
        store=TraceStore(tmp_path / "traces.db"),
    )


def _ask() -> dict[str, Any]:
    return {"messages": [("user", "What's the weather in Lisbon?")]}


def test_the_detector_is_live(detector: Any, tmp_path: Path) -> None:
    async def blocking() -> None:
        (tmp_path / "made-on-the-loop").mkdir()

    with pytest.raises(Exception, match=r"Blocking call to os\.mkdir"):
        asyncio.run(blocking())


def test_an_async_routed_agent_writes_its_traces_without_blocking_the_loop(
    detector: Any, tmp_path: Path
) -> None:
    config = _config(tmp_path)  # built off the loop, as graphs/agent.py builds it in a thread
    agent = create_netgpt_agent(tools=[get_weather], config=config)
    state = asyncio.run(agent.ainvoke(_ask()))
    assert state["messages"][-1].content == "Sunny."
    assert len(list(read_jsonl_traces(tmp_path / "traces" / "routes.jsonl"))) == 2
    assert config.store is not None and config.store.count() == 2


def test_a_streamed_routed_agent_writes_its_traces_without_blocking_the_loop(
    detector: Any, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    agent = create_netgpt_agent(tools=[get_weather], config=config)

    async def stream() -> list[Any]:
        return [part async for part in agent.astream(_ask(), stream_mode="messages")]

    assert asyncio.run(stream())
    assert len(list(read_jsonl_traces(tmp_path / "traces" / "routes.jsonl"))) == 2
