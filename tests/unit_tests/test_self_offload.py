"""Self-offload: an edge answer that escalates is honoured as a fallback to the cloud."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.tools import tool

from langchain_netgpt import CloudBudget, NetGPTRouter, NetworkState
from langchain_netgpt.export.grpo import grpo_row
from langchain_netgpt.learn.rewards import EscalationAwareReward
from langchain_netgpt.routing import AlwaysEdge, escalation_message, escalation_reason
from langchain_netgpt.routing.reliability import CircuitBreakerConfig, CircuitState
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel, tool_call
from langchain_netgpt.tracing import InMemoryTraceSink, RouteTrace
from langchain_netgpt.tracing.scrub import SecretScrubber

GOOD = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def _router(
    edge: list[Any], cloud: list[Any], **kwargs: Any
) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=edge, cycle=True),
        cloud=ScriptedChatModel(responses=cloud, cycle=True),
        policy=AlwaysEdge(),
        monitor=FixedNetworkMonitor(GOOD),
        sinks=[sink],
        **kwargs,
    )
    return router, sink


def test_an_escalating_edge_answer_goes_to_the_cloud() -> None:
    router, sink = _router([escalation_message("needs live data")], ["cloud answer"])

    reply = router.invoke("What is the EUR/USD rate right now?")

    assert reply.text == "cloud answer"
    trace = sink.traces[0]
    assert (trace.decided_target, trace.final_target) == ("edge", "cloud")
    assert trace.escalated and trace.escalation_reason == "needs live data"
    assert trace.fallback_reason == "edge_escalated: needs live data"
    assert reply.response_metadata["netgpt"]["escalated"] is True


async def test_async_calls_honour_the_escalation_too() -> None:
    router, sink = _router([escalation_message("too hard")], ["cloud answer"])

    reply = await router.ainvoke("Plan a 3-city trip")

    assert reply.text == "cloud answer" and sink.traces[0].escalated


def test_an_escalation_with_tools_bound_reaches_the_cloud_tool_call() -> None:
    router, sink = _router(
        [escalation_message("unsure of the city")], [tool_call("get_weather", {"city": "Lyon"})]
    )

    reply = router.bind_tools([get_weather], tool_choice="required").invoke("Weather?")

    assert reply.tool_calls[0]["args"] == {"city": "Lyon"}
    edge_try = sink.traces[0].attempts[0]
    assert edge_try.target == "edge" and edge_try.problems == ["edge escalated: unsure of the city"]


def test_escalations_do_not_open_the_edge_circuit() -> None:
    router, _ = _router(
        [escalation_message("hard")],
        ["cloud answer"],
        circuit_breaker=CircuitBreakerConfig(failure_threshold=2, open_s=60),
    )

    for _ in range(4):
        router.invoke("hard question")

    assert router.circuit_state("edge") is CircuitState.CLOSED


def test_a_plain_edge_answer_is_not_an_escalation() -> None:
    router, sink = _router(["edge answer"], ["cloud answer"])

    router.invoke("hi")

    assert not sink.traces[0].escalated and sink.traces[0].escalation_reason is None


def test_without_fallback_the_escalation_comes_back_marked() -> None:
    router, sink = _router([escalation_message("hard")], ["cloud answer"], fallback=False)

    reply = router.invoke("hard question")

    assert escalation_reason(reply) == "hard"
    assert sink.traces[0].final_target == "edge" and sink.traces[0].escalated


def test_an_exhausted_budget_keeps_the_escalated_step_on_the_edge() -> None:
    budget = CloudBudget(max_cloud_share=0.0)
    router, sink = _router([escalation_message("hard")], ["cloud answer"], budget=budget)

    reply = router.invoke("hard question")

    assert escalation_reason(reply) == "hard" and sink.traces[0].final_target == "edge"


def test_an_escalation_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="non-empty reason"):
        escalation_message("  ")


def test_escalated_traces_round_trip_through_json() -> None:
    router, sink = _router([escalation_message("hard")], ["cloud answer"])
    router.invoke("hard question")

    again = RouteTrace.from_json(sink.traces[0].to_json())

    assert again.escalated and again.escalation_reason == "hard"


def test_grpo_rows_mark_escalated_steps() -> None:
    router, sink = _router([escalation_message("hard")], ["cloud answer"])
    router.bind_tools([get_weather]).invoke("hard question")

    row = grpo_row(sink.traces[0], SecretScrubber())

    assert isinstance(row, dict) and row["escalated"] is True


def test_the_reward_pays_escalation_only_where_the_edge_failed() -> None:
    reward = EscalationAwareReward(cloud_share_cap=1.0)
    escalate = json.dumps({"escalate": True, "reason": "hard"})

    scores = reward(
        ["p1", "p2"],
        [escalate, escalate],
        tools=["[]", "[]"],
        reference_calls=["[]", "[]"],
        edge_failed=[True, False],
    )

    assert scores[0] > 0 > scores[1]


def test_router_data_marks_escalated_steps() -> None:
    from langchain_netgpt.export.router_data import RewardParams, router_row

    router, sink = _router([escalation_message("hard")], ["cloud answer"])
    router.invoke("hard question")

    row = router_row(sink.traces[0], RewardParams())

    assert row["escalated"] is True and row["fallback"] is True


def _toy_recordings(tmp_path: Any, escalate: set[int]) -> tuple[Any, Any, Any]:
    from langchain_netgpt.recorded.edge_outcomes import EdgeOutcome, OutcomesHeader

    add = {
        "name": "math.add",
        "description": "Add a and b.",
        "parameters": {
            "type": "dict",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    }
    (tmp_path / "possible_answer").mkdir()
    tasks = [
        {"id": f"toyadd_{i}", "question": [[{"role": "user", "content": f"Add {i} and 1"}]]}
        for i in range(10)
    ]
    data = tmp_path / "BFCL_v4_toyadd.json"
    data.write_text("\n".join(json.dumps({**t, "function": [add]}) for t in tasks) + "\n")
    answers = [{"id": t["id"], "ground_truth": [{"math.add": {"a": [0], "b": [1]}}]} for t in tasks]
    (tmp_path / "possible_answer" / data.name).write_text(
        "\n".join(json.dumps(a) for a in answers) + "\n"
    )
    files = []
    for name, escalated in (("plain", set()), ("escalate", escalate)):
        rows = [OutcomesHeader(model="toy", device="cpu").model_dump_json()]
        for i in range(10):
            rows.append(
                EdgeOutcome(
                    id=f"toyadd_{i}",
                    category="toyadd",
                    correct=i < 6 and i not in escalated,
                    escalated=i in escalated,
                ).model_dump_json()
            )
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(rows) + "\n")
        files.append(path)
    return data, files[0], files[1]


def test_an_edge_that_escalates_exactly_its_failures_scores_full_precision_and_recall(
    tmp_path: Any,
) -> None:
    from langchain_netgpt.bench.offload_eval import measure_self_offload
    from langchain_netgpt.bench.replay import BenchConfig

    data, plain, escalating = _toy_recordings(tmp_path, escalate={6, 7, 8, 9})

    report = measure_self_offload(escalating, plain, [data], config=BenchConfig(cloud_accuracy=1.0))

    assert (report.precision, report.recall, report.cloud_share) == (1.0, 1.0, 0.4)
    assert report.accuracy == report.accuracy_oracle == 1.0
    assert report.accuracy_random < report.accuracy


def test_an_edge_that_escalates_its_successes_is_worse_than_random(tmp_path: Any) -> None:
    from langchain_netgpt.bench.offload_eval import measure_self_offload
    from langchain_netgpt.bench.replay import BenchConfig

    data, plain, escalating = _toy_recordings(tmp_path, escalate={0, 1})

    report = measure_self_offload(escalating, plain, [data], config=BenchConfig(cloud_accuracy=1.0))

    assert report.precision == 0.0 and report.recall == 0.0
    assert report.accuracy < report.accuracy_random


def test_the_bench_row_says_when_there_is_no_escalating_recording(tmp_path: Any) -> None:
    from langchain_netgpt.bench.offload_eval import offload_bench_row

    data, plain, _ = _toy_recordings(tmp_path, escalate=set())

    row = offload_bench_row([data], plain, escalating=tmp_path / "missing.jsonl")

    assert row["part"] == "self-offload" and "no escalating recording" in row["result"]


def test_an_escalating_edge_expert_hands_over_along_the_ranking() -> None:
    from langchain_netgpt.routing.targets import TargetSpec

    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        targets={
            "small": TargetSpec(
                model=ScriptedChatModel(responses=[escalation_message("hard")], cycle=True),
                kind="edge",
                quality=0.9,
            ),
            "cloud": TargetSpec(
                model=ScriptedChatModel(responses=["cloud"], cycle=True), kind="cloud", quality=0.1
            ),
        },
        monitor=FixedNetworkMonitor(GOOD),
        sinks=[sink],
    )

    reply = router.invoke("hi")

    trace = sink.traces[0]
    assert [a.target for a in trace.attempts] == ["small", "cloud"]
    assert reply.text == "cloud" and trace.escalated
