"""What each fault costs: steps answered, fallbacks, timeouts, lost traces and added latency.

A real loopback ``netgpt serve`` stand-in (a scripted model, no weights) sits behind a
:class:`~langchain_netgpt.testing.faults.FaultProxy`; the cloud is ``ChatOpenAI`` through the proxy
and the edge a scripted model. Each scenario runs ``--steps`` tool-calling steps (``ainvoke`` with a
bound tool) through one :class:`~langchain_netgpt.NetGPTRouter` configured as a user would
(per-try timeout, step deadline, two tries for retryable errors; the "dead cloud" scenario adds
a circuit breaker). Cloud scenarios route every step to the cloud, edge scenarios to the edge.
Stream scenarios consume ``astream`` instead (the cloud through the proxy, or an edge whose stream
drips or loops, :class:`~langchain_netgpt.testing.faults.FaultyStreamModel`). The pool-exhaustion
scenarios run every step at once (``asyncio.gather``, and threads calling ``invoke``) against a
stalled cloud with two slots (``TryCapacity(max_in_flight=2)``): the edge must answer them all.

Added latency: p95 of the routed step's latency minus p95 of a direct ``ChatOpenAI`` call to the
healthy server, measured in the same run. Traces lost: steps tried minus traces received (a step
must end in exactly one trace whether it answers or raises).

Usage: python benchmarks/faults.py [--steps 20] [--out benchmarks/results/faults.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.routing.capacity import TryCapacity
from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.testing.faults import (
    EdgeFault,
    FaultMode,
    FaultProxy,
    FaultyStreamModel,
    StreamFault,
    faulty_edge,
)
from langchain_netgpt.tracing import InMemoryTraceSink

STEP_TIMEOUT_S = 0.4
STEP_DEADLINE_S = 1.5


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def answer(messages: list[BaseMessage]) -> Any:
    """A tool call, then a text answer once the tool has run (like a two-step agent)."""
    if isinstance(messages[-1], ToolMessage):
        return "It is sunny in Paris."
    return tool_call("get_weather", {"city": "Paris"})


@dataclass(frozen=True)
class Scenario:
    """One fault: the proxy's mode, how the edge fails, and how the steps are made."""

    name: str
    mode: FaultMode
    edge_fault: EdgeFault | None = None
    breaker: bool = False
    stream: bool = False
    edge_stream: StreamFault | None = None
    at_once: str | None = None  # "tasks" or "threads": every step at the same time
    capacity: TryCapacity | None = None
    tools: bool = True  # bind the tool (a streamed answer is then held until validated)


_TWO_SLOTS = TryCapacity(max_in_flight=2)

