"""The app speaks OpenAI's chat-completions format (driven in-process, no socket)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_netgpt.cloud import create_app

from .fakes import WEATHER_TOOL, ScriptedToolModel

USER = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture
async def client_for() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(model: ScriptedToolModel, **kwargs: Any) -> httpx.AsyncClient:
        app = create_app(model, model_name="scripted", **kwargs)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def sse_events(response: httpx.Response) -> list[Any]:
    events = []
    for block in response.text.split("\n\n"):
        if block.startswith("data: "):
            payload = block[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


async def test_plain_answer_is_a_chat_completion(client_for: Any, text_model: Any) -> None:
    response = await client_for(text_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER}
    )

    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion"
    assert body["model"] == "scripted"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "the answer is 42"}
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_usage_comes_from_the_models_usage_metadata(client_for: Any, text_model: Any) -> None:
    response = await client_for(text_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER}
    )

    assert response.json()["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
    }


async def test_response_reports_the_server_compute_time(client_for: Any) -> None:
    slow = ScriptedToolModel(script=[AIMessage("ok")], delay_s=0.05)

    response = await client_for(slow).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER}
    )

    assert float(response.headers["x-netgpt-server-ms"]) >= 50


async def test_tool_call_comes_back_with_id_name_and_json_arguments(
    client_for: Any, tool_model: ScriptedToolModel
) -> None:
    response = await client_for(tool_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER, "tools": [WEATHER_TOOL]}
    )

    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "call_weather_1"
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


async def test_tools_are_bound_to_the_model_in_openai_format(
    client_for: Any, tool_model: ScriptedToolModel
) -> None:
    await client_for(tool_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER, "tools": [WEATHER_TOOL]}
    )

    [call] = tool_model.calls
    assert call["tools"] == [WEATHER_TOOL]


@pytest.mark.parametrize(
    ("openai_choice", "langchain_choice"),
    [
        ("auto", "auto"),
        ("required", "any"),
        ({"type": "function", "function": {"name": "get_weather"}}, "get_weather"),
    ],
)
async def test_tool_choice_is_translated_for_bind_tools(
    client_for: Any, tool_model: ScriptedToolModel, openai_choice: Any, langchain_choice: str
) -> None:
    await client_for(tool_model).post(
        "/v1/chat/completions",
        json={
            "model": "any",
            "messages": USER,
            "tools": [WEATHER_TOOL],
            "tool_choice": openai_choice,
        },
    )

    assert tool_model.calls[0]["tool_choice"] == langchain_choice


async def test_tool_choice_none_keeps_the_tools_from_the_model(
    client_for: Any, tool_model: ScriptedToolModel
) -> None:
    await client_for(tool_model).post(
        "/v1/chat/completions",
        json={"model": "any", "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "none"},
    )

    assert "tools" not in tool_model.calls[0]


async def test_parallel_tool_calls_false_returns_only_the_first_call(client_for: Any) -> None:
    two = AIMessage(
        "",
        tool_calls=[
            {"name": "get_weather", "args": {"city": "Paris"}, "id": "a"},
            {"name": "get_weather", "args": {"city": "Rome"}, "id": "b"},
        ],
    )
    model = ScriptedToolModel(script=[two])

    response = await client_for(model).post(
        "/v1/chat/completions",
        json={
            "model": "any",
            "messages": USER,
            "tools": [WEATHER_TOOL],
            "parallel_tool_calls": False,
        },
    )

    assert [c["id"] for c in response.json()["choices"][0]["message"]["tool_calls"]] == ["a"]


async def test_conversation_history_reaches_the_model_as_langchain_messages(
    client_for: Any, text_model: ScriptedToolModel
) -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]

    await client_for(text_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": history}
    )

    system, user, assistant, tool = text_model.calls[0]["messages"]
    assert isinstance(system, SystemMessage) and system.content == "Be brief."
    assert isinstance(user, HumanMessage) and user.content == "Weather in Paris?"
    assert isinstance(assistant, AIMessage)
    assert assistant.tool_calls[0]["args"] == {"city": "Paris"}
    assert assistant.tool_calls[0]["id"] == "call_1"
    assert isinstance(tool, ToolMessage) and tool.tool_call_id == "call_1"


async def test_sampling_settings_reach_models_that_declare_them(
    client_for: Any, text_model: ScriptedToolModel
) -> None:
    await client_for(text_model).post(
        "/v1/chat/completions",
        json={"model": "any", "messages": USER, "temperature": 0.7, "max_completion_tokens": 5},
    )

    assert text_model.calls[0]["temperature"] == 0.7
    assert text_model.calls[0]["max_tokens"] == 5


async def test_stop_sequences_reach_the_model(
    client_for: Any, text_model: ScriptedToolModel
) -> None:
    await client_for(text_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER, "stop": "\n\n"}
    )

    assert text_model.calls[0]["stop"] == ["\n\n"]


async def test_stream_sends_role_then_content_deltas_then_done(
    client_for: Any, text_model: ScriptedToolModel
) -> None:
    response = await client_for(text_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER, "stream": True}
    )

    events = sse_events(response)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert text == "the answer is 42"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1] == "[DONE]"


async def test_stream_tool_call_deltas_assemble_into_the_call(
    client_for: Any, tool_model: ScriptedToolModel
) -> None:
    response = await client_for(tool_model).post(
        "/v1/chat/completions",
        json={"model": "any", "messages": USER, "tools": [WEATHER_TOOL], "stream": True},
    )

    deltas = [
        d
        for e in sse_events(response)[:-1]
        for d in e["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert {d["index"] for d in deltas} == {0}
    assert deltas[0]["id"] == "call_weather_1"
    assert deltas[0]["function"]["name"] == "get_weather"
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments) == {"city": "Paris"}
    assert sse_events(response)[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_ends_with_a_usage_chunk_when_asked(
    client_for: Any, text_model: ScriptedToolModel
) -> None:
    response = await client_for(text_model).post(
        "/v1/chat/completions",
        json={
            "model": "any",
            "messages": USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )

    usage_chunk = sse_events(response)[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] == 10


async def test_json_schema_response_format_answers_with_matching_json(client_for: Any) -> None:
    answer = AIMessage(
        "", tool_calls=[{"name": "city_answer", "args": {"city": "Paris"}, "id": "c1"}]
    )
    model = ScriptedToolModel(script=[answer])
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "city_answer",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }

    response = await client_for(model).post(
        "/v1/chat/completions",
        json={"model": "any", "messages": USER, "response_format": response_format},
    )

    assert json.loads(response.json()["choices"][0]["message"]["content"]) == {"city": "Paris"}


async def test_models_endpoint_lists_the_served_model(client_for: Any, text_model: Any) -> None:
    response = await client_for(text_model).get("/v1/models")

    assert [m["id"] for m in response.json()["data"]] == ["scripted"]


async def test_health_endpoint_answers_ok(client_for: Any, text_model: Any) -> None:
    response = await client_for(text_model).get("/health")

    assert response.json() == {"status": "ok", "model": "scripted"}


async def test_unknown_path_is_a_json_404(client_for: Any, text_model: Any) -> None:
    response = await client_for(text_model).post("/v1/completions", json={})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_max_concurrency_one_serialises_model_calls(client_for: Any) -> None:
    model = ScriptedToolModel(script=[AIMessage("ok")], delay_s=0.1)
    client = client_for(model, max_concurrency=1)

    t0 = time.perf_counter()
    responses = await asyncio.gather(
        *(client.post("/v1/chat/completions", json={"model": "m", "messages": USER}) for _ in "ab")
    )
    elapsed = time.perf_counter() - t0

    assert [r.status_code for r in responses] == [200, 200]
    assert elapsed >= 0.2


@pytest.mark.parametrize(
    ("choice", "langchain_choice"),
    [
        ("any", "any"),  # LangChain's spelling of "required"
        ({"function": {"name": "get_weather"}}, "get_weather"),  # TGI's form, no "type"
        (WEATHER_TOOL, "get_weather"),  # ChatHuggingFace's tool_choice=True: the whole tool
    ],
)
async def test_langchain_and_tgi_tool_choice_forms_are_accepted(
    client_for: Any, tool_model: ScriptedToolModel, choice: Any, langchain_choice: str
) -> None:
    response = await client_for(tool_model).post(
        "/v1/chat/completions",
        json={"model": "any", "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": choice},
    )
    assert response.status_code == 200, response.text
    assert tool_model.calls[0]["tool_choice"] == langchain_choice


async def test_tool_choice_any_without_tools_is_a_400_naming_it(
    client_for: Any, tool_model: ScriptedToolModel
) -> None:
    response = await client_for(tool_model).post(
        "/v1/chat/completions", json={"model": "any", "messages": USER, "tool_choice": "any"}
    )
    assert response.status_code == 400
    assert "tool_choice 'any' needs a non-empty tools list" in response.json()["error"]["message"]
