"""The real ChatOpenAI client against LocalServer over a loopback socket."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from langchain_netgpt.cloud import LocalServer, WanProfile
from langchain_netgpt.errors import CloudUnavailableError

from .fakes import ScriptedToolModel, weather_call


class GetWeather(BaseModel):
    """Current weather in a city."""

    city: str = Field(description="City name")


def client_for(server: LocalServer) -> ChatOpenAI:
    return ChatOpenAI(
        model="scripted", base_url=server.base_url, api_key="local", max_retries=0, timeout=10
    )


@pytest.fixture
def text_server() -> Iterator[LocalServer]:
    model = ScriptedToolModel(script=[AIMessage("the answer is 42")])
    with LocalServer(model, model_name="scripted") as server:
        yield server


@pytest.fixture
def tool_server() -> Iterator[LocalServer]:
    with LocalServer(ScriptedToolModel(script=[weather_call()]), model_name="scripted") as server:
        yield server


def test_base_url_is_the_loopback_v1_root(text_server: LocalServer) -> None:
    assert text_server.base_url == f"http://127.0.0.1:{text_server.port}/v1"


def test_chat_openai_invoke_returns_the_models_answer(text_server: LocalServer) -> None:
    answer = client_for(text_server).invoke("What is the answer?")

    assert answer.content == "the answer is 42"
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] == 10


def test_chat_openai_stream_yields_the_answer_in_pieces(text_server: LocalServer) -> None:
    chunks = list(client_for(text_server).stream("What is the answer?"))

    assert len([c for c in chunks if c.content]) > 1
    assert "".join(str(c.content) for c in chunks) == "the answer is 42"


async def test_chat_openai_async_invoke_works(text_server: LocalServer) -> None:
    answer = await client_for(text_server).ainvoke("What is the answer?")

    assert answer.content == "the answer is 42"


def test_chat_openai_gets_tool_calls_from_bound_tools(tool_server: LocalServer) -> None:
    answer = client_for(tool_server).bind_tools([GetWeather]).invoke("Weather in Paris?")

    [call] = answer.tool_calls
    assert (call["name"], call["args"], call["id"]) == (
        "get_weather",
        {"city": "Paris"},
        "call_weather_1",
    )


def test_chat_openai_streamed_tool_calls_merge_into_one_call(tool_server: LocalServer) -> None:
    chunks = list(client_for(tool_server).bind_tools([GetWeather]).stream("Weather in Paris?"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk

    assert merged.tool_calls[0]["name"] == "get_weather"
    assert merged.tool_calls[0]["args"] == {"city": "Paris"}


def test_model_failure_reaches_the_client_as_an_api_error_without_its_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = ScriptedToolModel(script=[RuntimeError("model exploded in /srv/weights")])
    with LocalServer(model) as server:
        with pytest.raises(Exception, match="error id") as caught:
            client_for(server).invoke("hi")

    assert getattr(caught.value, "status_code", None) == 502
    assert "/srv/weights" not in str(caught.value)
    assert "model exploded in /srv/weights" in caplog.text  # the server log has the details


def median_latency_s(chat: ChatOpenAI, runs: int = 3) -> float:
    chat.invoke("warm-up")  # connection set-up is not part of the per-request cost
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        chat.invoke("What is the answer?")
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def test_emulated_rtt_shows_in_measured_latency_within_20_percent() -> None:
    model = ScriptedToolModel(script=[AIMessage("ok")])
    with LocalServer(model) as plain:
        baseline = median_latency_s(client_for(plain))
    with LocalServer(model, wan=WanProfile(rtt_ms=300)) as shaped:
        emulated = median_latency_s(client_for(shaped))

    assert emulated - baseline == pytest.approx(0.300, rel=0.20)


def test_emulated_rtt_delays_the_first_streamed_chunk() -> None:
    model = ScriptedToolModel(script=[AIMessage("one two three")])
    with LocalServer(model, wan=WanProfile(rtt_ms=200)) as server:
        chat = client_for(server)
        chat.invoke("warm-up")
        t0 = time.perf_counter()
        stream = chat.stream("go")
        next(stream)
        first_s = time.perf_counter() - t0
        list(stream)

    assert first_s >= 0.2


def test_stop_shuts_the_server_down() -> None:
    server = LocalServer(ScriptedToolModel()).start()
    url = server.url
    server.stop()

    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=1)


def test_port_is_unavailable_before_start() -> None:
    with pytest.raises(CloudUnavailableError, match="not running"):
        _ = LocalServer(ScriptedToolModel()).port


def test_busy_port_is_reported_as_cloud_unavailable(text_server: LocalServer) -> None:
    clash = LocalServer(ScriptedToolModel(), port=text_server.port)

    with pytest.raises(CloudUnavailableError, match="cannot bind"):
        clash.start()


def test_trace_capacity_governs_the_latency_over_the_socket(tmp_path: Path) -> None:
    trace = tmp_path / "one-packet-every-200ms.down"
    trace.write_text("200\n")  # a 1500-byte delivery opportunity every 200 ms (60 kbit/s)
    model = ScriptedToolModel(script=[AIMessage("ok")])
    with LocalServer(model, wan=WanProfile(trace_down=trace)) as server:
        chat = client_for(server)
        t0 = time.perf_counter()
        chat.invoke("hi")  # request: 1 packet up; response: headers then body, 1 packet each
        elapsed = time.perf_counter() - t0

    assert 0.2 <= elapsed < 0.6 + 0.5
