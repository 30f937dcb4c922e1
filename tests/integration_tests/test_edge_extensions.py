"""Self-offload and prompt completion with the real bundled SmolLM2-135M edge model."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.bench.completion_eval import DEMO_CONTEXT
from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge, EdgePromptCompleter, PromptCompletion
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # loads the bundled weights: ~30 s

PRIVATE = ("camille.martin@example.com", "+33 6 12 34 56 78", "Camille Martin")


@pytest.fixture(scope="module")
def edge() -> HuggingFaceEdgeModel:
    model = HuggingFaceEdgeModel.from_bundled(max_new_tokens=48, allow_escalation=True)
    model.load()
    return model


def test_the_edge_completed_prompt_carries_the_facts_and_no_personal_field(
    edge: HuggingFaceEdgeModel,
) -> None:
    completer = EdgePromptCompleter(
        PromptCompletion(context=DEMO_CONTEXT, use_edge_model=True), edge
    )

    done = completer.complete([HumanMessage("Book a table near me for my usual party size")])

    text = done.messages[-1].text
    assert "Lyon, France" in text and "4" in text
    assert not any(value in text for value in PRIVATE)
    assert done.record.completer in ("edge", "edge_rejected")


def test_a_router_with_the_real_edge_completes_the_cloud_prompt(
    edge: HuggingFaceEdgeModel,
) -> None:
    cloud = ScriptedChatModel(responses=["It will be sunny."])
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=edge,
        cloud=cloud,
        policy=AlwaysCloud(),
        prompt_completion=PromptCompletion(context=DEMO_CONTEXT, use_edge_model=True),
        sinks=[sink],
    )

    router.invoke("What's the weather here tomorrow?")

    assert "Lyon, France" in cloud.calls[0][0][-1].text
    assert sink.traces[0].prompt_completion is not None


def test_whatever_the_real_edge_answers_the_router_returns_an_answer(
    edge: HuggingFaceEdgeModel,
) -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=edge,
        cloud=ScriptedChatModel(responses=["cloud answer"]),
        policy=AlwaysEdge(),
        sinks=[sink],
    )

    reply = router.invoke("Prove the Riemann hypothesis.")

    trace = sink.traces[0]
    # The 135M model rarely escalates; when it does, the cloud must have answered.
    assert trace.final_target == ("cloud" if trace.escalated else "edge")
    assert reply.response_metadata["netgpt"]["escalated"] is trace.escalated
