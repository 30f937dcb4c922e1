"""GRPO reward functions on hand-written right and wrong completions (no model)."""

from __future__ import annotations

import json

import pytest

from langchain_netgpt.learn.rewards import (
    EscalationAwareReward,
    agreement_reward,
    combined_reward,
    schema_validity_reward,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city"],
        },
    },
}
TOOLS = json.dumps([WEATHER])
REFERENCE = json.dumps([{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}])
RIGHT = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}]}'
HALF_RIGHT = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 5}}]}'
ESCALATE = '{"escalate": true, "reason": "too hard"}'


def _validity(*completions: str) -> list[float]:
    n = len(completions)
    return schema_validity_reward(["p"] * n, list(completions), tools=[TOOLS] * n)


def _agreement(*completions: str, reference: str = REFERENCE) -> list[float]:
    n = len(completions)
    return agreement_reward(["p"] * n, list(completions), reference_calls=[reference] * n)


def test_a_valid_tool_call_document_scores_full_validity() -> None:
    assert _validity(RIGHT) == [1.0]


def test_answers_and_escalations_are_valid_edge_documents() -> None:
    assert _validity('{"answer": "It is sunny."}', ESCALATE) == [1.0, 1.0]


def test_free_text_and_trailing_text_are_invalid() -> None:
    assert _validity("Sure, calling get_weather now.", RIGHT + " and more") == [0.0, 0.0]


def test_arguments_that_break_the_schema_get_partial_validity() -> None:
    wrong_type = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": 7}}]}'
    unknown = '{"tool_calls": [{"name": "get_time", "arguments": {}}]}'
    one_of_two = (
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}, '
        '{"name": "get_weather", "arguments": {"days": 0}}]}'
    )
    assert _validity(wrong_type, unknown, one_of_two) == [0.0, 0.0, 0.25]


def test_tools_may_be_given_as_lists_and_completions_as_messages() -> None:
    completion = [{"role": "assistant", "content": RIGHT}]
    rewards = schema_validity_reward(["p"], [completion], tools=[[WEATHER]])
    assert rewards == [1.0]


def test_the_exact_reference_call_scores_full_agreement() -> None:
    assert _agreement(RIGHT) == [1.0]


def test_agreement_gives_partial_credit_per_argument() -> None:
    # name right (0.5) + one of two arguments right (0.5 * 1/2)
    assert _agreement(HALF_RIGHT) == [0.75]


def test_string_arguments_agree_ignoring_case_and_numbers_by_value() -> None:
    loose = (
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": " paris", "days": 3.0}}]}'
    )
    assert _agreement(loose) == [1.0]


def test_extra_calls_and_wrong_tools_cost_agreement() -> None:
    call = {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}
    twice = json.dumps({"tool_calls": [call, call]})
    wrong_tool = '{"tool_calls": [{"name": "get_time", "arguments": {"city": "Paris"}}]}'
    assert _agreement(twice, wrong_tool) == [0.5, 0.0]


def test_a_text_reference_rewards_an_answer_not_a_call() -> None:
    assert _agreement('{"answer": "hello"}', RIGHT, reference="[]") == [1.0, 0.0]


def test_combined_reward_weighs_validity_and_agreement() -> None:
    rewards = combined_reward(
        ["p"] * 3,
        [RIGHT, HALF_RIGHT, "no json"],
        tools=[TOOLS] * 3,
        reference_calls=[REFERENCE] * 3,
    )
    assert rewards == pytest.approx([1.0, 0.3 + 0.7 * 0.75, 0.0])


def test_a_missing_column_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="reference_calls"):
        agreement_reward(["p"], [RIGHT], tools=[TOOLS])


def _escalation(
    reward: EscalationAwareReward, prompts: list[str], completions: list[str], **columns: list[bool]
) -> list[float]:
    n = len(completions)
    return reward(
        prompts, completions, tools=[TOOLS] * n, reference_calls=[REFERENCE] * n, **columns
    )


def test_escalating_is_rewarded_where_the_edge_failed_and_penalised_where_it_succeeded() -> None:
    reward = EscalationAwareReward(cloud_share_cap=1.0)
    rewards = _escalation(reward, ["a", "b"], [ESCALATE, ESCALATE], edge_failed=[True, False])
    assert rewards == [1.0, -0.5]


def test_without_an_edge_failed_column_the_group_decides() -> None:
    reward = EscalationAwareReward(cloud_share_cap=1.0)
    # prompt "easy": a sibling completion got the call right, so escalating there was wrong;
    # prompt "hard": no sibling did better than free text, so escalating was right.
    prompts = ["easy", "easy", "hard", "hard"]
    completions = [RIGHT, ESCALATE, "no idea", ESCALATE]
    assert _escalation(reward, prompts, completions) == [1.0, -0.5, 0.0, 1.0]


def test_escalating_beyond_the_cloud_cap_costs_extra() -> None:
    reward = EscalationAwareReward(cloud_share_cap=0.25, over_cap_penalty=0.4)
    rewards = _escalation(reward, ["a", "b"], [ESCALATE, RIGHT], edge_failed=[True, True])
    assert rewards == pytest.approx([0.6, 1.0])


def test_escalation_reward_rejects_a_cap_above_one() -> None:
    with pytest.raises(ValueError, match="cloud_share_cap"):
        EscalationAwareReward(cloud_share_cap=1.5)
