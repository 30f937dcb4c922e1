"""One configuration for every front door: tool_choice, a config file and the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.errors import CloudUnavailableError, ConfigurationError
from langchain_netgpt.graph import create_netgpt_agent
from langchain_netgpt.middleware import NetGPTRoutingMiddleware
from langchain_netgpt.routing import AlwaysEdge, FixedThresholdPolicy
from langchain_netgpt.routing.config import RoutingConfig
from langchain_netgpt.routing.settings import load_routing_file, routing_config_from_env
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import JsonlTraceSink, TraceStore


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _edge() -> ScriptedChatModel:
    return ScriptedChatModel(
        responses=[tool_call("get_weather", {"city": "Lisbon"}), "It is sunny."]
    )


def _edge_tool_choices(edge: ScriptedChatModel) -> list[Any]:
    return [kwargs.get("tool_choice") for _, kwargs in edge.calls]


def test_the_configured_tool_choice_reaches_the_edge_through_the_router() -> None:
    edge = _edge()
    router = NetGPTRouter(
        edge=edge, cloud=ScriptedChatModel(responses=["c"]), policy=AlwaysEdge(), tool_choice="any"
    )
    router.bind_tools([get_weather]).invoke("weather in Lisbon?")
    assert _edge_tool_choices(edge) == ["any"]


def test_a_calls_own_tool_choice_wins_over_the_configured_one() -> None:
    edge = _edge()
    router = NetGPTRouter(
        edge=edge, cloud=ScriptedChatModel(responses=["c"]), policy=AlwaysEdge(), tool_choice="any"
    )
    router.bind_tools([get_weather], tool_choice="get_weather").invoke("weather in Lisbon?")
    assert _edge_tool_choices(edge) == ["get_weather"]


def test_the_configured_tool_choice_reaches_the_edge_through_the_middleware() -> None:
    edge = _edge()
    routing = NetGPTRoutingMiddleware(
        edge=edge, cloud=ScriptedChatModel(responses=["c"]), policy=AlwaysEdge(), tool_choice="any"
    )
    agent = create_agent(edge, [get_weather], middleware=[routing])
    agent.invoke({"messages": [("user", "weather in Lisbon?")]})
    assert _edge_tool_choices(edge)[0] == "any"


def test_the_configured_tool_choice_reaches_the_edge_through_create_netgpt_agent() -> None:
    edge = _edge()
    agent = create_netgpt_agent(
        edge,
        ScriptedChatModel(responses=["c"]),
        [get_weather],
        policy=AlwaysEdge(),
        tool_choice="any",
    )
    agent.invoke({"messages": [("user", "weather in Lisbon?")]})
    assert _edge_tool_choices(edge)[0] == "any"


def test_a_malformed_tool_choice_dict_is_refused() -> None:
    with pytest.raises(ValueError, match="tool_choice dict"):
        RoutingConfig(
            edge=_edge(), cloud=_edge(), tool_choice={"type": "function", "name": "get_weather"}
        )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"NETGPT_CLOUD_BASE_URL": "http://127.0.0.1:9/v1", **extra}


def test_a_yaml_file_configures_every_kind_of_option(tmp_path: Path) -> None:
    pytest.importorskip("langchain_openai")
    path = tmp_path / "netgpt.yaml"
    path.write_text(
        "step_timeout_s: 30\n"
        "step_deadline_s: 90\n"
        "tool_choice: auto\n"
        "retry: {attempts: 2}\n"
        "circuit_breaker: {failure_threshold: 3}\n"
        "policy: {type: fixed, threshold: 0.4}\n"
        "budget: {max_cloud_share: 0.3}\n"
        f"store: {tmp_path / 'traces.db'}\n"
        f"sinks: [{tmp_path / 'traces.jsonl'}]\n"
        "cloud: {model: my-model}\n"
    )
    config = routing_config_from_env(_env(tmp_path), config_file=path, edge=_edge())
    assert (config.step_timeout_s, config.step_deadline_s, config.tool_choice) == (30, 90, "auto")
    assert config.retry.attempts == 2 and config.circuit_breaker is not None
    assert isinstance(config.policy, FixedThresholdPolicy) and config.policy.threshold == 0.4
    assert config.budget is not None and config.budget.max_cloud_share == 0.3
    assert isinstance(config.store, TraceStore) and isinstance(config.sinks[0], JsonlTraceSink)
    assert config.cloud.model_name == "my-model"  # type: ignore[attr-defined]


def test_the_environment_overrides_the_file_and_keywords_override_both(tmp_path: Path) -> None:
    pytest.importorskip("langchain_openai")
    path = tmp_path / "netgpt.json"
    path.write_text(json.dumps({"step_timeout_s": 30, "fallback": False}))
    env = _env(tmp_path, NETGPT_CONFIG=str(path), NETGPT_STEP_TIMEOUT_S="none")
    config = routing_config_from_env(env, edge=_edge(), fallback=True)
    assert config.step_timeout_s is None and config.fallback is True


def test_a_misspelled_option_in_a_file_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "netgpt.json"
    path.write_text(json.dumps({"step_timout_s": 3}))
    with pytest.raises(ConfigurationError, match=r"did you mean 'step_timeout_s'.*valid options"):
        load_routing_file(path)


def test_a_file_option_that_only_code_can_give_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "netgpt.json"
    path.write_text(json.dumps({"monitor": "fast"}))
    with pytest.raises(ConfigurationError, match="monitor can only be given in code"):
        load_routing_file(path)


def test_a_bad_deadline_variable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="NETGPT_STEP_TIMEOUT_S='soon'"):
        routing_config_from_env(_env(tmp_path, NETGPT_STEP_TIMEOUT_S="soon"), edge=_edge())


def test_no_cloud_in_the_environment_names_the_variables_to_set() -> None:
    with pytest.raises(CloudUnavailableError, match=r"OPENAI_API_KEY.*NETGPT_CLOUD_BASE_URL"):
        routing_config_from_env({}, edge=_edge())


def test_the_router_and_the_middleware_build_from_a_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "netgpt.json"
    path.write_text(json.dumps({"policy": "always-edge", "tool_choice": "any"}))
    monkeypatch.delenv("NETGPT_CONFIG", raising=False)
    cloud = ScriptedChatModel(responses=["c"])
    router = NetGPTRouter.from_config(path, edge=_edge(), cloud=cloud)
    middleware = NetGPTRoutingMiddleware.from_config(path, edge=_edge(), cloud=cloud)
    assert router.tool_choice == middleware.tool_choice == "any"
    assert router.policy.name == middleware.policy.name == "always-edge"
    monkeypatch.setenv("NETGPT_CONFIG", str(path))
    assert NetGPTRouter.from_env(edge=_edge(), cloud=cloud).tool_choice == "any"
    with pytest.raises(TypeError, match="step_timout_s"):
        NetGPTRouter.from_env(edge=_edge(), cloud=cloud, step_timout_s=3)


def test_a_configured_tool_choice_naming_an_unbound_tool_is_refused_at_bind_time() -> None:
    router = NetGPTRouter(edge=_edge(), cloud=_edge(), tool_choice="get_time")
    with pytest.raises(ValueError, match="'get_time', which is not a bound tool"):
        router.bind_tools([get_weather])
