"""Router overhead on BFCL-sized requests: decision time, and end-to-end cost over a bare model.

For every task of the BFCL files in ../shared/data/bfcl (questions and tool schemas as the router
would see them):

* decision: ``RequestFeatures.from_messages`` + ``HeuristicScorer.score`` + ``NetworkMonitor.state``
  + ``NetGPTPolicy.decide``, with the tools' summary cached as the router caches it per binding;
* end to end: ``router.bind_tools(tools).invoke(messages)`` against the very same fake chat model
  called directly as ``fake.bind_tools(tools).invoke(messages)``, interleaved call by call, with
  tool calls validated against the schemas and a trace written to an in-memory sink.

Usage: python benchmarks/router_overhead.py [--rounds 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from langchain_netgpt import NetGPTPolicy, NetGPTRouter, NetworkMonitor
from langchain_netgpt.recorded import BfclTask, load_bfcl
from langchain_netgpt.routing import HeuristicScorer, RequestFeatures
from langchain_netgpt.routing.features import ToolsSummary
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "bfcl"
FILES = ["BFCL_v4_simple_python.json", "BFCL_v4_multiple.json", "BFCL_v4_parallel.json"]


def to_messages(task: BfclTask) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in task.messages:
        out.append(
            SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
        )
    return out


def ground_truth_answer(task: BfclTask) -> AIMessage:
    """The task's first correct call set, as a model would return it."""
    calls = []
    for i, call in enumerate(task.ground_truth or []):
        ((name, params),) = call.items()
        args = {k: v[0] for k, v in params.items() if v and v[0] != ""}
        calls.append({"name": task.tool_name(name), "args": args, "id": f"call_{i}"})
    return AIMessage(content="", tool_calls=calls)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Prepared = list[tuple[BfclTask, list[BaseMessage], ToolsSummary]]


def measure_decisions(prepared: Prepared, rounds: int) -> list[float]:
    """Microseconds per decision: features, score, network state and policy."""
    scorer, policy, monitor = HeuristicScorer(), NetGPTPolicy(), NetworkMonitor()
    decision_us: list[float] = []
    for _ in range(rounds):
        for _task, messages, summary in prepared:
            t0 = time.perf_counter_ns()
            features = RequestFeatures.from_messages(messages, summary)
            score = scorer.score(features, messages)
            network = monitor.state(payload_bytes=features.payload_bytes)
            policy.decide(features, score, network)
            decision_us.append((time.perf_counter_ns() - t0) / 1000)
    return decision_us


def measure_bare_invoke(messages: list[BaseMessage]) -> list[float]:
    """The unit: microseconds per bare fake chat model invoke (what the issue calls ~75 us)."""
    bare_model = FakeListChatModel(responses=["ok"])
    for _ in range(300):
        bare_model.invoke(messages)
    bare_us: list[float] = []
    for _ in range(3000):
        t0 = time.perf_counter_ns()
        bare_model.invoke(messages)
        bare_us.append((time.perf_counter_ns() - t0) / 1000)
    return bare_us


def measure_end_to_end(
    prepared: Prepared, rounds: int, sink: InMemoryTraceSink
) -> tuple[list[float], list[float], list[float], int]:
    """Direct and routed invokes, interleaved call by call, on every task.

    Returns:
        Microseconds direct, microseconds routed, the paired differences, and how many routed
        answers validated.
    """
    direct_us: list[float] = []
    routed_us: list[float] = []
    diffs: list[float] = []
    valid = 0
    for task, messages, _summary in prepared:
        answer = ground_truth_answer(task)
        fake = ScriptedChatModel(responses=[answer])
        router = NetGPTRouter(edge=fake, cloud=fake, sinks=[sink], monitor=NetworkMonitor())
        direct = fake.bind_tools(task.tools)
        routed = router.bind_tools(task.tools)
        direct.invoke(messages)  # warm both paths (binding caches, pydantic validators)
        routed.invoke(messages)
        gc.disable()
        try:
            for _ in range(rounds):
                t0 = time.perf_counter_ns()
                direct.invoke(messages)
                t1 = time.perf_counter_ns()
                message = routed.invoke(messages)
                t2 = time.perf_counter_ns()
                d, r = (t1 - t0) / 1000, (t2 - t1) / 1000
                direct_us.append(d)
                routed_us.append(r)
                diffs.append(r - d)
        finally:
            gc.enable()
        # Nested BFCL answers list allowed values inside dicts, which this simple answer builder
        # leaves as lists: those calls fail validation and exercise the fallback path too.
        valid += message.response_metadata["netgpt"]["tool_calls_valid"] is not False
    return direct_us, routed_us, diffs, valid


