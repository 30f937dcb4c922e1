"""Bad requests get OpenAI-style 4xx JSON errors; model failures 502/503, never a bare 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from langchain_netgpt.cloud import create_app

from .fakes import WEATHER_TOOL, ScriptedToolModel

USER = [{"role": "user", "content": "hi"}]


def chat_client(model: Any) -> TestClient:
    return TestClient(create_app(model, model_name="scripted"), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with chat_client(ScriptedToolModel(script=[AIMessage("ok")])) as test_client:
        yield test_client


def assert_openai_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": USER, **fields}


def weather_tool_with(**function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {**WEATHER_TOOL["function"], **function}}


MALFORMED: dict[str, Any] = {
    "not json": b"{not json",
    "a JSON array": b"[1, 2]",
    "no model": {"messages": USER},
    "no messages": {"model": "m"},
    "empty messages": body(messages=[]),
    "unknown role": body(messages=[{"role": "wizard", "content": "hi"}]),
    "numeric content": body(messages=[{"role": "user", "content": 5}]),
    "image content part": body(
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    ),
    "tool message without tool_call_id": body(messages=[{"role": "tool", "content": "x"}]),
    "string temperature": body(temperature="0.5"),
    "temperature out of range": body(temperature=3),
    "string stream flag": body(stream="yes"),
    "zero max_tokens": body(max_tokens=0),
    "n of 2": body(n=2),
    "five stop sequences": body(stop=["a", "b", "c", "d", "e"]),
    "tool name with spaces": body(tools=[weather_tool_with(name="get weather!")]),
    "tool parameters not an object schema": body(
        tools=[weather_tool_with(parameters={"type": "string"})]
    ),
    "tool properties as a list": body(
        tools=[weather_tool_with(parameters={"type": "object", "properties": [1]})]
    ),
    "tool property of unknown type": body(
        tools=[
            weather_tool_with(parameters={"type": "object", "properties": {"x": {"type": "dict"}}})
        ]
    ),
    "tool type not function": body(tools=[{"type": "retrieval"}]),
    "duplicate tool names": body(tools=[WEATHER_TOOL, WEATHER_TOOL]),
    "tool_choice naming a missing tool": body(
        tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}
    ),
    "tool_choice required without tools": body(tool_choice="required"),
    "assistant arguments not JSON": body(
        messages=[
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{"}}
                ],
            }
        ]
    ),
    "json_object response format": body(response_format={"type": "json_object"}),
    "json_schema format without a schema": body(response_format={"type": "json_schema"}),
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_request_gets_a_400_openai_error(client: TestClient, payload: Any) -> None:
    if isinstance(payload, bytes):
        response = client.post("/v1/chat/completions", content=payload)
    else:
        response = client.post("/v1/chat/completions", json=payload)

    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"


def test_error_names_the_parameter_at_fault(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", json=body(tools=[weather_tool_with(name="get weather!")])
    )

    assert assert_openai_error(response, 400)["param"] == "tools[0].function.name"


def test_error_for_bad_tool_call_arguments_names_the_message(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=MALFORMED["assistant arguments not JSON"])

    param = assert_openai_error(response, 400)["param"]
    assert param == "messages[0].tool_calls[0].function.arguments"


def test_unknown_parameters_are_ignored_like_other_openai_compatible_servers(
    client: TestClient,
) -> None:
    response = client.post("/v1/chat/completions", json=body(logprobs=False, store=False))

    assert response.status_code == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "wizard"]) | JSON
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES},
    optional={
        "content": st.text(max_size=20) | JSON,
        "tool_calls": JSON,
        "tool_call_id": st.text(max_size=5) | JSON,
    },
)
REQUEST = st.fixed_dictionaries(
    {"model": st.text(max_size=5) | JSON, "messages": st.lists(MESSAGE, max_size=3) | JSON},
    optional={
        key: JSON
        for key in (
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "temperature",
            "max_tokens",
            "n",
            "stop",
            "stream_options",
            "response_format",
        )
    }
    | {"stream": st.booleans() | JSON},
)


@settings(max_examples=150, deadline=None)
@given(payload=REQUEST | JSON)
def test_any_json_body_gets_a_json_answer_below_500(client: TestClient, payload: Any) -> None:
    response = client.post("/v1/chat/completions", content=json.dumps(payload))

    assert response.status_code < 500
    if response.headers["content-type"].startswith("application/json"):
        assert "error" in response.json() or "choices" in response.json()
    else:
        assert response.text.rstrip().endswith("data: [DONE]")


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=64))
def test_any_byte_body_gets_a_json_answer_below_500(client: TestClient, raw: bytes) -> None:
    response = client.post("/v1/chat/completions", content=raw)

    assert response.status_code < 500
    assert "error" in response.json() or "choices" in response.json()


def test_model_failure_is_a_generic_502_and_the_details_go_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leak = "CUDA out of memory in /home/alice/models, key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t"
    model = ScriptedToolModel(script=[RuntimeError(leak)])

    with chat_client(model) as client:
        response = client.post("/v1/chat/completions", json=body())

    error = assert_openai_error(response, 502)
    assert "/home/alice" not in error["message"] and "sk-proj" not in error["message"]
    assert error["type"] == "server_error" and "RuntimeError" in error["message"]
    error_id = error["message"].rsplit(" ", 1)[-1]
    assert error_id in caplog.text and "/home/alice/models" in caplog.text
    assert "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t" not in caplog.text  # the log is scrubbed


def test_model_timeout_is_a_503() -> None:
    model = ScriptedToolModel(script=[TimeoutError("generation took too long")])

    with chat_client(model) as client:
        response = client.post("/v1/chat/completions", json=body())

    assert assert_openai_error(response, 503)["code"] == "model_unavailable"


def test_model_failure_before_the_first_chunk_is_a_json_502_not_a_stream() -> None:
    model = ScriptedToolModel(script=[RuntimeError("weights missing")])

    with chat_client(model) as client:
        response = client.post("/v1/chat/completions", json=body(stream=True))

    message = assert_openai_error(response, 502)["message"]
    assert "weights missing" not in message and "error id" in message


class FailsMidStream(ScriptedToolModel):
    def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        yield ChatGenerationChunk(message=AIMessageChunk(content="partial "))
        raise RuntimeError("decoder crashed")


def test_model_failure_mid_stream_ends_the_stream_with_an_error_event() -> None:
    with chat_client(FailsMidStream()) as client:
        response = client.post("/v1/chat/completions", json=body(stream=True))

    last = json.loads(response.text.strip().split("\n\n")[-1].removeprefix("data: "))
    assert response.status_code == 200
    assert "decoder crashed" not in last["error"]["message"]
    assert last["error"]["code"] == "model_error"


class LimitedModel(ScriptedToolModel):
    max_tokens: int = Field(default=16, le=64)


def test_setting_beyond_the_models_own_limit_is_a_400_naming_it() -> None:
    with chat_client(LimitedModel()) as client:
        response = client.post("/v1/chat/completions", json=body(max_completion_tokens=1000))

    assert assert_openai_error(response, 400)["param"] == "max_completion_tokens"
