"""Streams under ``step_deadline_s``: how long a stream takes to fall back or to be cut.

Each case streams one step (``stream`` and ``astream``) through a router with
``step_timeout_s=0.5`` and ``step_deadline_s=2.0``: a cloud that sends nothing (a scripted model,
and a real ``ChatOpenAI`` behind a loopback ``FaultProxy`` that never answers), a cloud that drips
a chunk every 0.3 s (too slow before the caller sees anything: the edge takes over), and an edge
that loops (chunks reach the caller: the stream is cut at the deadline with ``RoutingError``).

Usage: python benchmarks/stream_deadlines.py [--repeats 3] [--out results/stream_deadlines.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.errors import RoutingError
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.testing.faults import FaultMode, FaultProxy, FaultyStreamModel, StreamFault

STEP_TIMEOUT_S = 0.5
STEP_DEADLINE_S = 2.0


def _router(edge: BaseChatModel, cloud: BaseChatModel, *, cloud_first: bool) -> NetGPTRouter:
    return NetGPTRouter(
        edge=edge,
        cloud=cloud,
        policy=AlwaysCloud() if cloud_first else AlwaysEdge(),
        step_timeout_s=STEP_TIMEOUT_S,
        step_deadline_s=STEP_DEADLINE_S,
    )


def _stream(router: NetGPTRouter) -> tuple[float, str, int]:
    t0, chunks = time.perf_counter(), 0
    try:
        for _ in router.stream("hi"):
            chunks += 1
        outcome = "answered"
    except RoutingError:
        outcome = "RoutingError"
    return time.perf_counter() - t0, outcome, chunks


async def _astream(router: NetGPTRouter) -> tuple[float, str, int]:
    t0, chunks = time.perf_counter(), 0
    try:
        async for _ in router.astream("hi"):
            chunks += 1
        outcome = "answered"
    except RoutingError:
        outcome = "RoutingError"
    return time.perf_counter() - t0, outcome, chunks


def _edge() -> ScriptedChatModel:
    return ScriptedChatModel(responses=["edge answer"])


def _cases(proxy: FaultProxy) -> dict[str, Callable[[], tuple[NetGPTRouter, Any]]]:
    def silent() -> tuple[NetGPTRouter, Any]:
        cloud = FaultyStreamModel(fault=StreamFault.SILENT, hold_s=10)
        return _router(_edge(), cloud, cloud_first=True), cloud

    def drip() -> tuple[NetGPTRouter, Any]:
        cloud = FaultyStreamModel(fault=StreamFault.SLOW_DRIP, interval_s=0.3, chunks=100)
        return _router(_edge(), cloud, cloud_first=True), cloud

    def loop() -> tuple[NetGPTRouter, Any]:
        edge = FaultyStreamModel(fault=StreamFault.LOOP, interval_s=0.05)
        return _router(edge, ScriptedChatModel(responses=["cloud"]), cloud_first=False), edge

    def stalled_openai() -> tuple[NetGPTRouter, Any]:
        cloud = ChatOpenAI(
            model="stalled", base_url=proxy.base_url, api_key=SecretStr("x"), max_retries=0
        )
        return _router(_edge(), cloud, cloud_first=True), None

    return {
        "silent cloud": silent,
        "stalled ChatOpenAI cloud": stalled_openai,
        "cloud drips 1 chunk / 0.3 s": drip,
        "edge loops 1 chunk / 0.05 s": loop,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per case and mode")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "stream_deadlines.json",
        help="where the JSON results go",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    rows = []
    with FaultProxy("127.0.0.1", 9, mode=FaultMode.STALL) as proxy:
        for name, make in _cases(proxy).items():
            for mode in ("stream", "astream"):
                runs = []
                for _ in range(args.repeats):
                    router, fault = make()
                    runs.append(
                        _stream(router) if mode == "stream" else asyncio.run(_astream(router))
                    )
                    if fault is not None:
                        fault.release()
                rows.append(
                    {
                        "case": name,
                        "mode": mode,
                        "outcome": runs[-1][1],
                        "chunks": runs[-1][2],
                        "max_s": round(max(r[0] for r in runs), 3),
                        "min_s": round(min(r[0] for r in runs), 3),
                    }
                )
    print(f"{'case':30} {'mode':8} {'outcome':13} {'chunks':>6} {'min s':>7} {'max s':>7}")
    for r in rows:
        print(
            f"{r['case']:30} {r['mode']:8} {r['outcome']:13} {r['chunks']:>6} "
            f"{r['min_s']:>7} {r['max_s']:>7}"
        )
    print(f"step_timeout_s={STEP_TIMEOUT_S}, step_deadline_s={STEP_DEADLINE_S}")
    result = {
        "step_timeout_s": STEP_TIMEOUT_S,
        "step_deadline_s": STEP_DEADLINE_S,
        "python": platform.python_version(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
