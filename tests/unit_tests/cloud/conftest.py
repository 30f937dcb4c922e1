"""Fixtures for the cloud tests: scripted models to serve."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from .fakes import ScriptedToolModel, weather_call


@pytest.fixture
def text_model() -> ScriptedToolModel:
    return ScriptedToolModel(script=[AIMessage("the answer is 42")])


@pytest.fixture
def tool_model() -> ScriptedToolModel:
    return ScriptedToolModel(script=[weather_call()])