SCENARIOS: list[Scenario] = [
    Scenario("healthy", FaultMode.PASS),
    Scenario("refuse", FaultMode.REFUSE),
    Scenario("reset", FaultMode.RESET),
    Scenario("stall", FaultMode.STALL),
    Scenario("slow-drip", FaultMode.SLOW_DRIP),
    Scenario("http-500", FaultMode.HTTP_500),
    Scenario("http-503", FaultMode.HTTP_503),
    Scenario("http-429", FaultMode.HTTP_429),
    Scenario("malformed-json", FaultMode.MALFORMED_JSON),
    Scenario("truncated", FaultMode.TRUNCATED),
    Scenario("edge-exception", FaultMode.PASS, EdgeFault.EXCEPTION),
    Scenario("edge-oom", FaultMode.PASS, EdgeFault.OUT_OF_MEMORY),
    Scenario("edge-invalid-output", FaultMode.PASS, EdgeFault.INVALID_OUTPUT),
    Scenario("dead-cloud+breaker", FaultMode.STALL, breaker=True),
    Scenario("stream-healthy", FaultMode.PASS, stream=True),
    Scenario("stream-stall", FaultMode.STALL, stream=True),
    Scenario("stream-slow-drip", FaultMode.SLOW_DRIP, stream=True),
    Scenario("stream-truncated", FaultMode.TRUNCATED, stream=True),
    Scenario("stream-edge-drip", FaultMode.PASS, stream=True, edge_stream=StreamFault.SLOW_DRIP),
    Scenario("stream-edge-loop", FaultMode.PASS, stream=True, edge_stream=StreamFault.LOOP),
    # No tool bound: the chunks reach the caller, so the loop is cut at the step's deadline.
    Scenario(
        "stream-edge-loop-cut",
        FaultMode.PASS,
        stream=True,
        edge_stream=StreamFault.LOOP,
        tools=False,
    ),
    Scenario("pool-exhaustion-tasks", FaultMode.STALL, at_once="tasks", capacity=_TWO_SLOTS),
    Scenario("pool-exhaustion-threads", FaultMode.STALL, at_once="threads", capacity=_TWO_SLOTS),
]


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def client(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(
        model="scripted",
        base_url=base_url,
        api_key=SecretStr("local"),
        max_retries=0,
        timeout=5,
    )


async def direct_p95_s(base_url: str, steps: int) -> float:
    bound = client(base_url).bind_tools([get_weather])
    latencies = []
    for i in range(steps):
        t0 = time.perf_counter()
        await bound.ainvoke(f"weather in Paris? ({i})")
        latencies.append(time.perf_counter() - t0)
    return p95(latencies)


def _edge(scenario: Scenario) -> Any:
    if scenario.edge_fault is not None:
        return faulty_edge(scenario.edge_fault)
    if scenario.edge_stream is not None:
        # Drips or loops: a chunk every 0.1 s, far more than the deadline allows.
        return FaultyStreamModel(fault=scenario.edge_stream, interval_s=0.1, chunks=100)
    return ScriptedChatModel(responses=[answer], model_name="edge")


async def _one_step(bound: Any, scenario: Scenario, i: int) -> tuple[bool, float]:
    t0 = time.perf_counter()
    try:
        if scenario.stream:
            async for _ in bound.astream(f"weather in Paris? ({i})"):
                pass
        else:
            await bound.ainvoke(f"weather in Paris? ({i})")
        ok = True
    except Exception:
        ok = False
    return ok, time.perf_counter() - t0


def _threaded_steps(bound: Any, steps: int) -> list[tuple[bool, float]]:
    results: list[tuple[bool, float]] = []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            bound.invoke(f"weather in Paris? ({i})")
            ok = True
        except Exception:
            ok = False
        results.append((ok, time.perf_counter() - t0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


async def run_scenario(
    scenario: Scenario, proxy: FaultProxy, steps: int, baseline_p95_s: float
) -> dict[str, Any]:
    proxy.set_mode(scenario.mode)
    sink = InMemoryTraceSink()
    edge = _edge(scenario)
    edge_first = scenario.edge_fault is not None or scenario.edge_stream is not None
    options: dict[str, Any] = {}
    if scenario.capacity is not None:
        options["try_capacity"] = scenario.capacity
    router = NetGPTRouter(
        edge=edge,
        cloud=client(proxy.base_url),
        policy=AlwaysEdge() if edge_first else AlwaysCloud(),
        sinks=[sink],
        step_timeout_s=STEP_TIMEOUT_S,
        step_deadline_s=STEP_DEADLINE_S,
        retry=RetryPolicy(attempts=2, base_backoff_s=0.02, max_backoff_s=0.2),
        circuit_breaker=(
            CircuitBreakerConfig(failure_threshold=2, open_s=60) if scenario.breaker else None
        ),
        **options,
    )
    bound = router.bind_tools([get_weather]) if scenario.tools else router
    if scenario.at_once == "tasks":
        results = await asyncio.gather(*(_one_step(bound, scenario, i) for i in range(steps)))
    elif scenario.at_once == "threads":
        results = await asyncio.to_thread(_threaded_steps, bound, steps)
    else:
        results = [await _one_step(bound, scenario, i) for i in range(steps)]
    if isinstance(edge, FaultyStreamModel):
        edge.release()
    latencies = [elapsed for _, elapsed in results]
    answered = sum(ok for ok, _ in results)
    traces = sink.traces
    timeouts = sum(a.error_type == "StepTimeoutError" for t in traces for a in t.attempts)
    return {
        "scenario": scenario.name,
        "steps_tried": steps,
        "steps_answered": answered,
        "errors": steps - answered,
        "fallbacks": sum(t.fallback for t in traces),
        "timeouts": timeouts,
        "cloud_tries": sum(
            a.target == "cloud" and a.error_type not in ("CircuitOpenError", "CapacityError")
            for t in traces
            for a in t.attempts
        ),
        "traces_lost": steps - len(traces),
        "p95_step_ms": round(p95(latencies) * 1000, 1),
        "max_step_ms": round(max(latencies) * 1000, 1),
        "max_over_deadline_ms": round((max(latencies) - STEP_DEADLINE_S) * 1000, 1),
        "p95_added_ms": round((p95(latencies) - baseline_p95_s) * 1000, 1),
    }


async def main_async(steps: int) -> dict[str, Any]:
    server_model = ScriptedChatModel(responses=[answer], model_name="scripted")
    with (
        LocalServer(server_model, model_name="scripted") as server,
        FaultProxy("127.0.0.1", server.port, retry_after_s=0.1, drip_bytes_per_s=100) as proxy,
    ):
        await direct_p95_s(server.base_url, 5)  # warm-up
        baseline = await direct_p95_s(server.base_url, steps)
        rows = [await run_scenario(scenario, proxy, steps, baseline) for scenario in SCENARIOS]
    return {
        "steps_per_scenario": steps,
        "step_timeout_s": STEP_TIMEOUT_S,
        "step_deadline_s": STEP_DEADLINE_S,
        "direct_p95_ms": round(baseline * 1000, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "scenarios": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    columns = [
        ("scenario", 24),
        ("steps_tried", 6),
        ("steps_answered", 9),
        ("fallbacks", 10),
        ("timeouts", 9),
        ("cloud_tries", 12),
        ("traces_lost", 12),
        ("p95_added_ms", 13),
        ("max_step_ms", 12),
        ("max_over_deadline_ms", 14),
    ]
    heads = ["scenario", "tried", "answered", "fallbacks", "timeouts", "cloud tries"]
    heads += ["traces lost", "p95 added ms", "max step ms", "over deadline"]
    print(
        " ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, (_, w)) in enumerate(zip(heads, columns, strict=True))
        )
    )
    for row in result["scenarios"]:
        cells = [str(row[key]) for key, _ in columns]
        print(
            " ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, (_, w)) in enumerate(zip(cells, columns, strict=True))
            )
        )
    print(
        f"\ndirect ChatOpenAI call p95: {result['direct_p95_ms']} ms; "
        f"step_timeout_s={STEP_TIMEOUT_S}, step_deadline_s={STEP_DEADLINE_S}, "
        f"{result['steps_per_scenario']} steps per scenario"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per scenario")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "faults.json",
        help="where the JSON results go",
    )
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    result = asyncio.run(main_async(args.steps))
    print_table(result)
    lost = sum(row["traces_lost"] for row in result["scenarios"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if lost:
        raise SystemExit(f"{lost} traces lost")


if __name__ == "__main__":
    main()
