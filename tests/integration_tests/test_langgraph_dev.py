"""``langgraph dev`` serves graphs/agent.py with every ``.env.example`` option set.

A real ``langgraph dev`` (langgraph-cli[inmem], with its blocking-call detector) serves the
deployable graph; the cloud is a real OpenAI-compatible server on loopback (``LocalServer``, what
``netgpt serve`` runs) serving a scripted model, and ``NETGPT_CONFIG`` routes every step to it, so
no model weights load. The run must answer, write its traces to the JSONL file and the SQLite
store, and a server without a cloud must stop at start-up naming the variables to set.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import TraceStore, read_jsonl_traces

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).parent / "langgraph"
ANSWER = "The capital of France is Paris."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A langgraph.json naming this repository's graph, with its own .env."""
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    config = {
        "dependencies": [str(ROOT)],
        "graphs": {"agent": f"{ROOT / 'graphs' / 'agent.py'}:make_graph"},
        "env": str(tmp_path / ".env"),
    }
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def _start(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    if not LANGGRAPH.exists() and shutil.which("langgraph") is None:
        pytest.skip("langgraph-cli[inmem] is not installed")
    command = [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--port", str(port)]
    # Only the project's .env configures the graph: none of the caller's cloud variables.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("NETGPT_") and k != "OPENAI_API_KEY"
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--config", str(config)],
            cwd=config.parent,
            env=env,
            stdout=out,
            stderr=out,
        )


@pytest.fixture
def cloud() -> Iterator[LocalServer]:
    model = ScriptedChatModel(responses=[ANSWER] * 20)
    with LocalServer(model, model_name="scripted-cloud") as server:
        yield server


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"langgraph dev exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"langgraph dev did not start:\n{log.read_text()[-3000:]}")


async def _runs(url: str) -> tuple[dict[str, Any], list[str]]:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    thread = await client.threads.create()
    ask = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
    state = await client.runs.wait(thread["thread_id"], "agent", input=ask)
    events = []
    streamed = await client.threads.create()
    async for part in client.runs.stream(
        streamed["thread_id"], "agent", input=ask, stream_mode="messages-tuple"
    ):
        events.append(part.event)
    assert isinstance(state, dict)
    return state, events


def test_langgraph_dev_runs_the_routed_agent_with_every_env_option(
    tmp_path: Path, cloud: LocalServer
) -> None:
    routing = tmp_path / "netgpt.yaml"
    routing.write_text(
        "policy: always-cloud\ntool_choice: auto\nretry: {attempts: 2}\n"
        "circuit_breaker: {failure_threshold: 3}\nbudget: {max_cloud_share: 1.0}\n"
    )
    env = {
        "OPENAI_API_KEY": "",
        "NETGPT_CLOUD_BASE_URL": cloud.base_url,
        "NETGPT_SERVE_API_KEY": cloud.api_key,
        "NETGPT_CLOUD_MODEL": "scripted-cloud",
        "NETGPT_TRACES": str(tmp_path / "traces" / "routes.jsonl"),
        "NETGPT_STORE": str(tmp_path / "store" / "traces.db"),
        "NETGPT_CONFIG": str(routing),
        "NETGPT_STEP_TIMEOUT_S": "30",
        "NETGPT_STEP_DEADLINE_S": "60",
    }
    port, log = _free_port(), tmp_path / "dev.log"
    process = _start(_project(tmp_path, env), port, log)
    try:
        _wait_ready(process, port, log)
        state, events = asyncio.run(_runs(f"http://127.0.0.1:{port}"))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "__error__" not in state, state
    assert state["messages"][-1]["content"] == ANSWER
    assert state["netgpt_route"]["target"] == "cloud"
    assert "error" not in events and "messages" in " ".join(events)
    assert "Blocking call" not in log.read_text()
    assert len(list(read_jsonl_traces(tmp_path / "traces" / "routes.jsonl"))) == 2
    assert TraceStore(tmp_path / "store" / "traces.db").count() == 2


def test_langgraph_dev_without_a_cloud_stops_at_start_up_naming_what_to_set(
    tmp_path: Path,
) -> None:
    port, log = _free_port(), tmp_path / "dev.log"
    process = _start(_project(tmp_path, {"OPENAI_API_KEY": ""}), port, log)
    try:
        code = process.wait(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert code != 0
    text = log.read_text()
    assert "needs a cloud model: set OPENAI_API_KEY" in text and "NETGPT_CLOUD_BASE_URL" in text
