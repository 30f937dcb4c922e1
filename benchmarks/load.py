"""Load: many concurrent ``create_agent`` runs through the router against a loopback server.

``--runs`` agents (default 200) run at once, each a two-step tool-calling conversation (a tool
call, the tool, a final answer), with the :class:`~langchain_netgpt.NetGPTRouter` as the agent's
model (every step routed to the cloud, a real ``ChatOpenAI`` over HTTP to a ``netgpt serve``
stand-in with a scripted model, no weights, in a child process). The same agents with the bare
``ChatOpenAI`` as the model run in the same process, rounds interleaved, as the baseline.

Reported: throughput (model steps per second) for both, p95 run latency and the p95 added per
step ((routed - direct) / steps), traces received vs steps made (lost must be 0), and memory
growth between two measured rounds (tracemalloc, and RSS). A round that does not finish in
``--timeout`` seconds counts as a deadlock and fails the script.

Usage: python benchmarks/load.py [--runs 200] [--rounds 2] [--out benchmarks/results/load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import platform
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import RouteTrace

STEPS_PER_RUN = 2


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def answer(messages: list[BaseMessage]) -> Any:
    if isinstance(messages[-1], ToolMessage):
        return "It is sunny in Paris."
    return tool_call("get_weather", {"city": "Paris"})


class CountingSink:
    """Counts traces (keeping none, so memory growth is the router's own)."""

    def __init__(self) -> None:
        self.count = 0
        self.failed = 0
        self.fallbacks = 0

    def write(self, trace: RouteTrace) -> None:
        self.count += 1
        self.failed += trace.final_target is None
        self.fallbacks += trace.fallback


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def one_round(agent: Any, runs: int, timeout_s: float) -> tuple[float, list[float], int]:
    """Wall time, latencies of the runs that finished, and the number of runs that failed."""
    latencies: list[float] = []
    failures: list[BaseException] = []

    async def run(i: int) -> None:
        t0 = time.perf_counter()
        try:
            result = await agent.ainvoke({"messages": [("user", f"Weather in Paris? ({i})")]})
        except Exception as exc:  # counted and reported: a failed run is a result, not a crash
            failures.append(exc)
            return
        if result["messages"][-1].content != "It is sunny in Paris.":
            raise RuntimeError(f"run {i} ended with {result['messages'][-1]!r}")
        latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(run(i) for i in range(runs))), timeout_s)
    except TimeoutError:
        raise SystemExit(f"deadlock: {runs} runs did not finish in {timeout_s} s") from None
    return time.perf_counter() - t0, latencies, len(failures)


def _serve(conn: Connection, stop: Event) -> None:
    """Child process: the stand-in server, so its CPU time does not share the agents' GIL."""
    server_model = ScriptedChatModel(responses=[answer], model_name="scripted")
    with LocalServer(server_model, model_name="scripted") as server:
        conn.send(server.base_url)
        stop.wait()


@contextmanager
def server_process() -> Iterator[str]:
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    stop = context.Event()
    process = context.Process(target=_serve, args=(child, stop), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the stand-in server did not start in 60 s")
        yield parent.recv()
    finally:
        stop.set()
        process.join(10)


async def main_async(runs: int, rounds: int, timeout_s: float) -> dict[str, Any]:
    with server_process() as base_url:
        cloud = ChatOpenAI(
            model="scripted", base_url=base_url, api_key=SecretStr("local"), max_retries=0
        )
        sink = CountingSink()
        router = NetGPTRouter(
            edge=ScriptedChatModel(responses=[answer], model_name="edge"),
            cloud=cloud,
            policy=AlwaysCloud(),
            sinks=[sink],
            step_deadline_s=timeout_s,
        )
        agents = {
            "direct": create_agent(cloud, tools=[get_weather]),
            "routed": create_agent(router, tools=[get_weather]),
        }
        for agent in agents.values():  # warm-up: connection pools, lazy imports, caches
            await one_round(agent, runs, timeout_s)
        sink.count = sink.fallbacks = 0
        walls: dict[str, float] = {"direct": 0.0, "routed": 0.0}
        failed_runs: dict[str, int] = {"direct": 0, "routed": 0}
        latencies: dict[str, list[float]] = {"direct": [], "routed": []}
        memory: list[tuple[int, float]] = []
        tracemalloc.start()
        for _ in range(rounds):
            for name, agent in agents.items():
                wall, lat, failed = await one_round(agent, runs, timeout_s)
                failed_runs[name] += failed
                walls[name] += wall
                latencies[name] += lat
            gc.collect()
            memory.append((tracemalloc.get_traced_memory()[0], rss_mb()))
        tracemalloc.stop()
    steps = runs * rounds * STEPS_PER_RUN
    p95_direct, p95_routed = p95(latencies["direct"]), p95(latencies["routed"])
    return {
        "runs": runs,
        "rounds": rounds,
        "steps_per_run": STEPS_PER_RUN,
        "routed_steps": steps,
        "traces": sink.count,
        "traces_lost": steps - sink.count,
        "failed_steps": sink.failed,
        "fallback_steps": sink.fallbacks,
        "direct_failed_runs": failed_runs["direct"],
        "routed_failed_runs": failed_runs["routed"],
        "sink_errors": router.sink_errors,
        "direct_steps_per_s": round(steps / walls["direct"], 1),
        "routed_steps_per_s": round(steps / walls["routed"], 1),
        "direct_p95_run_ms": round(p95_direct * 1000, 1),
        "routed_p95_run_ms": round(p95_routed * 1000, 1),
        "p95_added_per_step_ms": round((p95_routed - p95_direct) / STEPS_PER_RUN * 1000, 1),
        "tracemalloc_growth_kib": round((memory[-1][0] - memory[0][0]) / 1024, 1),
        "rss_growth_mb": round(memory[-1][1] - memory[0][1], 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="concurrent agent runs")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds (>= 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="deadlock limit per round")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "load.json")
    args = parser.parse_args()
    if args.runs < 1 or args.rounds < 2:
        parser.error(f"need --runs >= 1 and --rounds >= 2, got {args.runs}, {args.rounds}")
    result = asyncio.run(main_async(args.runs, args.rounds, args.timeout))
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key.ljust(width)}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if result["traces_lost"] and not result["routed_failed_runs"]:
        raise SystemExit(f"{result['traces_lost']} traces lost")


if __name__ == "__main__":
    main()
