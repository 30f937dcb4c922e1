"""The stand-in cloud serving the real bundled model to the real ChatOpenAI client over loopback."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from langchain_netgpt.cli import app
from langchain_netgpt.cloud import LocalServer, WanProfile
from langchain_netgpt.edge import HuggingFaceEdgeModel

pytestmark = pytest.mark.integration

RTT_MS = 300.0


class GetWeather(BaseModel):
    """Get the current weather for a city."""

    city: str = Field(description="City name, e.g. Paris")
    unit: Literal["celsius", "fahrenheit"] = Field(description="Temperature unit")


@pytest.fixture(scope="module")
def bundled() -> HuggingFaceEdgeModel:
    model = HuggingFaceEdgeModel.from_bundled(device="cpu", max_new_tokens=32)
    model.load()
    return model


@pytest.fixture(scope="module")
def server(bundled: HuggingFaceEdgeModel) -> Iterator[LocalServer]:
    with LocalServer(bundled, model_name="netgpt-bundled") as running:
        yield running


def chat(server: LocalServer, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="netgpt-bundled",
        base_url=server.base_url,
        api_key="local-stand-in",
        max_retries=0,
        timeout=300,
        **kwargs,
    )


def test_bundled_model_returns_a_schema_valid_weather_tool_call(server: LocalServer) -> None:
    answer = (
        chat(server)
        .bind_tools([GetWeather], tool_choice="required")
        .invoke("What is the weather in Paris, in celsius?")
    )

    assert answer.tool_calls, answer
    call = answer.tool_calls[0]
    assert call["name"] == "GetWeather"
    assert call["id"]
    GetWeather.model_validate(call["args"])  # raises if the arguments break the schema


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


def test_a_weather_question_under_auto_comes_back_as_a_get_weather_call(
    server: LocalServer,
) -> None:
    # tool_choice left unset: ChatOpenAI sends none, the server's edge decides (issue 14).
    answer = (
        chat(server)
        .bind_tools([get_weather])
        .invoke("What's the weather like in Lisbon right now?")
    )

    assert [c["name"] for c in answer.tool_calls] == ["get_weather"], answer
    assert isinstance(answer.tool_calls[0]["args"]["city"], str)


def test_bundled_model_streams_text_in_several_chunks(server: LocalServer) -> None:
    chunks = list(chat(server, max_tokens=12).stream("Say hello to the user."))

    assert len([c for c in chunks if c.content]) > 1
    assert "".join(str(c.content) for c in chunks).strip()


def test_bundled_model_streams_a_schema_valid_tool_call(server: LocalServer) -> None:
    stream = (
        chat(server)
        .bind_tools([GetWeather], tool_choice="required")
        .stream("Weather in Rome in fahrenheit?")
    )
    chunks = list(stream)
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk

    assert merged.tool_calls, merged
    GetWeather.model_validate(merged.tool_calls[0]["args"])


def network_seconds(client: ChatOpenAI, runs: int = 3) -> float:
    """Median of (client-side latency - server compute time) over ``runs`` short calls."""
    client.invoke("Hi")  # warm-up: connection set-up and first-call work
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = client.invoke("Hi")
        total = time.perf_counter() - t0
        server_s = float(answer.response_metadata["headers"]["x-netgpt-server-ms"]) / 1000
        samples.append(total - server_s)
    return statistics.median(samples)


def test_emulated_rtt_shows_in_latency_within_20_percent(bundled: HuggingFaceEdgeModel) -> None:
    kwargs = {"max_tokens": 2, "include_response_headers": True}
    with LocalServer(bundled, model_name="netgpt-bundled") as plain:
        baseline = network_seconds(chat(plain, **kwargs))
    with LocalServer(bundled, model_name="netgpt-bundled", wan=WanProfile(rtt_ms=RTT_MS)) as wan:
        emulated = network_seconds(chat(wan, **kwargs))

    assert emulated - baseline == pytest.approx(RTT_MS / 1000, rel=0.20)


def test_serve_help_describes_the_command() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])

    assert result.exit_code == 0
    assert "OpenAI-compatible" in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_netgpt_serve_command_serves_the_bundled_model_behind_an_emulated_rtt() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from langchain_netgpt.cli import app; app()",
        "serve",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--rtt-ms",
        "100",
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "netgpt serve did not become healthy"
            time.sleep(1)
        client = ChatOpenAI(
            model="netgpt-bundled",
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key="local-stand-in",
            max_tokens=4,
            max_retries=0,
            timeout=300,
        )
        t0 = time.perf_counter()
        answer = client.invoke("Hi")
        assert time.perf_counter() - t0 >= 0.1
        assert isinstance(answer.content, str)
    finally:
        process.terminate()
        process.wait(timeout=30)
