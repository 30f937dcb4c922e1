"""The shipped fakes pass LangChain's standard unit tests too (users build on them)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_netgpt.testing import ConstantScorer, ScriptedChatModel, tool_call


class TestScriptedChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ScriptedChatModel]:
        return ScriptedChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"responses": ["hello"], "model_name": "scripted"}

    @property
    def has_tool_calling(self) -> bool:
        return True


def test_script_cycles_and_raises_scripted_exceptions() -> None:
    model = ScriptedChatModel(responses=["a", ValueError("boom")])
    assert model.invoke("x").content == "a"
    with pytest.raises(ValueError, match="boom"):
        model.invoke("y")
    assert model.invoke("z").content == "a"
    assert len(model.calls) == 3


def test_script_without_cycle_repeats_the_last_entry() -> None:
    model = ScriptedChatModel(responses=["a", "b"], cycle=False)
    assert [model.invoke("q").content for _ in range(3)] == ["a", "b", "b"]


def test_callables_in_the_script_see_the_messages() -> None:
    model = ScriptedChatModel(responses=[lambda msgs: f"you said {msgs[-1].content}"])
    assert model.invoke("hi").content == "you said hi"


def test_streamed_tool_calls_merge_back_into_the_call() -> None:
    model = ScriptedChatModel(responses=[tool_call("add", {"a": 1})])
    chunks = list(model.stream("x"))
    merged = chunks[0]
    for c in chunks[1:]:
        merged += c
    assert merged.tool_calls[0]["name"] == "add" and merged.tool_calls[0]["args"] == {"a": 1}


def test_constant_scorer_checks_its_range() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ConstantScorer(1.2)
