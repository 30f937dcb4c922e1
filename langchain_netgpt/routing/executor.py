"""The calls of child models every front door shares: the tools bound, and how a side is invoked.

:class:`ToolBinding` holds the tools of a call (bound on each side, summarised for routing, and
the schemas answers are validated against); :func:`invoke_child` / :func:`ainvoke_child` call a
side's model under the routed run's callbacks. The step that drives the calls is
:class:`~langchain_netgpt.routing.step.RoutedStep`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig

from langchain_netgpt.routing._jsonschema import validate_json_schema
from langchain_netgpt.routing.features import ToolsSummary

__all__ = [
    "ToolBinding",
    "ainvoke_child",
    "invoke_child",
]

_FORCING_CHOICES = ("any", "required")


class ToolBinding:
    """The tools bound for a call, bound once on both sides and summarised for routing."""

    __slots__ = ("cloud", "edge", "models", "schemas", "summary", "tool_choice", "tools")

    def __init__(
        self,
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
        edge: Runnable[Any, Any],
        cloud: Runnable[Any, Any],
        models: Mapping[str, Runnable[Any, Any]] | None = None,
    ) -> None:
        self.models = models  # every named target's model (multi-target routing)
        self.tools = tools
        self.tool_choice = tool_choice
        self.edge = edge
        self.cloud = cloud
        self.summary = ToolsSummary.from_tools(tools)
        self.schemas: dict[str, dict[str, Any]] = {}
        for tool in tools or []:
            function = tool.get("function", tool)
            self.schemas[function["name"]] = function.get("parameters") or {"type": "object"}

    def forced_tool(self) -> str | None:
        """The tool name the call must use, ``"*"`` for any tool, or ``None``."""
        choice = self.tool_choice
        if choice is True or choice in _FORCING_CHOICES:
            return "*"
        if isinstance(choice, str) and choice not in ("auto", "none"):
            return choice
        if isinstance(choice, Mapping):
            function = choice.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                return str(function["name"])
        return None

    def problems(self, message: AIMessage) -> list[str]:
        """Why the message's tool calls do not fit the bound tools (``[]`` when they do)."""
        problems = [
            f"unparseable tool call {bad.get('name')!r}: {bad.get('error') or 'invalid JSON'}"
            for bad in message.invalid_tool_calls
        ]
        for call in message.tool_calls:
            schema = self.schemas.get(call["name"])
            if schema is None:
                problems.append(
                    f"call of unknown tool {call['name']!r}; bound tools: {sorted(self.schemas)}"
                )
                continue
            problems.extend(
                f"{call['name']}: {p}" for p in validate_json_schema(call["args"], schema)
            )
        forced = self.forced_tool()
        if forced is not None and not message.tool_calls:
            problems.append(f"tool_choice={self.tool_choice!r} requires a tool call, got none")
        elif forced not in (None, "*") and any(c["name"] != forced for c in message.tool_calls):
            problems.append(f"tool_choice requires {forced!r}, got other calls")
        return problems


def _unwrap(runnable: Runnable[Any, Any]) -> tuple[BaseChatModel, dict[str, Any]] | None:
    """The chat model and bound arguments behind a plain ``bind``/``bind_tools`` result."""
    if isinstance(runnable, BaseChatModel):
        return runnable, {}
    if (
        isinstance(runnable, RunnableBinding)
        and isinstance(runnable.bound, BaseChatModel)
        and not runnable.config
        and not runnable.config_factories
        and not runnable.custom_input_type
        and not runnable.custom_output_type
    ):
        return runnable.bound, dict(runnable.kwargs)
    return None


def _generate_kwargs(config: RunnableConfig, kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "callbacks": config.get("callbacks"),
        "tags": config.get("tags"),
        "metadata": config.get("metadata"),
        **kw,
    }


def invoke_child(
    runnable: Runnable[Any, Any],
    messages: list[BaseMessage],
    config: RunnableConfig,
    kw: dict[str, Any],
) -> AIMessage:
    """Call a child model with the router's callbacks, tags and metadata.

    Calling ``generate`` on the model behind a plain binding skips two layers of config merging
    and input conversion (~100 us a call) while keeping the child's own run, callbacks and cache.
    """
    # Calling `generate` on the model behind a binding skips two layers of config merging and
    # input conversion (~100 us a call) while keeping the child's own run, callbacks and cache.
    unwrapped = _unwrap(runnable)
    if unwrapped is None:
        return _as_ai(runnable.invoke(messages, config, **kw))
    model, bound = unwrapped
    return _first_message(model.generate([messages], **_generate_kwargs(config, {**bound, **kw})))


async def ainvoke_child(
    runnable: Runnable[Any, Any],
    messages: list[BaseMessage],
    config: RunnableConfig,
    kw: dict[str, Any],
) -> AIMessage:
    """Async twin of :func:`invoke_child`."""
    unwrapped = _unwrap(runnable)
    if unwrapped is None:
        return _as_ai(await runnable.ainvoke(messages, config, **kw))
    model, bound = unwrapped
    result = await model.agenerate([messages], **_generate_kwargs(config, {**bound, **kw}))
    return _first_message(result)


def _first_message(result: LLMResult) -> AIMessage:
    generation = result.generations[0][0]
    if not isinstance(generation, ChatGeneration):
        raise TypeError(f"the child model returned {type(generation).__name__}, not a chat answer")
    return _as_ai(generation.message)


def _as_ai(message: Any) -> AIMessage:
    if not isinstance(message, AIMessage):
        raise TypeError(f"the child model returned {type(message).__name__}, not an AIMessage")
    return message