def print_report(result: dict[str, Any]) -> None:
    """The measurements as a table, then the targets and the trace count."""
    rows = [
        ("bare FakeListChatModel.invoke (the unit)", result["bare_fake_invoke_us"]),
        ("decision (features+score+network+policy)", result["decision_us"]),
        ("fake model invoke, direct", result["direct_invoke_us"]),
        ("same model through NetGPTRouter", result["router_invoke_us"]),
        ("added by the router (paired)", result["added_overhead_us"]),
    ]
    print(
        f"BFCL tasks: {result['tasks']} x {result['rounds']} rounds; "
        f"request size p50 {result['payload_bytes_p50']:.0f} B"
    )
    print(f"{'measurement':<44}{'p50 us':>10}{'p99 us':>10}")
    for name, stats in rows:
        print(f"{name:<44}{stats['p50']:>10.1f}{stats['p99']:>10.1f}")
    ok_decision = result["decision_us"]["p50"] <= 50
    ok_overhead = result["added_overhead_us"]["p50"] <= 250
    ratio = result["added_overhead_in_bare_invokes"]
    print(
        f"targets: decision p50 <= 50 us: {'met' if ok_decision else 'MISSED'}; "
        f"added p50 <= 250 us: {'met' if ok_overhead else 'MISSED'} "
        f"({ratio:.2f} bare invokes; the issue's budget is about 3 of them, 250/75 = 3.3)"
    )
    print(
        f"traces written {result['traces_written']}; ground-truth answers that validated "
        f"{result['answers_valid']}/{result['tasks']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "router_overhead.json"
    )
    args = parser.parse_args()

    tasks = [t for f in FILES for t in load_bfcl(DATA / f)]
    prepared: Prepared = []
    for task in tasks:
        messages = to_messages(task)
        prepared.append((task, messages, ToolsSummary.from_tools(task.tools)))

    decision_us = measure_decisions(prepared, args.rounds)
    bare_us = measure_bare_invoke(prepared[0][1])
    sink = InMemoryTraceSink()
    direct_us, routed_us, diffs, valid = measure_end_to_end(prepared, args.rounds, sink)

    sizes = [RequestFeatures.from_messages(m, s).payload_bytes for _, m, s in prepared]
    result: dict[str, Any] = {
        "tasks": len(tasks),
        "rounds": args.rounds,
        "payload_bytes_p50": percentile([float(s) for s in sizes], 0.5),
        "decision_us": {"p50": percentile(decision_us, 0.5), "p99": percentile(decision_us, 0.99)},
        "bare_fake_invoke_us": {"p50": percentile(bare_us, 0.5), "p99": percentile(bare_us, 0.99)},
        "direct_invoke_us": {"p50": percentile(direct_us, 0.5), "p99": percentile(direct_us, 0.99)},
        "router_invoke_us": {"p50": percentile(routed_us, 0.5), "p99": percentile(routed_us, 0.99)},
        "added_overhead_us": {
            "p50": percentile(diffs, 0.5),
            "p99": percentile(diffs, 0.99),
            "p50_of_medians": statistics.median(routed_us) - statistics.median(direct_us),
        },
        "traces_written": len(sink),
        "answers_valid": valid,
        "targets": {"decision_p50_us": 50, "added_overhead_p50_us": 250},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    bare = result["bare_fake_invoke_us"]["p50"]
    result["added_overhead_in_bare_invokes"] = result["added_overhead_us"]["p50"] / bare
    result["decision_in_bare_invokes"] = result["decision_us"]["p50"] / bare
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
