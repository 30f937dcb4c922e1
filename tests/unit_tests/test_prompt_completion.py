"""Edge prompt completion: the cloud sees the request completed with local facts, never PII."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.bench.completion_eval import measure_prompt_completion
from langchain_netgpt.routing import (
    AlwaysCloud,
    AlwaysEdge,
    EdgePromptCompleter,
    LocalContext,
    PromptCompletion,
)
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

GOOD = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)
CONTEXT = LocalContext(
    location="Lyon, France",
    profile={"party_size": "4", "email": "camille@example.com", "phone": "+33 6 12 34 56 78"},
    history=["ordered pad thai from Thai Garden"],
)
REQUEST = "Book a table near me for my usual party size"


def _router(
    edge: Any = "edge answer", policy: Any = None, **option: Any
) -> tuple[NetGPTRouter, ScriptedChatModel, InMemoryTraceSink]:
    sink = InMemoryTraceSink()
    cloud = ScriptedChatModel(responses=["cloud answer"], cycle=True)
    router = NetGPTRouter(
        edge=edge if isinstance(edge, ScriptedChatModel) else ScriptedChatModel(responses=[edge]),
        cloud=cloud,
        policy=policy or AlwaysCloud(),
        monitor=FixedNetworkMonitor(GOOD),
        sinks=[sink],
        prompt_completion=PromptCompletion(context=CONTEXT, **option),
    )
    return router, cloud, sink


def test_the_cloud_sees_the_request_completed_with_the_facts_it_needs() -> None:
    router, cloud, _ = _router()

    router.invoke([SystemMessage("You book tables."), HumanMessage(REQUEST)])

    seen = cloud.calls[0][0]
    assert isinstance(seen[0], SystemMessage)
    assert "Lyon, France" in seen[-1].text and "party size: 4" in seen[-1].text


def test_personal_fields_never_reach_the_cloud_or_the_trace() -> None:
    router, cloud, sink = _router()

    router.invoke("Email me the receipt and book a table near me for my party size")

    sent = cloud.calls[0][0][-1].text
    dumped = sink.traces[0].to_json()
    for raw in ("camille@example.com", "+33 6 12 34 56 78"):
        assert raw not in sent and raw not in dumped
    assert sink.traces[0].prompt_completion is not None
    assert sink.traces[0].prompt_completion.withheld == ["profile.email"]


def test_the_trace_records_both_prompts_by_hash_and_size() -> None:
    router, _, sink = _router()

    router.invoke(REQUEST)

    record = sink.traces[0].prompt_completion
    assert record is not None and record.completer == "template"
    assert record.original_bytes == len(REQUEST) and len(record.original_sha256) == 64
    assert record.completed_bytes > record.original_bytes
    assert record.completed_bytes < record.original_bytes + record.context_bytes
    assert record.fields_used == ["location", "profile.party_size"]


def test_steps_served_on_the_edge_are_not_completed() -> None:
    router, _, sink = _router(policy=AlwaysEdge())

    router.invoke(REQUEST)

    assert sink.traces[0].final_target == "edge" and sink.traces[0].prompt_completion is None


async def test_async_calls_complete_the_prompt_the_same_way() -> None:
    router, cloud, sink = _router()

    await router.ainvoke(REQUEST)

    assert "Lyon, France" in cloud.calls[0][0][-1].text
    assert sink.traces[0].prompt_completion is not None


def test_an_edge_rewrite_that_keeps_every_fact_is_used() -> None:
    rewrite = "Book a table in Lyon, France for 4 people"
    router, cloud, sink = _router(edge=ScriptedChatModel(responses=[rewrite]), use_edge_model=True)

    router.invoke(REQUEST)

    assert cloud.calls[0][0][-1].text == rewrite
    record = sink.traces[0].prompt_completion
    assert record is not None and record.completer == "edge"


def test_an_edge_rewrite_that_leaks_a_personal_field_falls_back_to_the_template() -> None:
    leaky = "Book a table in Lyon, France for 4, confirm to camille@example.com"
    completer = EdgePromptCompleter(
        PromptCompletion(context=CONTEXT, use_edge_model=True),
        ScriptedChatModel(responses=[leaky]),
    )

    done = completer.complete([HumanMessage("Book near me for my party size, email me")])

    assert "camille@example.com" not in done.messages[-1].text
    assert done.record.completer == "edge_rejected"


def test_an_edge_rewrite_that_drops_a_fact_falls_back_to_the_template() -> None:
    completer = EdgePromptCompleter(
        PromptCompletion(context=CONTEXT, use_edge_model=True),
        ScriptedChatModel(responses=["Book a table somewhere"]),
    )

    done = completer.complete([HumanMessage(REQUEST)])

    assert "Lyon, France" in done.messages[-1].text and done.record.completer == "edge_rejected"


def test_a_request_that_needs_no_context_is_sent_unchanged() -> None:
    completer = EdgePromptCompleter(PromptCompletion(context=CONTEXT))

    done = completer.complete([HumanMessage("What is 17 times 23?")])

    assert done.messages[-1].text == "What is 17 times 23?" and done.record.fields_used == []


def test_a_reference_back_pulls_the_latest_history_entry() -> None:
    completer = EdgePromptCompleter(PromptCompletion(context=CONTEXT))

    done = completer.complete([HumanMessage("Order the same as last time")])

    assert "pad thai" in done.messages[-1].text


def test_history_values_holding_personal_data_are_withheld() -> None:
    context = LocalContext(history=["sent the invoice to camille@example.com"])
    completer = EdgePromptCompleter(PromptCompletion(context=context))

    done = completer.complete([HumanMessage("Do the same as last time")])

    assert "camille@example.com" not in done.messages[-1].text
    assert done.record.withheld == ["history.0"]


def test_a_profile_key_that_is_not_snake_case_is_rejected() -> None:
    with pytest.raises(ValueError, match="'Party Size' must be snake_case"):
        LocalContext(profile={"Party Size": "4"})


def test_the_completer_needs_a_prompt_completion_option() -> None:
    with pytest.raises(TypeError, match="must be a PromptCompletion"):
        EdgePromptCompleter({"context": {}})  # type: ignore[arg-type]


def test_on_the_scripted_tasks_the_template_carries_the_facts_in_a_fraction_of_the_bytes() -> None:
    results = {r.arm: r for r in measure_prompt_completion()}

    template, full, bare = results["template"], results["full_context"], results["bare"]
    assert template.private_leaks == 0 and full.private_leaks == full.tasks
    assert template.success > bare.success and template.fact_recall > 0.9
    assert template.mean_bytes < full.mean_bytes / 2
