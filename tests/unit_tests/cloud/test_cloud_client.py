"""cloud_from_env reads the environment safely; local_cloud yields a working ChatOpenAI."""

from __future__ import annotations

import logging

import pytest
from langchain_core.messages import AIMessage
from pydantic import SecretStr

from langchain_netgpt.cloud import DEFAULT_CLOUD_MODEL, WanProfile, cloud_from_env, local_cloud
from langchain_netgpt.errors import CloudUnavailableError

from .fakes import ScriptedToolModel

SECRET = "sk-test-DO-NOT-PRINT-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "NETGPT_CLOUD_BASE_URL",
        "NETGPT_CLOUD_MODEL",
        "OPENAI_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_no_key_and_no_base_url_raises_a_clear_error() -> None:
    with pytest.raises(CloudUnavailableError, match=r"OPENAI_API_KEY.*NETGPT_CLOUD_BASE_URL"):
        cloud_from_env()


def test_key_from_the_environment_is_held_as_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    cloud = cloud_from_env()

    assert isinstance(cloud.openai_api_key, SecretStr)
    assert cloud.openai_api_key.get_secret_value() == SECRET


def test_key_never_appears_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    cloud = cloud_from_env()

    for text in (repr(cloud), str(cloud), str(cloud.model_dump()), cloud.model_dump_json()):
        assert SECRET not in text


def test_key_never_appears_in_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    with caplog.at_level(logging.DEBUG):
        cloud_from_env()

    assert SECRET not in caplog.text


def test_default_model_is_gpt_4o_mini(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    assert cloud_from_env().model_name == DEFAULT_CLOUD_MODEL == "gpt-4o-mini"


def test_base_url_alone_selects_a_keyless_openai_compatible_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETGPT_CLOUD_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("NETGPT_CLOUD_MODEL", "netgpt-bundled")

    cloud = cloud_from_env()

    assert cloud.openai_api_base == "http://127.0.0.1:8000/v1"
    assert cloud.model_name == "netgpt-bundled"


def test_overrides_take_precedence_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("NETGPT_CLOUD_MODEL", "gpt-4o")

    cloud = cloud_from_env(model="gpt-4.1-nano", max_retries=5)

    assert (cloud.model_name, cloud.max_retries) == ("gpt-4.1-nano", 5)


def test_an_api_key_override_is_enough_to_configure_the_cloud() -> None:
    cloud = cloud_from_env(api_key=SECRET)

    assert cloud.openai_api_key is not None
    assert cloud.openai_api_key.get_secret_value() == SECRET


def test_local_cloud_yields_a_chat_openai_served_over_loopback() -> None:
    model = ScriptedToolModel(script=[AIMessage("hello from the stand-in")])

    with local_cloud(model, wan=WanProfile(rtt_ms=20, bandwidth_mbps=50)) as cloud:
        answer = cloud.invoke("hi")

    assert answer.content == "hello from the stand-in"
    assert cloud.openai_api_base is not None and cloud.openai_api_base.endswith("/v1")
