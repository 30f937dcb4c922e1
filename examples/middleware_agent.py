"""Add edge/cloud routing to a `create_agent` agent with one middleware, then change the network.

The same agent answers the same question on a good link and on a poor one: every model call
(pick the tool, then answer from its result) goes to the cloud on fibre and stays on the edge at
the edge of coverage. Offline: scripted edge and cloud models. Run:
python examples/middleware_agent.py
"""

from __future__ import annotations

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool

from langchain_netgpt import NetGPTRoutingMiddleware, NetworkMonitor, NetworkState
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import InMemoryTraceSink

LINKS = {
    "fibre": NetworkState(bandwidth_up_mbps=100, bandwidth_down_mbps=300, rtt_ms=8),
    "edge of coverage": NetworkState(bandwidth_up_mbps=0.05, bandwidth_down_mbps=0.2, rtt_ms=2500),
}


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"12 C and sunny in {city}"


def scripted(side: str) -> ScriptedChatModel:
    """A model that calls get_weather, then answers from the tool's result."""

    def reply(messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(f"[{side}] {messages[-1].content}.")
        return tool_call("get_weather", {"city": "Oslo"})

    return ScriptedChatModel(responses=[reply], model_name=f"{side}-model")


def main() -> dict[str, dict]:
    edge, cloud = scripted("edge"), scripted("cloud")
    monitor = NetworkMonitor()
    sink = InMemoryTraceSink()
    agent = create_agent(
        cloud,  # the agent's own model; the middleware decides per call which side answers
        tools=[get_weather],
        middleware=[NetGPTRoutingMiddleware(edge=edge, cloud=cloud, monitor=monitor, sinks=[sink])],
    )
    results = {}
    for name, link in LINKS.items():
        monitor.update(link)  # e.g. from the OS's connectivity API
        sink.clear()
        state = agent.invoke({"messages": [("user", "What's the weather in Oslo?")]})
        routes = [m.response_metadata["netgpt"] for m in state["messages"] if m.type == "ai"]
        results[name] = {
            "targets": [route["target"] for route in routes],
            "thresholds": [route["threshold"] for route in routes],
            "answer": state["messages"][-1].content,
            "traces": len(sink),
        }
        steps = ", ".join(
            f"{r['target']} (s={r['score']:.2f}, tau={r['threshold']:.2f})" for r in routes
        )
        print(f"{name:>16}: {steps}")
        print(f"{'':>16}  -> {results[name]['answer']}")
    return results


if __name__ == "__main__":
    main()
