from collections.abc import Sequence

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import ValidationError

from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.edge.call_decision import (
    ANSWER_OPENING,
    CALL_OPENING,
    CallDecisionConfig,
    decide_call,
    decision_features,
    fitted_probability,
    load_fitted_parameters,
)
from langchain_netgpt.edge.tools import ToolSpec

WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
BMI = ToolSpec(
    "determine_body_mass_index",
    "Calculate body mass index given weight and height.",
    {
        "type": "object",
        "properties": {"weight": {"type": "number"}, "height": {"type": "number"}},
    },
)


def test_a_request_a_bound_tool_fits_is_decided_as_a_call() -> None:
    messages = [HumanMessage("What's the weather like in Lisbon right now?")]

    verdict = decide_call(messages, [WEATHER], CallDecisionConfig())

    assert verdict.call
    assert verdict.p_call >= verdict.threshold
    assert verdict.model == "lexical"


def test_a_request_no_bound_tool_fits_is_decided_as_an_answer() -> None:
    messages = [HumanMessage("Write a short poem about the sea.")]

    verdict = decide_call(messages, [BMI], CallDecisionConfig())

    assert not verdict.call
    assert verdict.p_call < verdict.threshold


def test_after_the_only_tool_has_answered_the_edge_answers_from_its_result() -> None:
    messages = [
        HumanMessage("What's the weather like in Lisbon right now?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Lisbon"}, "id": "1"}]),
        ToolMessage("sunny, 21 C", tool_call_id="1"),
    ]

    verdict = decide_call(messages, [WEATHER], CallDecisionConfig())

    assert not verdict.call
    assert verdict.model == "no-pending-tool"


def test_a_new_user_request_makes_an_already_called_tool_a_candidate_again() -> None:
    messages = [
        HumanMessage("What's the weather in Lisbon?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Lisbon"}, "id": "1"}]),
        ToolMessage("sunny", tool_call_id="1"),
        AIMessage("It is sunny in Lisbon."),
        HumanMessage("And what is the weather in Porto?"),
    ]

    assert decide_call(messages, [WEATHER], CallDecisionConfig()).call


@pytest.mark.parametrize(("threshold", "expected"), [(0.0, True), (1.0, False)])
def test_the_configured_threshold_overrides_the_fitted_one(
    threshold: float, expected: bool
) -> None:
    messages = [HumanMessage("What's the weather like in Lisbon right now?")]

    verdict = decide_call(messages, [WEATHER], CallDecisionConfig(threshold=threshold))

    assert verdict.call is expected
    assert verdict.threshold == threshold


def test_a_scorer_is_not_consulted_when_no_margin_model_is_shipped() -> None:
    asked: list[Sequence[str]] = []

    def score(continuations: Sequence[str]) -> list[float]:
        asked.append(continuations)
        return [0.0, 0.0]

    decide_call([HumanMessage("Weather in Lisbon?")], [WEATHER], CallDecisionConfig(), score)

    shipped = "lexical+margin" in load_fitted_parameters()["models"]
    assert asked == ([[CALL_OPENING, ANSWER_OPENING]] if shipped else [])


def test_deciding_with_the_decision_off_is_refused() -> None:
    with pytest.raises(ValueError, match="mode='off'"):
        decide_call([HumanMessage("hi")], [WEATHER], CallDecisionConfig(mode="off"))


def test_tool_name_words_found_in_the_request_raise_the_call_probability() -> None:
    model = load_fitted_parameters()["models"]["lexical"]
    fits = decision_features("weather in Lisbon", [WEATHER])
    misses = decision_features("area of a triangle", [WEATHER])

    assert fits["name_hit"] == 1.0 and misses["name_hit"] == 0.0
    assert fitted_probability(model, fits) > fitted_probability(model, misses)


def test_the_shipped_parameters_carry_their_provenance_and_consistent_shapes() -> None:
    parameters = load_fitted_parameters()
    provenance = parameters["provenance"]

    assert provenance["split"]["seed"] == 14
    assert provenance["split"]["train_tasks"] > 0
    for model in parameters["models"].values():
        n = len(model["features"])
        assert len(model["mean"]) == len(model["scale"]) == len(model["weights"]) == n
        assert 0.0 < model["threshold"] < 1.0


@pytest.mark.parametrize("bad", [{"mode": "always"}, {"threshold": 1.5}, {"treshold": 0.3}])
def test_a_bad_decision_setting_is_rejected_with_its_field_name(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=next(iter(bad))):
        CallDecisionConfig(**bad)  # type: ignore[arg-type]


def test_the_edge_takes_its_decision_setting_as_a_dict_or_a_config() -> None:
    edge = HuggingFaceEdgeModel(model_path="/models/tiny", call_decision={"mode": "off"})  # type: ignore[arg-type]

    assert edge.call_decision == CallDecisionConfig(mode="off")
    assert HuggingFaceEdgeModel(model_path="/m").call_decision.mode == "learned"
