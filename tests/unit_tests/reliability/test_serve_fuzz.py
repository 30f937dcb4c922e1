"""Every endpoint of ``netgpt serve`` answers any method, path, header and body below 500.

``tests/unit_tests/cloud/test_server_errors.py`` fuzzes the body of ``/v1/chat/completions``;
this covers the rest of the surface: every route and method, odd content types and headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_netgpt.cloud import create_app
from langchain_netgpt.testing import ScriptedChatModel

ROUTES = ["/health", "/v1/models", "/v1/chat/completions", "/v1/completions", "/", "/v1"]
PATHS = st.sampled_from(ROUTES) | st.text(
    alphabet=st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("/-_.%"),
    max_size=30,
).map(lambda p: "/" + p)
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/plain", "multipart/form-data", "application/x-www-form-urlencoded"]
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(ScriptedChatModel(responses=["ok"]), model_name="scripted")
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@settings(max_examples=150, deadline=None)
@given(
    method=METHODS,
    path=PATHS,
    content_type=CONTENT_TYPES,
    body=st.binary(max_size=48) | st.just(b'{"model": "m", "messages": []}'),
)
def test_any_request_to_any_endpoint_gets_an_answer_below_500(
    client: TestClient, method: str, path: str, content_type: str, body: bytes
) -> None:
    response = client.request(method, path, content=body, headers={"content-type": content_type})

    assert response.status_code < 500
    if response.status_code >= 400 and method != "HEAD":
        error: Any = response.json()
        assert isinstance(error, dict) and "error" in error


@pytest.mark.parametrize("path", ["/health", "/v1/models"])
def test_read_only_endpoints_refuse_writes_with_a_json_405(client: TestClient, path: str) -> None:
    response = client.post(path, content=b"{}")
    assert response.status_code == 405
    assert "error" in response.json()
