"""``tgi_edge``: ChatHuggingFace over HuggingFaceEndpoint against a loopback TGI-compatible server.

The server is the real ``netgpt serve`` app on loopback (``LocalServer``) speaking the Messages
API; the model it serves is scripted (the boundary). ``HF_HUB_OFFLINE=1`` is set, as in CI.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from huggingface_hub.errors import OfflineModeIsEnabled
from pydantic import BaseModel

from langchain_netgpt.cloud.local import LocalServer
from langchain_netgpt.edge import tgi_edge
from langchain_netgpt.edge.remote import _tgi_chat_class, normalize_tgi_tool_choice
from langchain_netgpt.errors import MissingExtraError
from tests.unit_tests.cloud.fakes import ScriptedToolModel, weather_call

pytest.importorskip("langchain_huggingface")


class GetWeather(BaseModel):
    """Current weather for a city."""

    city: str


class Add(BaseModel):
    """Add two integers."""

    a: int
    b: int


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def served() -> ScriptedToolModel:
    return ScriptedToolModel(script=[weather_call()])


@pytest.fixture
def server(served: ScriptedToolModel) -> Iterator[LocalServer]:
    with LocalServer(served, model_name="tgi-stand-in") as running:
        yield running


@pytest.mark.parametrize(
    ("choice", "served_choice"),
    [
        ("auto", "auto"),
        ("any", "any"),
        ("required", "any"),
        (True, "any"),
        ("GetWeather", "GetWeather"),
        ({"type": "function", "function": {"name": "GetWeather"}}, "GetWeather"),
        (None, None),
    ],
)
def test_every_tool_choice_form_reaches_the_server_with_two_tools(
    server: LocalServer, served: ScriptedToolModel, choice: Any, served_choice: str | None
) -> None:
    edge = tgi_edge(server.url, max_new_tokens=64)
    reply = edge.bind_tools([GetWeather, Add], tool_choice=choice).invoke("Weather in Paris?")
    assert reply.tool_calls[0]["name"] == "get_weather"
    assert reply.tool_calls[0]["args"] == {"city": "Paris"}
    assert served.calls[-1].get("tool_choice") == served_choice
    assert [t["function"]["name"] for t in served.calls[-1]["tools"]] == ["GetWeather", "Add"]


def test_tool_choice_none_keeps_the_tools_from_the_served_model(
    server: LocalServer, served: ScriptedToolModel
) -> None:
    tgi_edge(server.url).bind_tools([GetWeather], tool_choice="none").invoke("Hi")
    assert "tools" not in served.calls[-1]


async def test_async_and_streamed_calls_carry_the_tool_call(server: LocalServer) -> None:
    bound = tgi_edge(server.url).bind_tools([GetWeather, Add], tool_choice="any")
    reply = await bound.ainvoke("Weather in Paris?")
    chunks = list(bound.stream("Weather in Paris?"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert reply.tool_calls[0]["args"] == merged.tool_calls[0]["args"] == {"city": "Paris"}


def test_other_hosts_stay_offline(server: LocalServer) -> None:
    from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

    tgi_edge(server.url)  # registers this endpoint only
    other = f"http://localhost:{server.port}"  # another origin (by name) for the same server
    plain = ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=other))
    with pytest.raises(OfflineModeIsEnabled):
        plain.invoke("Hi")


def test_the_router_routes_to_a_tgi_edge(server: LocalServer) -> None:
    from langchain_netgpt import NetGPTRouter
    from langchain_netgpt.routing import AlwaysEdge
    from langchain_netgpt.testing import ScriptedChatModel

    router = NetGPTRouter(
        edge=tgi_edge(server.url), cloud=ScriptedChatModel(responses=["cloud"]), policy=AlwaysEdge()
    )
    reply = router.bind_tools([GetWeather], tool_choice="any").invoke("Weather in Paris?")
    assert reply.response_metadata["netgpt"]["target"] == "edge"
    assert reply.tool_calls[0]["args"] == {"city": "Paris"}


@pytest.mark.parametrize(
    ("choice", "error", "message"),
    [
        ("Sub", ValueError, "'Sub', which is not a bound tool"),
        ({"type": "function", "function": {"name": "Sub"}}, ValueError, "not a bound tool"),
        (3, TypeError, "tool_choice must be"),
    ],
)
def test_a_bad_tool_choice_is_refused_naming_it(
    choice: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        normalize_tgi_tool_choice(choice, ["GetWeather", "Add"])


def test_a_forced_choice_without_tools_is_refused() -> None:
    with pytest.raises(ValueError, match="needs at least one bound tool"):
        normalize_tgi_tool_choice("any", [])


def test_a_non_http_endpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="endpoint_url must be an http"):
        tgi_edge("edge-box:8080")


def test_without_langchain_huggingface_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_huggingface", None)
    _tgi_chat_class.cache_clear()
    try:
        with pytest.raises(MissingExtraError, match=r"langchain-netgpt\[tgi\]"):
            tgi_edge("http://127.0.0.1:8080")
    finally:
        _tgi_chat_class.cache_clear()
