"""The bundled edge under tool_choice="auto" (call or answer) and calls that always close."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.edge.call_decision import ANSWER_OPENING, CALL_OPENING, CallDecisionConfig
from tests.integration_tests._runtimes import needs_llama_cpp

pytestmark = pytest.mark.integration


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


@pytest.fixture(
    scope="module", params=[pytest.param("llama_cpp", marks=needs_llama_cpp), "transformers"]
)
def edge(request: pytest.FixtureRequest) -> HuggingFaceEdgeModel:
    # The decision, the narrowed grammar and the wrap-up hold in both runtimes.
    model = HuggingFaceEdgeModel.from_bundled(
        backend=request.param, device="cpu", max_new_tokens=40
    )
    model.load()
    return model


def test_a_weather_question_under_auto_comes_back_as_a_weather_call(
    edge: HuggingFaceEdgeModel,
) -> None:
    result = edge.bind_tools([get_weather]).invoke("What's the weather like in Lisbon right now?")

    assert [c["name"] for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0]["args"]["city"]
    assert result.response_metadata["netgpt_call_decision"]["call"] is True


def test_a_request_no_bound_tool_fits_is_answered_in_text(edge: HuggingFaceEdgeModel) -> None:
    result = edge.bind_tools([get_weather]).invoke("Write a haiku about autumn leaves.")

    assert result.tool_calls == []
    assert isinstance(result.content, str) and result.content.strip()
    assert result.response_metadata["netgpt_call_decision"]["call"] is False


def test_streaming_under_auto_carries_the_decided_call(edge: HuggingFaceEdgeModel) -> None:
    full = None
    for chunk in edge.bind_tools([get_weather, multiply]).stream("Weather in Oslo today?"):
        full = chunk if full is None else full + chunk

    assert isinstance(full, AIMessage)
    assert [c["name"] for c in full.tool_calls] == ["get_weather"]


def test_with_the_decision_off_the_model_chooses_alone_and_no_decision_is_recorded(
    edge: HuggingFaceEdgeModel,
) -> None:
    free = edge.model_copy(update={"call_decision": CallDecisionConfig(mode="off")})

    result = free.bind_tools([get_weather]).invoke("What's the weather like in Lisbon right now?")

    assert "netgpt_call_decision" not in result.response_metadata


def test_a_required_call_is_closed_not_cut_when_the_budget_runs_out(
    edge: HuggingFaceEdgeModel,
) -> None:
    tiny = edge.model_copy(update={"max_new_tokens": 6})

    result = tiny.bind_tools([get_weather], tool_choice="required").invoke(
        "What's the weather like in Lisbon right now?"
    )

    assert [c["name"] for c in result.tool_calls] == ["get_weather"]
    assert isinstance(result.tool_calls[0]["args"]["city"], str)
    assert result.invalid_tool_calls == []
    assert result.response_metadata["netgpt_wrapped_up"] is True


@needs_llama_cpp
def test_both_runtimes_score_the_call_and_answer_openings_alike() -> None:
    # The decision's optional model margin (call opening minus answer opening) is runtime-agnostic.
    turns = [{"role": "user", "content": "What's the weather like in Lisbon right now?"}]
    openings = [CALL_OPENING, ANSWER_OPENING]
    llama = HuggingFaceEdgeModel.from_bundled(backend="llama_cpp").load()
    hf = HuggingFaceEdgeModel.from_bundled(backend="transformers", device="cpu").load()

    in_llama = llama.continuation_logprobs(turns, openings)
    in_transformers = hf.continuation_logprobs(turns, openings)

    assert all(score < 0 for score in in_llama + in_transformers)
    # Q8_0 against de-quantised float32 weights: ~2% apart over the ten tokens of the call opening.
    assert in_llama == pytest.approx(in_transformers, rel=0.05)
    assert (in_llama[0] > in_llama[1]) == (in_transformers[0] > in_transformers[1])
    # The cache is rolled back to the shared prefix after each continuation: scoring again agrees.
    again = llama.continuation_logprobs(turns, openings)
    assert again == pytest.approx(in_llama, abs=1e-3)
