"""Network measurement against a real ``netgpt serve``: the monitor's RTT, whatever the compute.

A scripted model whose compute time cycles through 0-1.5 s a call answers every request with a
``get_weather`` call, behind :class:`~langchain_netgpt.cloud.LocalServer` with an emulated link of
``--rtt-ms``. A plain ``ChatOpenAI`` (no ``include_response_headers``) is wrapped in
``NetGPTRouter``; 20 steps are invoked and 20 streamed, with tools. For each mode the table shows
the monitor's RTT estimate (mean, worst error) and the RTT samples, beside two baselines fed the
same calls in the same run:

* ``wall EWMA``: what the monitor did before (every call's wall time minus the latency model's
  *expected* compute time, as a plain EWMA), which is what any reply without timing headers got;
* ``call clock``: server timing subtracted from the call's wall time (no connection hooks, plain
  EWMA), i.e. what ``include_response_headers=True`` alone gave.

Prints a table and writes ``benchmarks/results/network_measurement.json``.

Usage: python benchmarks/network_measurement.py [--rtt-ms 50] [--steps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter, NetworkMonitor
from langchain_netgpt.cloud import LOCAL_API_KEY, LocalServer, WanProfile
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.measure import response_bytes
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
COMPUTE_S = (0.0, 1.5, 0.2, 0.8, 0.05, 1.2, 0.4, 0.0, 1.0, 0.3)


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


class _SlowToolModel(BaseChatModel):
    delays: Any = None

    @property
    def _llm_type(self) -> str:
        return "slow-tool-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return self.bind(tools=tools, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("served asynchronously")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.sleep(next(self.delays))
        call = {"name": "get_weather", "args": {"city": "Lisbon"}, "id": "call_1"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=[call]))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Any:
        await asyncio.sleep(next(self.delays))
        args = '{"city": "Lisbon"}'
        for i, part in enumerate((args[:9], args[9:])):
            first = i == 0
            piece = {"name": "get_weather" if first else None, "args": part,
                     "id": "call_1" if first else None, "index": 0}  # fmt: skip
            yield ChatGenerationChunk(message=AIMessageChunk("", tool_call_chunks=[piece]))
            await asyncio.sleep(0.05)


def _baselines(router: NetGPTRouter, sink: InMemoryTraceSink) -> dict[str, list[float]]:
    """The old monitor's estimates, fed the same calls (wall time, expected or reported compute)."""
    wall, call_clock = NetworkMonitor(rtt_window=1), NetworkMonitor(rtt_window=1)
    latency = router.policy.latency_model  # type: ignore[attr-defined]
    out: dict[str, list[float]] = {"wall EWMA": [], "call clock": []}
    for trace in sink.traces:
        sample = trace.network_sample
        if sample is None or trace.output is None:
            continue
        down = response_bytes(trace.output)  # type: ignore[arg-type]
        cloud = latency.cloud  # the expected compute time the old monitor subtracted
        expected = (
            cloud.overhead_s
            + trace.features["prompt_tokens"] / cloud.prefill_tokens_per_s
            + latency.expected_output_tokens / cloud.decode_tokens_per_s
        )
        ttfb = sample.ttfb_s if trace.mode == "stream" and sample.clock == "call" else None
        wall.observe(
            bytes_sent=trace.bytes_sent,
            bytes_received=down,
            total_s=sample.elapsed_s,
            server_s=min(expected, sample.elapsed_s),
        )
        call_clock.observe(
            bytes_sent=trace.bytes_sent,
            bytes_received=down,
            total_s=sample.elapsed_s,
            ttfb_s=ttfb,
            server_s=min(sample.server_s or 0.0, sample.elapsed_s),
        )
        out["wall EWMA"].append(wall.state().rtt_ms)
        out["call clock"].append(call_clock.state().rtt_ms)
    return out


def run(rtt_ms: float, steps: int) -> dict[str, Any]:
    """Measure invoke and stream; return the JSON-ready results."""
    results: dict[str, Any] = {"rtt_ms": rtt_ms, "steps": steps, "compute_s": COMPUTE_S}
    model = _SlowToolModel(delays=itertools.cycle(COMPUTE_S))
    with LocalServer(model, model_name="slow", wan=WanProfile(rtt_ms=rtt_ms)) as server:
        cloud = ChatOpenAI(
            model="slow",
            base_url=server.base_url,
            api_key=SecretStr(LOCAL_API_KEY),
            max_retries=0,
            timeout=60,
        )
        for mode in ("invoke", "stream"):
            monitor, sink = NetworkMonitor(), InMemoryTraceSink()
            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["unused"]),
                cloud=cloud,
                policy=AlwaysCloud(),
                monitor=monitor,
                sinks=[sink],
            )
            agent = router.bind_tools([get_weather])
            estimates = []
            for i in range(steps):
                if mode == "invoke":
                    agent.invoke(f"Weather in Lisbon? ({i})")
                else:
                    list(agent.stream(f"Weather in Lisbon? ({i})"))
                estimates.append(monitor.state().rtt_ms)
            samples = [t.network_sample.rtt_ms for t in sink.traces if t.network_sample]
            series = {
                "router (connection clock, min filter)": estimates,
                **_baselines(router, sink),
            }
            results[mode] = {
                name: {
                    "estimates_ms": values,
                    "mean_ms": sum(values) / len(values),
                    "max_error": max(abs(v - rtt_ms) for v in values) / rtt_ms,
                }
                for name, values in series.items()
            }
            results[mode]["samples_ms"] = samples
            kinds = {f"{s.source}/{s.clock}" for t in sink.traces if (s := t.network_sample)}
            results[mode]["sources"] = sorted(kinds)
    return results


def main() -> None:
    """Run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = run(args.rtt_ms, args.steps)
    results["load_average"] = os.getloadavg()
    results["wall_s"] = time.perf_counter() - t0
    print(f"emulated RTT {args.rtt_ms:.0f} ms, {args.steps} steps, compute 0-1.5 s a call")
    print(f"{'mode':<8} {'estimator':<40} {'mean ms':>8} {'max error':>10}")
    for mode in ("invoke", "stream"):
        for name, row in results[mode].items():
            if isinstance(row, dict):
                print(f"{mode:<8} {name:<40} {row['mean_ms']:>8.1f} {row['max_error']:>10.1%}")
        print(f"{mode:<8} samples (ms): {[round(s, 1) for s in results[mode]['samples_ms']]}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "network_measurement.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
