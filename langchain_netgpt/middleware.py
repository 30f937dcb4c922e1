"""``NetGPTRoutingMiddleware``: edge/cloud routing for ``langchain.agents.create_agent`` agents.

The middleware is a thin front door over a :class:`~langchain_netgpt.routing.engine.RoutingEngine`:
the engine plans each model call and its :class:`~langchain_netgpt.routing.step.RoutedStep`
validates, falls back and traces. Only the call differs: the middleware hands the agent's own model
call (``handler``) a request whose model is the chosen side, ``handler(request.override(model=
chosen))``, and never changes the request.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
)
from langchain.agents.structured_output import (
    AutoStrategy,
    OutputToolBinding,
    ProviderStrategy,
    ToolStrategy,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config, merge_configs, set_config_context
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.errors import GraphBubbleUp

from langchain_netgpt.router import NetGPTRouter
from langchain_netgpt.routing.config import RoutingConfig, routing_config
from langchain_netgpt.routing.engine import RoutingEngine
from langchain_netgpt.routing.executor import ToolBinding
from langchain_netgpt.routing.options import RoutingOptions
from langchain_netgpt.routing.step import RoutedStep

__all__ = ["NetGPTRoutingMiddleware"]

_T = TypeVar("_T")
_A = TypeVar("_A")
_Handler = Callable[[ModelRequest[Any]], ModelResponse[Any]]
_AsyncHandler = Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]]
_BINDING_CACHE_SIZE = 64


class NetGPTRoutingMiddleware(RoutingOptions, AgentMiddleware[AgentState[Any], Any, Any]):
    """Route every model call of a ``create_agent`` agent to an edge or a cloud model.

    Add it to an existing agent and each model call is scored, the network read, the policy
    asked, and the call handed to the agent's own model-call machinery with the chosen model
    (``request.override(model=...)``); the agent's declared model is not called. An exception,
    a timeout or tool calls that do not fit the request's tools send the call to the other side.
    The answer carries ``response_metadata["netgpt"]``, the model run is tagged
    ``netgpt:edge`` / ``netgpt:cloud`` with ``netgpt.*`` metadata, and one
    :class:`~langchain_netgpt.tracing.RouteTrace` per model call goes to the sinks. Named targets
    (``targets=``) work as with the router: the chosen target's model answers.

    Args:
        config: The routing options as one
            :class:`~langchain_netgpt.routing.config.RoutingConfig` (instead of keywords).
        **options: The routing options as keywords: the fields of
            :class:`~langchain_netgpt.routing.config.RoutingConfig` (``edge``, ``cloud``,
            ``policy``, ``scorer``, ``monitor``, ``budget``, ``sinks``, ``step_timeout_s``,
            ``fallback``, ``targets``, ...), as :class:`~langchain_netgpt.router.NetGPTRouter`
            takes them. Or share a router's engine (its budget, monitor, breakers and sinks)
            with :meth:`from_router`.

    Raises:
        TypeError: An option name is unknown (the message lists the valid ones), or both
            ``config`` and options are given.
        pydantic.ValidationError: An option value is invalid.

    Example:
        .. code-block:: python

            from langchain.agents import create_agent
            from langchain_netgpt import NetworkState
            from langchain_netgpt.middleware import NetGPTRoutingMiddleware
            from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel

            edge = ScriptedChatModel(responses=["edge answer"])
            cloud = ScriptedChatModel(responses=["cloud answer"])
            routing = NetGPTRoutingMiddleware(
                edge=edge,
                cloud=cloud,
                monitor=FixedNetworkMonitor(
                    NetworkState(bandwidth_up_mbps=0.2, bandwidth_down_mbps=0.5, rtt_ms=1500)
                ),
            )
            agent = create_agent(cloud, tools=[], middleware=[routing])
            reply = agent.invoke({"messages": [("user", "Hello!")]})["messages"][-1]
            assert reply.response_metadata["netgpt"]["target"] == "edge"  # the link is poor
    """

    engine: RoutingEngine
    """The engine that plans, runs and traces the routed calls."""

    def __init__(self, *, config: RoutingConfig | None = None, **options: Any) -> None:
        owner = type(self).__name__
        self._attach(RoutingEngine(routing_config(config, options, owner=owner)), router=None)

    @classmethod
    def from_env(
        cls, *, config_file: str | os.PathLike[str] | None = None, **options: Any
    ) -> NetGPTRoutingMiddleware:
        """A middleware configured by the environment, or by a file (``config_file``).

        The variables, the file's format and the errors are those of
        :meth:`NetGPTRouter.from_env <langchain_netgpt.router.NetGPTRouter.from_env>` and
        :meth:`NetGPTRouter.from_config <langchain_netgpt.router.NetGPTRouter.from_config>`;
        ``options`` given in code win.
        """
        from langchain_netgpt.routing.settings import routing_config_from_env

        return cls(config=routing_config_from_env(config_file=config_file, **options))

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **options: Any) -> NetGPTRoutingMiddleware:
        """A middleware configured by a JSON or YAML file (see :meth:`from_env`)."""
        return cls.from_env(config_file=path, **options)

    @classmethod
    def from_router(cls, router: NetGPTRouter) -> NetGPTRoutingMiddleware:
        """A middleware that routes with an existing router's engine (same state and sinks).

        Args:
            router: The router; its sides answer the agent's calls.

        Raises:
            TypeError: ``router`` is not a :class:`~langchain_netgpt.router.NetGPTRouter`.
        """
        if not isinstance(router, NetGPTRouter):
            raise TypeError(f"router must be a NetGPTRouter, got {type(router).__name__}")
        middleware = cls.__new__(cls)
        middleware._attach(router.engine, router=router)
        return middleware

    @classmethod
    def from_engine(cls, engine: RoutingEngine) -> NetGPTRoutingMiddleware:
        """A middleware over an existing engine.

        Raises:
            TypeError: ``engine`` is not a :class:`~langchain_netgpt.routing.engine.RoutingEngine`.
        """
        if not isinstance(engine, RoutingEngine):
            raise TypeError(f"engine must be a RoutingEngine, got {type(engine).__name__}")
        middleware = cls.__new__(cls)
        middleware._attach(engine, router=None)
        return middleware

    def _attach(self, engine: RoutingEngine, *, router: NetGPTRouter | None) -> None:
        self.engine = engine
        self.config = engine.config
        self._router = router
        self.tools = []
        # Tools converted once per distinct (tools, response format, tool choice) of a request.
        self._bindings: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], ToolBinding]] = (
            OrderedDict()
        )

    @property
    def router(self) -> NetGPTRouter:
        """A :class:`~langchain_netgpt.router.NetGPTRouter` over the same engine.

        The router given to :meth:`from_router`, else one built on first use.
        """
        if self._router is None:
            self._router = NetGPTRouter.from_engine(self.engine)
        return self._router

    def __repr__(self) -> str:
        return f"NetGPTRoutingMiddleware(engine={self.engine!r})"

    # -- the decision --------------------------------------------------------------------------
    def _binding(self, request: ModelRequest[Any]) -> ToolBinding:
        key = (
            tuple(id(tool) for tool in request.tools),
            id(request.response_format),
            repr(request.tool_choice),
            repr(self.config.tool_choice),
        )
        cached = self._bindings.get(key)
        if cached is not None:
            return cached[1]
        tools = _openai_tools(request.tools) + _structured_output_tools(request.response_format)
        binding = self.engine.binding(tools or None, request.tool_choice)
        # Holding the keyed objects keeps their ids from being reused while the entry lives.
        self._bindings[key] = ((*request.tools, request.response_format), binding)
        if len(self._bindings) > _BINDING_CACHE_SIZE:
            self._bindings.popitem(last=False)
        return binding

    def _plan(self, request: ModelRequest[Any], *, mode: str) -> tuple[RoutedStep, RunnableConfig]:
        config = ensure_config()
        messages: list[BaseMessage] = list(request.messages)
        if request.system_message is not None:
            messages.insert(0, request.system_message)
        session = config["metadata"].get("thread_id") or config["configurable"].get("thread_id")
        step = self.engine.plan(
            messages,
            self._binding(request),
            mode=mode,
            session_id=str(session) if session is not None else None,
            metadata=config["metadata"],
        )
        return step, config

    def _attempt(
        self, step: RoutedStep, config: RunnableConfig, request: ModelRequest[Any], target: str
    ) -> tuple[ModelRequest[Any], RunnableConfig]:
        """The request for one try and the config its model run sees (route tags, metadata)."""
        model = self.engine.model_for(target)
        route = step.config_for(target, config.get("callbacks"))
        child = merge_configs(config, {"tags": route["tags"], "metadata": route["metadata"]})
        child["callbacks"] = route["callbacks"]  # with the latency stamp when traced
        choice = step.binding.tool_choice
        if request.tool_choice is None and request.tools and choice is not None:
            # The configured tool_choice (RoutingConfig.tool_choice) for a request with none.
            return request.override(model=model, tool_choice=choice), child
        return request.override(model=model), child

    # -- the calls -----------------------------------------------------------------------------
    def wrap_model_call(self, request: ModelRequest[Any], handler: _Handler) -> ModelResponse[Any]:
        """Decide edge or cloud for this model call, call it, fall back if it fails.

        Args:
            request: The agent's model request (left unchanged).
            handler: The agent's model call.

        Returns:
            The chosen side's response; its AI message carries ``response_metadata["netgpt"]``.

        Raises:
            RoutingError: No side answered (the trace is written first).
        """
        step, config = self._plan(request, mode="invoke")
        responses: dict[str, ModelResponse[Any]] = {}

        def call(target: str) -> AIMessage:
            routed, child = self._attempt(step, config, request, target)
            # The engine runs it in a copy of this context that carries the try's cancel token.
            run = partial(_run_in_config, child, handler, routed)
            responses[target] = self.engine.call_with_deadline(run, target, step=step)
            return _answer_of(responses[target])

        return _with_answer(responses, step.run(call, passthrough=(GraphBubbleUp,)))

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: _AsyncHandler
    ) -> ModelResponse[Any]:
        """Async twin of :meth:`wrap_model_call` (only the call is awaited)."""
        step, config = self._plan(request, mode="ainvoke")
        responses: dict[str, ModelResponse[Any]] = {}

        async def call(target: str) -> AIMessage:
            routed, child = self._attempt(step, config, request, target)
            run = _arun_in_config(child, handler, routed)
            responses[target] = await self.engine.acall_with_deadline(run, target, step=step)
            return _answer_of(responses[target])

        return _with_answer(responses, await step.arun(call, passthrough=(GraphBubbleUp,)))


def _run_in_config(config: RunnableConfig, call: Callable[[_A], _T], arg: _A) -> _T:
    """Run ``call(arg)`` with ``config`` as the parent config of the runnables it starts."""
    with set_config_context(config) as context:
        return context.run(call, arg)


async def _arun_in_config(
    config: RunnableConfig, call: _AsyncHandler, request: ModelRequest[Any]
) -> ModelResponse[Any]:
    with set_config_context(config) as context:
        return await asyncio.create_task(_awaited(call(request)), context=context)


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _openai_tools(tools: list[BaseTool | dict[str, Any]]) -> list[dict[str, Any]]:
    """The request's function tools in OpenAI format.

    Provider built-in tools (``{"type": "web_search", ...}``) run on the provider's side, have
    no parameter schema to check and are left out.
    """
    converted = []
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type") not in (None, "function"):
            continue
        converted.append(convert_to_openai_tool(tool))
    return converted


def _structured_output_tools(response_format: Any) -> list[dict[str, Any]]:
    """Tools the agent adds for structured output, so their calls validate as known tools."""
    if response_format is None or isinstance(response_format, ProviderStrategy):
        return []
    if isinstance(response_format, ToolStrategy):
        strategy = response_format
    else:
        schema = response_format.schema if isinstance(response_format, AutoStrategy) else None
        strategy = ToolStrategy(schema=schema if schema is not None else response_format)
    return [
        convert_to_openai_tool(OutputToolBinding.from_schema_spec(spec).tool)
        for spec in strategy.schema_specs
    ]


def _answer_of(response: ModelResponse[Any]) -> AIMessage:
    for message in response.result:
        if isinstance(message, AIMessage):
            return message
    kinds = [type(message).__name__ for message in response.result]
    raise TypeError(f"the model call returned no AIMessage, only {kinds}")


def _with_answer(responses: dict[str, ModelResponse[Any]], answer: AIMessage) -> ModelResponse[Any]:
    """A copy of the response whose AI message is the routed ``answer`` (the step's result)."""
    for response in responses.values():
        if any(message is answer for message in response.result):
            return ModelResponse(
                result=list(response.result), structured_response=response.structured_response
            )
    raise RuntimeError("netgpt: the routed answer came from none of the model responses")
