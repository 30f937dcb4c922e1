"""Traces for the export tests, produced by a real router over scripted models."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from langchain_netgpt import NetGPTRouter, NetworkState, RouteTrace
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import AttemptRecord, InMemoryTraceSink

PLANTED_KEY = "sk-planted0123456789abcdefXYZ"


@tool
def get_weather(city: str, unit: str = "c") -> str:
    """Weather in a city."""
    return f"sunny in {city}"


@tool
def convert(amount: float, to: str) -> str:
    """Convert money."""
    return f"{amount} {to}"


def _route(
    policy: Any, edge: list[Any], cloud: list[Any], prompt: Any, tools: list[Any], session: str
) -> RouteTrace:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=edge),
        cloud=ScriptedChatModel(responses=cloud),
        policy=policy,
        sinks=[sink],
    )
    model = router.bind_tools(tools) if tools else router
    model.invoke(prompt, config={"metadata": {"session_id": session}})
    (trace,) = sink.traces
    return trace


@pytest.fixture(scope="session")
def routed_traces() -> list[RouteTrace]:
    """Four steps: cloud tool call, edge-to-cloud fallback, edge text answer, cloud text answer."""
    conversation = [
        SystemMessage("You are a travel assistant."),
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage("sunny", tool_call_id="c1"),
        HumanMessage("And convert 10 EUR to USD."),
    ]
    return [
        _route(
            AlwaysCloud(),
            ["unused"],
            [tool_call("get_weather", {"city": "Oslo"})],
            "Weather in Oslo?",
            [get_weather],
            "s1",
        ),
        _route(
            AlwaysEdge(),
            [tool_call("convert", {"amount": "ten"})],
            [tool_call("convert", {"amount": 10.0, "to": "USD"})],
            conversation,
            [get_weather, convert],
            "s2",
        ),
        _route(AlwaysEdge(), ["Hello!"], ["unused"], "Hi", [], "s3"),
        _route(AlwaysCloud(), ["unused"], ["Paris is in France."], "Where is Paris?", [], "s1"),
    ]


@pytest.fixture
def secret_trace() -> RouteTrace:
    """A fallback step with a planted API key in a message, a tool argument and the session id."""
    network = NetworkState(bandwidth_up_mbps=5, bandwidth_down_mbps=20, rtt_ms=80)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "call_api",
                "description": f"Calls the API with Authorization: Bearer {PLANTED_KEY}",
                "parameters": {
                    "type": "object",
                    "properties": {"url": {"type": "string"}, "api_key": {"type": "string"}},
                    "required": ["url"],
                },
            },
        }
    ]
    good = AIMessage(
        "",
        tool_calls=[
            {"name": "call_api", "args": {"url": "https://x", "api_key": PLANTED_KEY}, "id": "a"}
        ],
    )
    bad = AIMessage(f"my OPENAI_API_KEY={PLANTED_KEY}")
    return RouteTrace(
        mode="invoke",
        session_id=f"user-{PLANTED_KEY}",
        decided_target="edge",
        score=0.7,
        threshold=0.5,
        policy="netgpt",
        reason="score above threshold",
        network=network,
        features={},
        attempts=[
            AttemptRecord(target="edge", ok=False, latency_s=0.1, problems=["x"], output=bad),
            AttemptRecord(target="cloud", ok=True, latency_s=0.4, output=good),
        ],
        final_target="cloud",
        fallback=True,
        latency_s=0.5,
        cloud_price_usd=0.0001,
        tool_calls_valid=True,
        tools=tools,
        messages=[HumanMessage(f"Call the API with key {PLANTED_KEY} please")],
        output=good,
    )
