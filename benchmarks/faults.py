"""What each fault costs: steps answered, fallbacks, timeouts, lost traces and added latency.

A real loopback ``netgpt serve`` stand-in (a scripted model, no weights) sits behind a
:class:`~langchain_netgpt.testing.faults.FaultProxy`; the cloud is ``ChatOpenAI`` through the proxy
and the edge a scripted model. Each scenario runs ``--steps`` tool-calling steps (``ainvoke`` with a
bound tool) through one :class:`~langchain_netgpt.NetGPTRouter` configured as a user would
(per-try timeout, step deadline, two tries for retryable errors; the "dead cloud" scenario adds
a circuit breaker). Cloud scenarios route every step to the cloud, edge scenarios to the edge.

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
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.testing.faults import EdgeFault, FaultMode, FaultProxy, faulty_edge
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


SCENARIOS: list[tuple[str, FaultMode, EdgeFault | None, bool]] = [
    # name, proxy mode, edge fault, circuit breaker
    ("healthy", FaultMode.PASS, None, False),
    ("refuse", FaultMode.REFUSE, None, False),
    ("reset", FaultMode.RESET, None, False),
    ("stall", FaultMode.STALL, None, False),
    ("slow-drip", FaultMode.SLOW_DRIP, None, False),
    ("http-500", FaultMode.HTTP_500, None, False),
    ("http-503", FaultMode.HTTP_503, None, False),
    ("http-429", FaultMode.HTTP_429, None, False),
    ("malformed-json", FaultMode.MALFORMED_JSON, None, False),
    ("truncated", FaultMode.TRUNCATED, None, False),
    ("edge-exception", FaultMode.PASS, EdgeFault.EXCEPTION, False),
    ("edge-oom", FaultMode.PASS, EdgeFault.OUT_OF_MEMORY, False),
    ("edge-invalid-output", FaultMode.PASS, EdgeFault.INVALID_OUTPUT, False),
    ("dead-cloud+breaker", FaultMode.STALL, None, True),
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


async def run_scenario(
    name: str,
    mode: FaultMode,
    edge_fault: EdgeFault | None,
    breaker: bool,
    proxy: FaultProxy,
    steps: int,
    baseline_p95_s: float,
) -> dict[str, Any]:
    proxy.set_mode(mode)
    sink = InMemoryTraceSink()
    edge = (
        faulty_edge(edge_fault)
        if edge_fault is not None
        else ScriptedChatModel(responses=[answer], model_name="edge")
    )
    router = NetGPTRouter(
        edge=edge,
        cloud=client(proxy.base_url),
        policy=AlwaysEdge() if edge_fault is not None else AlwaysCloud(),
        sinks=[sink],
        step_timeout_s=STEP_TIMEOUT_S,
        step_deadline_s=STEP_DEADLINE_S,
        retry=RetryPolicy(attempts=2, base_backoff_s=0.02, max_backoff_s=0.2),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=2, open_s=60) if breaker else None,
    )
    bound = router.bind_tools([get_weather])
    latencies: list[float] = []
    answered = errors = 0
    for i in range(steps):
        t0 = time.perf_counter()
        try:
            await bound.ainvoke(f"weather in Paris? ({i})")
            answered += 1
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - t0)
    traces = sink.traces
    timeouts = sum(a.error_type == "StepTimeoutError" for t in traces for a in t.attempts)
    return {
        "scenario": name,
        "steps_tried": steps,
        "steps_answered": answered,
        "errors": errors,
        "fallbacks": sum(t.fallback for t in traces),
        "timeouts": timeouts,
        "cloud_tries": sum(
            a.target == "cloud" and a.error_type != "CircuitOpenError"
            for t in traces
            for a in t.attempts
        ),
        "traces_lost": steps - len(traces),
        "p95_step_ms": round(p95(latencies) * 1000, 1),
        "max_step_ms": round(max(latencies) * 1000, 1),
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
        rows = [
            await run_scenario(name, mode, fault, breaker, proxy, steps, baseline)
            for name, mode, fault, breaker in SCENARIOS
        ]
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
        ("scenario", 20),
        ("steps_tried", 6),
        ("steps_answered", 9),
        ("fallbacks", 10),
        ("timeouts", 9),
        ("cloud_tries", 12),
        ("traces_lost", 12),
        ("p95_added_ms", 13),
        ("max_step_ms", 12),
    ]
    heads = ["scenario", "tried", "answered", "fallbacks", "timeouts", "cloud tries"]
    heads += ["traces lost", "p95 added ms", "max step ms"]
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
