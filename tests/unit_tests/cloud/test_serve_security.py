"""`netgpt serve` hardening, against real loopback servers: API key, Host check, size and time
limits, generic errors. The real ``ChatOpenAI`` client still works with the key."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import ValidationError

from langchain_netgpt.cloud import LocalServer, ServeSecurity, local_cloud
from langchain_netgpt.cloud.security import API_KEY_ENV
from langchain_netgpt.cloud.wan import WanProfile

from .fakes import ScriptedToolModel

KEY = "serve-key-0123456789"


def _model() -> ScriptedToolModel:
    return ScriptedToolModel(script=[AIMessage("the answer is 42")])


@pytest.fixture
def keyed() -> Iterator[LocalServer]:
    security = ServeSecurity(
        api_key=KEY, max_body_bytes=100_000, header_timeout_s=0.5, body_timeout_s=0.5
    )
    with LocalServer(_model(), model_name="scripted", security=security) as server:
        yield server


def _reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (it sends Connection: close)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _chat(server: LocalServer, key: str) -> ChatOpenAI:
    return ChatOpenAI(
        model="scripted", base_url=server.base_url, api_key=key, max_retries=0, timeout=10
    )


def test_chat_openai_with_the_key_is_served(keyed: LocalServer) -> None:
    assert _chat(keyed, KEY).invoke("hi").content == "the answer is 42"
    assert keyed.api_key == KEY


@pytest.mark.parametrize("key", ["wrong-key-0123456789", "local-stand-in"])
def test_a_wrong_key_is_refused_with_401(keyed: LocalServer, key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _chat(keyed, key).invoke("hi")
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


def test_health_is_open_and_everything_else_needs_the_key(keyed: LocalServer) -> None:
    assert httpx.get(f"{keyed.url}/health").status_code == 200
    response = httpx.get(f"{keyed.base_url}/models")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    authorized = httpx.get(f"{keyed.base_url}/models", headers={"authorization": f"Bearer {KEY}"})
    assert authorized.status_code == 200


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    with LocalServer(_model(), model_name="scripted") as server:
        assert httpx.get(f"{server.base_url}/models").status_code == 401
        assert server.api_key == KEY
    # local_cloud passes the key it set up: the client just works.
    with local_cloud(_model(), wan=WanProfile(), model_name="scripted") as cloud:
        assert cloud.invoke("hi").content == "the answer is 42"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "10.0.0.1"])
def test_a_foreign_host_header_is_refused_dns_rebinding(keyed: LocalServer, host: str) -> None:
    response = httpx.get(f"{keyed.url}/health", headers={"host": host})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_host"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:9", "[::1]:8000"])
def test_loopback_host_names_are_accepted(keyed: LocalServer, host: str) -> None:
    assert httpx.get(f"{keyed.url}/health", headers={"host": host}).status_code == 200


def test_allowed_hosts_can_be_named_or_opened() -> None:
    named = ServeSecurity(allowed_hosts=("api.example.com",))
    assert named.hosts_for("127.0.0.1") == frozenset({"api.example.com"})
    assert ServeSecurity(allowed_hosts=("*",)).hosts_for("127.0.0.1") is None
    with pytest.raises(ValidationError):
        ServeSecurity(api_key="short")


def test_a_declared_oversized_body_is_refused_before_it_is_read(keyed: LocalServer) -> None:
    # 50 MB declared, a few bytes sent: the server answers 413 at once, reading nothing more.
    with socket.create_connection(("127.0.0.1", keyed.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {KEY}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"
        )
        reply = _reply(sock)
    assert reply.startswith(b"HTTP/1.1 413") and b"body_too_large" in reply


def test_a_chunked_body_past_the_limit_is_refused(keyed: LocalServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b"x" * 10_000

    response = httpx.post(
        f"{keyed.base_url}/chat/completions",
        content=chunks(),
        headers={"authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 413


def test_a_body_that_never_finishes_gets_408(keyed: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", keyed.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {KEY}\r\n".encode()
            + b'Content-Length: 100\r\n\r\n{"model"'
        )
        reply = _reply(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"did not arrive" in reply


def test_300_slow_header_sockets_are_all_closed_by_the_header_timeout(keyed: LocalServer) -> None:
    sockets = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", keyed.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sockets.append(sock)
        deadline = time.monotonic() + 10
        closed = 0
        for sock in sockets:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                closed += sock.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                closed += 0
        assert closed == 300
    finally:
        for sock in sockets:
            sock.close()
    # The server still answers afterwards.
    assert httpx.get(f"{keyed.url}/health").status_code == 200


def test_a_kept_alive_connection_still_serves_several_requests(keyed: LocalServer) -> None:
    with httpx.Client(headers={"authorization": f"Bearer {KEY}"}) as client:
        for _ in range(3):
            assert client.get(f"{keyed.base_url}/models").status_code == 200
            time.sleep(0.2)  # below the header timeout between requests
