"""``tgi_edge`` (ChatHuggingFace over HuggingFaceEndpoint) against ``netgpt serve`` serving the real
bundled model on loopback, under ``HF_HUB_OFFLINE=1``, with every ``tool_choice`` form.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.edge import HuggingFaceEdgeModel, tgi_edge

pytest.importorskip("langchain_huggingface")
pytestmark = pytest.mark.integration


class GetWeather(BaseModel):
    """Get the current weather for a city."""

    city: str = Field(description="City name, e.g. Paris")
    unit: Literal["celsius", "fahrenheit"] = Field(description="Temperature unit")


class Add(BaseModel):
    """Add two integers."""

    a: int
    b: int


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    model = HuggingFaceEdgeModel.from_bundled(device="cpu", max_new_tokens=128)
    model.load()
    with LocalServer(model, model_name="smollm2-tgi") as running:
        yield running


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("any", None),
        ({"type": "function", "function": {"name": "GetWeather"}}, "GetWeather"),
        # The other spellings reach the server as the same request (unit-tested); on the real
        # model they run with the slow tests.
        pytest.param("required", None, marks=pytest.mark.slow),
        pytest.param(True, None, marks=pytest.mark.slow),
        pytest.param("Add", "Add", marks=pytest.mark.slow),
    ],
)
def test_forced_tool_choices_yield_schema_valid_calls_from_the_served_model(
    server: LocalServer, choice: Any, expected: str | None
) -> None:
    edge = tgi_edge(server.url, max_new_tokens=128)
    reply = edge.bind_tools([GetWeather, Add], tool_choice=choice).invoke(
        "What is the weather in Paris, in celsius?"
    )
    assert reply.tool_calls, reply
    call = reply.tool_calls[0]
    if expected is not None:
        assert call["name"] == expected
    schema = {"GetWeather": GetWeather, "Add": Add}[call["name"]]
    schema.model_validate(call["args"])  # raises if the arguments break the schema


@pytest.mark.slow
def test_tool_choice_none_answers_in_text(server: LocalServer) -> None:
    edge = tgi_edge(server.url, max_new_tokens=16)
    reply = edge.bind_tools([GetWeather], tool_choice="none").invoke("Say hello.")
    assert not reply.tool_calls and str(reply.content).strip()
