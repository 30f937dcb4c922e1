"""Route a scripted agent workload while replaying a real LTE trace (AT&T, driving, 2016).

Each step happens one second of trace time after the previous one; the router reads the link
from the trace at that moment (bandwidth over the last second, base RTT plus queueing delay) and
sends easy steps to the edge sooner than hard ones as the link degrades. Through the outage
around t = 21 s every step stays on the edge.

Offline: scripted edge and cloud models. The mahimahi trace files are read from
$NETGPT_NETWORK_TRACES_DIR, or from ../shared/data/network-traces next to this repository.
Run: python examples/replay_lte_trace.py
"""

from __future__ import annotations

import os
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_netgpt import NetGPTPolicy, NetGPTRouter, NetworkMonitor
from langchain_netgpt.testing import ScriptedChatModel, tool_call

TRACE = "ATT-LTE-driving-2016"
START_S, STEPS = 14.0, 16  # the window holds an outage around t = 21 s


def _tool(name: str, description: str, **params: str) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {p: {"type": t} for p, t in params.items()},
                "required": list(params),
            },
        },
    }


WEATHER = _tool("get_weather", "Weather for a city.", city="string")
FLIGHTS = _tool(
    "search_flights",
    "Search flights.",
    origin="string",
    destination="string",
    date="string",
    max_price_eur="number",
)
HOTELS = _tool("search_hotels", "Search hotels.", city="string", nights="integer")
# An easy step (one tool, a short question) and a harder one (a choice of tools, more arguments).
EASY = ([HumanMessage("What's the weather in Oslo?")], [WEATHER])
HARD = (
    [HumanMessage("Find a flight from Oslo to Rome next Friday under 200 euros.")],
    [WEATHER, FLIGHTS, HOTELS],
)


def answer(messages: list[BaseMessage]) -> AIMessage:
    """Both sides answer each step with the right tool call (the script follows the question)."""
    if "weather" in str(messages[-1].content):
        return tool_call("get_weather", {"city": "Oslo"})
    args = {"origin": "OSL", "destination": "FCO", "date": "friday", "max_price_eur": 200}
    return tool_call("search_flights", args)


def traces_dir() -> Path:
    env = os.environ.get("NETGPT_NETWORK_TRACES_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "network-traces"


def main(folder: Path | None = None) -> list[dict]:
    folder = folder or traces_dir()
    down, up = folder / f"{TRACE}.down", folder / f"{TRACE}.up"
    if not down.is_file():
        raise SystemExit(
            f"trace {down} not found: set NETGPT_NETWORK_TRACES_DIR to a mahimahi traces folder"
        )
    now = [0.0]  # replay time, in seconds from the start of the trace
    monitor = NetworkMonitor.from_trace(down, up, base_rtt_ms=60, clock=lambda: now[0])
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=[answer]),
        cloud=ScriptedChatModel(responses=[answer]),
        policy=NetGPTPolicy(),
        monitor=monitor,
    )
    rows = []
    print(f"replaying {TRACE}, one step per second from t={START_S:.0f}s")
    print("    t   kind   up Mbit/s   rtt ms    tau  score  route")
    for step in range(STEPS):
        now[0] = START_S + step
        messages, tools = EASY if step % 2 == 0 else HARD
        route = router.bind_tools(tools).invoke(messages).response_metadata["netgpt"]
        row = {
            "t_s": now[0],
            "kind": "easy" if step % 2 == 0 else "hard",
            "bandwidth_up_mbps": route["bandwidth_up_mbps"],
            "rtt_ms": route["rtt_ms"],
            "threshold": route["threshold"],
            "score": route["score"],
            "target": route["target"],
            "fallback": route["fallback"],
        }
        rows.append(row)
        print(
            f"{row['t_s']:5.0f}   {row['kind']:<5} {row['bandwidth_up_mbps']:9.2f} "
            f"{row['rtt_ms']:8.0f}  {row['threshold']:5.2f}  {row['score']:5.2f}  {row['target']}"
        )
    if any(r["fallback"] for r in rows):
        raise RuntimeError("a scripted answer did not fit its tools: the example is broken")
    edge = sum(r["target"] == "edge" for r in rows)
    print(f"{edge}/{len(rows)} steps on the edge")
    return rows


if __name__ == "__main__":
    main()
