"""Watch the routing threshold move with the network, offline (scripted models, fixed links).

Run: python examples/network_moves_the_threshold.py
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTPolicy, NetGPTRouter, NetworkState
from langchain_netgpt.routing import RequestFeatures
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel, tool_call

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather forecast for a city and a day.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "day": {"type": "string"}},
            "required": ["city"],
        },
    },
}
LINKS = {
    "fibre": NetworkState(bandwidth_up_mbps=100, bandwidth_down_mbps=300, rtt_ms=8),
    "LTE": NetworkState(bandwidth_up_mbps=8, bandwidth_down_mbps=25, rtt_ms=60),
    "congested LTE": NetworkState(bandwidth_up_mbps=0.8, bandwidth_down_mbps=2, rtt_ms=400),
    "edge of coverage": NetworkState(bandwidth_up_mbps=0.05, bandwidth_down_mbps=0.2, rtt_ms=2500),
}


def main() -> list[tuple[str, float, str]]:
    policy = NetGPTPolicy()
    question = [HumanMessage("What's the weather in Oslo tomorrow?")]
    features = RequestFeatures.from_messages(question, [WEATHER])
    rows = []
    for name, link in LINKS.items():
        router = NetGPTRouter(
            edge=ScriptedChatModel(responses=[tool_call("get_weather", {"city": "Oslo"})]),
            cloud=ScriptedChatModel(responses=[tool_call("get_weather", {"city": "Oslo"})]),
            monitor=FixedNetworkMonitor(link),
            policy=policy,
        )
        route = router.bind_tools([WEATHER]).invoke(question).response_metadata["netgpt"]
        rows.append((name, policy.threshold(link, features), route["target"]))
        print(
            f"{name:>18}: tau = {rows[-1][1]:.2f}, score {route['score']:.2f} -> {route['target']}"
        )
    return rows


if __name__ == "__main__":
    main()
