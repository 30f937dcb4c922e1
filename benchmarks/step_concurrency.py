"""Deadlines under concurrency: 100 threads and 100 asyncio tasks sharing one router.

The cloud is ``ChatOpenAI`` over real loopback HTTP: either a healthy ``LocalServer`` whose
model takes ``--cloud-delay-s`` (0.1 s) per answer (in its own process, so the server's CPU is
not the router's), or a ``FaultProxy`` that reads every request
and never answers (a stalled cloud; the client's own timeout is 60 s).
The edge is a scripted model. Every step is routed to the cloud first (``AlwaysCloud``) with
``step_timeout_s`` and ``step_deadline_s`` as a user would set them, and the default
``TryCapacity`` (32 slots per side).

Reported per run: steps answered, by which side, false timeouts (a ``StepTimeoutError`` recorded
against a healthy cloud), capacity fallbacks, traces (exactly one per step), the slowest step and
its overshoot past ``step_deadline_s``, and the longest queueing for a slot.

Usage: python benchmarks/step_concurrency.py [--steps 100] [--out results/step_concurrency.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.testing.faults import FaultMode, FaultProxy
from langchain_netgpt.tracing import InMemoryTraceSink

STEP_TIMEOUT_S = 1.0
STEP_DEADLINE_S = 2.0


_SERVER = """
import sys
from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.testing import ScriptedChatModel
model = ScriptedChatModel(responses=["cloud answer"], delay_s=float(sys.argv[1]))
with LocalServer(model, model_name="scripted") as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


def _router(base_url: str, sink: InMemoryTraceSink) -> NetGPTRouter:
    cloud = ChatOpenAI(
        model="scripted", base_url=base_url, api_key=SecretStr("local"), max_retries=0, timeout=60
    )
    return NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge answer"], model_name="edge"),
        cloud=cloud,
        policy=AlwaysCloud(),
        step_timeout_s=STEP_TIMEOUT_S,
        step_deadline_s=STEP_DEADLINE_S,
        sinks=[sink],
    )


def _threads(router: NetGPTRouter, steps: int) -> list[tuple[str | None, float]]:
    results: list[tuple[str | None, float]] = []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            reply = router.invoke(f"step {i}")
            target = reply.response_metadata["netgpt"]["target"]
        except Exception:
            target = None
        results.append((target, time.perf_counter() - t0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


async def _tasks(router: NetGPTRouter, steps: int) -> list[tuple[str | None, float]]:
    async def one(i: int) -> tuple[str | None, float]:
        t0 = time.perf_counter()
        try:
            reply = await router.ainvoke(f"step {i}")
            target = reply.response_metadata["netgpt"]["target"]
        except Exception:
            target = None
        return target, time.perf_counter() - t0

    return list(await asyncio.gather(*(one(i) for i in range(steps))))


def _row(
    cloud: str, how: str, results: list[tuple[str | None, float]], sink: InMemoryTraceSink
) -> dict[str, Any]:
    traces = sink.traces
    attempts = [a for t in traces for a in t.attempts]
    slowest = max(elapsed for _, elapsed in results)
    return {
        "cloud": cloud,
        "concurrency": how,
        "steps": len(results),
        "answered": sum(target is not None for target, _ in results),
        "by_cloud": sum(target == "cloud" for target, _ in results),
        "by_edge": sum(target == "edge" for target, _ in results),
        "cloud_timeouts": sum(a.error_type == "StepTimeoutError" for a in attempts),
        "capacity_fallbacks": sum(t.fallback_code == "capacity" for t in traces),
        "traces": len(traces),
        "max_step_s": round(slowest, 3),
        "max_over_deadline_ms": round((slowest - STEP_DEADLINE_S) * 1000, 1),
        "max_queue_s": round(max((a.queue_s or 0.0) for a in attempts), 3) if attempts else 0.0,
    }


def _run(cloud: str, base_url: str, steps: int) -> list[dict[str, Any]]:
    rows = []
    for how in ("threads", "tasks"):
        router = _router(base_url, InMemoryTraceSink())
        router.invoke("warm-up")  # connections and imports, not measured
        sink = InMemoryTraceSink()
        router.sinks = [sink]
        if how == "threads":
            results = _threads(router, steps)
        else:
            results = asyncio.run(_tasks(router, steps))
        rows.append(_row(cloud, how, results, sink))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="concurrent steps per run")
    parser.add_argument("--cloud-delay-s", type=float, default=0.1, help="healthy cloud's time")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "step_concurrency.json",
        help="where the JSON results go",
    )
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    with subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(args.cloud_delay_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        base_url = server.stdout.readline().strip()
        try:
            rows = _run(f"healthy {args.cloud_delay_s:g} s", base_url, args.steps)
        finally:
            server.stdin.close()
    with FaultProxy("127.0.0.1", 9, mode=FaultMode.STALL) as proxy:
        rows += _run("stalled", proxy.base_url, args.steps)
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print(" ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for row in rows:
        print(" ".join(str(row[k]).ljust(w) for k, w in zip(keys, widths, strict=True)))
    result = {
        "step_timeout_s": STEP_TIMEOUT_S,
        "step_deadline_s": STEP_DEADLINE_S,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    lost = sum(r["steps"] - r["traces"] for r in rows)
    if lost:
        raise SystemExit(f"{lost} traces lost")


if __name__ == "__main__":
    main()
