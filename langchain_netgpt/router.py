"""``NetGPTRouter``: a chat model that routes every call between an edge and a cloud model.

The router is a LangChain front door over a :class:`~langchain_netgpt.routing.engine.RoutingEngine`:
it turns a chat-model call (messages, bound tools, run manager) into :meth:`RoutingEngine.plan
<langchain_netgpt.routing.engine.RoutingEngine.plan>` and calls the chosen side's model; the
engine gates, retries, falls back and ends the step in exactly one :class:`RouteTrace`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from langchain_netgpt.routing._jsonschema import schema_problems
from langchain_netgpt.routing.config import RoutingConfig, check_option_names
from langchain_netgpt.routing.engine import RoutingEngine
from langchain_netgpt.routing.executor import ToolBinding, ainvoke_child, invoke_child
from langchain_netgpt.routing.options import RoutingOptions
from langchain_netgpt.routing.reliability import CircuitState
from langchain_netgpt.routing.routed_run import (
    RunHandle,
    enter_stream_run,
    leave_stream_run,
    stamp_step,
    stream_config,
)
from langchain_netgpt.routing.step import RoutedStep
from langchain_netgpt.routing.streaming import arelay_stream, relay_stream
from langchain_netgpt.routing.targets import LoadSnapshot
from langchain_netgpt.tracing.langsmith import untraced

__all__ = ["PREVIOUS_TARGET_METADATA_KEY", "STANDARD_CHAT_PARAMS", "NetGPTRouter"]

PREVIOUS_TARGET_METADATA_KEY = "netgpt.previous_target"
"""Run-metadata key naming the side of the conversation's previous turn (it overrides what the
last AI message says; the LangGraph node sets it from the route history in the graph state)."""

STANDARD_CHAT_PARAMS: tuple[str, ...] = (
    "temperature",
    "max_tokens",
    "timeout",
    "stop",
    "max_retries",
    "streaming",
    "api_key",
)
"""LangChain's standard chat-model parameters: accepted by the router and ignored (each side
keeps its own settings)."""

_BINDING_CACHE_SIZE = 64


class NetGPTRouter(RoutingOptions, BaseChatModel):
    """A chat model that sends each call to an edge or a cloud model, network-aware.

    Every call is scored (``scorer``), the network is read (``monitor``), the ``policy`` decides
    and the ``budget`` (if any) may veto the cloud. The chosen model answers; an exception, a
    timeout (``step_timeout_s``) or tool calls that do not fit the bound schemas send the step to
    the other side (``fallback``). The answer carries the decision in
    ``response_metadata["netgpt"]`` and one :class:`RouteTrace` goes to every sink. A routed call
    is one chat-model run (the router's; the sides start none): when it ends it names the model
    that served it (``ls_provider``, ``ls_model_name``, its token usage, an edge's price) and
    carries the ``netgpt:edge`` / ``netgpt:cloud`` tag and ``netgpt.*`` metadata for LangSmith.

    Streaming: without tools, chunks stream live (a failure before the first chunk still falls
    back); with tools bound and validation on, the child's chunks are collected, validated, then
    replayed, so an invalid tool call can still fall back.

    Give the routing options as keywords, or one
    :class:`~langchain_netgpt.routing.config.RoutingConfig` as ``config=`` (not both); every
    option is also an attribute (``router.policy = ...`` takes effect at the next call). A
    misspelled option raises ``TypeError`` naming the valid ones; LangChain's standard model
    parameters (``temperature``, ``max_tokens``, ``timeout``, ``stop``, ``max_retries``,
    ``streaming``, ``api_key``) are accepted and ignored (each side keeps its own). The
    routing itself is a :class:`~langchain_netgpt.routing.engine.RoutingEngine`
    (``router.engine``), shared with
    :meth:`NetGPTRoutingMiddleware.from_router
    <langchain_netgpt.middleware.NetGPTRoutingMiddleware.from_router>`.

    Args:
        config: The routing options as one
            :class:`~langchain_netgpt.routing.config.RoutingConfig` (instead of keywords).
        **options: The routing options as keywords, the fields of
            :class:`~langchain_netgpt.routing.config.RoutingConfig` (each documented there):
            ``edge``, ``cloud``, ``policy``, ``scorer``, ``monitor``, ``budget``, ``sinks``,
            ``store``, ``step_timeout_s``, ``fallback``, ``validate_tool_calls``,
            ``step_deadline_s``, ``retry``, ``circuit_breaker``, ``privacy``,
            ``scrub_secrets``, ``prompt_completion`` and ``targets`` (named edge experts and
            clouds instead of ``edge``/``cloud``, see ``docs/howto/multi-target.md``).

    Raises:
        TypeError: An option name is unknown (the message lists the valid ones), or both
            ``config`` and options are given.
        pydantic.ValidationError: An option value is invalid.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetGPTRouter, NetworkState
            from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel

            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["edge answer"]),
                cloud=ScriptedChatModel(responses=["cloud answer"]),
                monitor=FixedNetworkMonitor(
                    NetworkState(bandwidth_up_mbps=0.2, bandwidth_down_mbps=0.5, rtt_ms=1500)
                ),
            )
            reply = router.invoke("Hello!")
            assert reply.response_metadata["netgpt"]["target"] == "edge"  # the link is poor
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # The default is never used: the validator below always builds the config from the keywords.
    config: RoutingConfig = Field(  # type: ignore[assignment]
        default=None,
        description="The routing options (every option is also an attribute of the router).",
    )

    _engine: RoutingEngine | None = PrivateAttr(default=None)
    _bindings: OrderedDict[tuple[Any, ...], tuple[Any, ToolBinding]] = PrivateAttr(
        default_factory=OrderedDict
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_options(cls, data: Any) -> Any:
        """Routing keywords become ``config``; unknown keywords are refused."""
        if not isinstance(data, dict):
            return data
        options = {k: v for k, v in data.items() if k in RoutingConfig.model_fields}
        rest = {k: v for k, v in data.items() if k not in options and k not in STANDARD_CHAT_PARAMS}
        check_option_names({k for k in rest if k not in cls.model_fields}, owner="NetGPTRouter")
        if rest.get("config") is None:
            rest["config"] = options
        elif options:
            raise TypeError(
                "NetGPTRouter: give config= or routing options as keywords, not both "
                f"(got config= and {sorted(options)})"
            )
        return rest

    @classmethod
    def from_env(cls, **options: Any) -> NetGPTRouter:
        """A router configured by the environment (for deployments such as ``langgraph dev``).

        Reads the file ``$NETGPT_CONFIG`` (JSON or YAML routing options), ``NETGPT_TRACES``,
        ``NETGPT_STORE``, ``NETGPT_STEP_TIMEOUT_S``, ``NETGPT_STEP_DEADLINE_S`` and the cloud's
        ``OPENAI_API_KEY`` / ``NETGPT_CLOUD_BASE_URL`` / ``NETGPT_CLOUD_MODEL``
        (:mod:`langchain_netgpt.routing.settings`); the edge is the bundled one unless given.

        Args:
            **options: Routing options given in code; they win over the environment.

        Raises:
            TypeError: An option name is unknown (the message lists the valid ones).
            ConfigurationError: The file or a variable is invalid.
            CloudUnavailableError: No cloud is configured (the message names what to set).
        """
        from langchain_netgpt.routing.settings import routing_config_from_env

        return cls(config=routing_config_from_env(**options))

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **options: Any) -> NetGPTRouter:
        """A router configured by a JSON or YAML file of routing options.

        The file's keys are the fields of
        :class:`~langchain_netgpt.routing.config.RoutingConfig` (policies as
        ``{"type": "netgpt", ...}``, sinks and store as paths, ``edge`` / ``cloud`` as the
        arguments of the bundled edge and of the cloud); the environment fills in the rest as in
        :meth:`from_env`.

        Args:
            path: The file.
            **options: Routing options given in code; they win over the file.

        Raises:
            TypeError: An option name is unknown (the message lists the valid ones).
            ConfigurationError: The file is invalid or names an unknown option.
            CloudUnavailableError: No cloud is configured (the message names what to set).
        """
        from langchain_netgpt.routing.settings import routing_config_from_env

        return cls(config=routing_config_from_env(config_file=path, **options))

    @classmethod
    def from_engine(cls, engine: RoutingEngine) -> NetGPTRouter:
        """A router that routes with an existing engine (same options, state and sinks).

        Raises:
            TypeError: ``engine`` is not a :class:`RoutingEngine`.
        """
        if not isinstance(engine, RoutingEngine):
            raise TypeError(f"engine must be a RoutingEngine, got {type(engine).__name__}")
        router = cls(config=engine.config)
        router._engine = engine
        return router

    @property
    def engine(self) -> RoutingEngine:
        """The engine that routes this router's calls (built on first use)."""
        engine = self._engine  # one private-attribute lookup: this is on every call's path
        if engine is None or engine.config is not self.config:
            engine = self._engine = RoutingEngine(self.config)
        return engine

    @property
    def sink_errors(self) -> int:
        """Traces a sink failed to take."""
        return self.engine.sink_errors

    def target_loads(self) -> dict[str, LoadSnapshot]:
        """Load of every named target now (in flight, queued, measured service time, SLO misses).

        Raises:
            ValueError: The router was built with ``edge=``/``cloud=``, not ``targets=``.
        """
        return self.engine.target_loads()

    def circuit_state(self, target: str) -> CircuitState:
        """State of a side's circuit (``closed`` when no breaker is configured).

        Raises:
            ValueError: ``target`` is neither ``"edge"`` nor ``"cloud"`` (nor a named target).
        """
        return self.engine.circuit_state(target)

    # -- LangChain plumbing --------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "netgpt-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "edge": self.edge._llm_type,
            "cloud": self.cloud._llm_type,
            "policy": getattr(self.policy, "name", type(self.policy).__name__),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="netgpt",
            ls_model_name=str(
                kwargs.get("model") or f"{_model_name(self.edge)}|{_model_name(self.cloud)}"
            ),
            ls_model_type="chat",
        )
        if stop:
            params["ls_stop"] = stop
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools on both sides (each call binds them on the edge and the cloud model).

        Args:
            tools: Tools in any form ``convert_to_openai_tool`` accepts.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True``, a tool name,
                or ``{"type": "function", "function": {"name": ...}}``; ``None``: the router's
                ``tool_choice`` option (itself ``None`` by default: each side's own default).
            parallel_tool_calls: Passed to both sides when set.
            strict: Passed to ``convert_to_openai_tool``.
            **kwargs: Bound as call arguments.

        Raises:
            ValueError: ``tool_choice`` names a tool that is not bound, or a tool's parameters
                are not a well-formed JSON schema (an unknown ``type``, say).
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        names = [t["function"]["name"] for t in formatted]
        for tool_spec in formatted:
            problems = schema_problems(tool_spec["function"].get("parameters", {}))
            if problems:
                raise ValueError(
                    f"tool {tool_spec['function']['name']!r} has an invalid JSON schema: "
                    + "; ".join(problems[:3])
                )
        choice = tool_choice if tool_choice is not None else self.config.tool_choice
        forced = ToolBinding(formatted, choice, self.edge, self.cloud).forced_tool()
        if forced not in (None, "*") and forced not in names:
            raise ValueError(f"tool_choice names {forced!r}, which is not a bound tool: {names}")
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    # -- the decision --------------------------------------------------------------------------
    def _binding(self, kwargs: dict[str, Any]) -> ToolBinding:
        tools = kwargs.pop("tools", None)
        tool_choice = kwargs.pop("tool_choice", None)
        parallel = kwargs.pop("parallel_tool_calls", None)
        config = self.config
        # The sides are in the key: a side swapped on the router (router.edge = ...) is rebound.
        sides = (id(config.edge), id(config.cloud), id(config.targets))
        key = (id(tools), repr(tool_choice) + repr(parallel) + repr(config.tool_choice), sides)
        cached = self._bindings.get(key)
        if cached is not None and cached[0] is tools:
            return cached[1]
        if tools:
            extra = {} if parallel is None else {"parallel_tool_calls": parallel}
            binding = self.engine.binding(list(tools), tool_choice, bind=True, extra=extra)
        else:
            binding = self.engine.binding()
        # Keep a reference to `tools` so its id cannot be reused while the entry lives.
        self._bindings[key] = (tools, binding)
        if len(self._bindings) > _BINDING_CACHE_SIZE:
            self._bindings.popitem(last=False)
        return binding

    def plan(
        self,
        messages: list[BaseMessage],
        kwargs: dict[str, Any],
        *,
        mode: str,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
    ) -> RoutedStep:
        """Decide where a call goes (see :meth:`RoutingEngine.plan`).

        ``kwargs`` loses the routing-only keys (``tools``, ``tool_choice``,
        ``parallel_tool_calls``); what is left is passed to the child model. The run's metadata
        may name the conversation (``thread_id`` / ``session_id``) and the side of its previous
        turn (:data:`PREVIOUS_TARGET_METADATA_KEY`, set by the LangGraph node).
        """
        binding = self._binding(kwargs)
        metadata = run_manager.metadata if run_manager is not None else {}
        session = metadata.get("thread_id") or metadata.get("session_id")
        previous = metadata.get(PREVIOUS_TARGET_METADATA_KEY)
        return self.engine.plan(
            messages,
            binding,
            mode=mode,
            run_id=str(run_manager.run_id) if run_manager is not None else None,
            session_id=str(session) if session is not None else None,
            previous_target=previous if isinstance(previous, str) else None,
            metadata=metadata,
        )

    # -- calls ---------------------------------------------------------------------------------
    # A routed call is one run, the router's: the sides are called untraced, and the run is
    # stamped with the side that served it before it ends (see routing/routed_run.py).
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.plan(messages, kwargs, mode="invoke", run_manager=run_manager)
        handle = RunHandle.of(run_manager)
        child_kwargs = {"stop": stop, **kwargs}

        def call(target: str) -> AIMessage:
            child = partial(
                _invoke_untraced, step.model_for(target), step.messages_for(target), child_kwargs
            )
            return self.engine.call_with_deadline(child, target, step=step)

        try:
            answer = step.run(call)
        except BaseException:
            stamp_step(handle, step, None, stop=stop, kwargs=kwargs)
            raise
        stamp_step(handle, step, answer, stop=stop, kwargs=kwargs)
        return ChatResult(generations=[ChatGeneration(message=answer)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.plan(messages, kwargs, mode="ainvoke", run_manager=run_manager)
        handle = RunHandle.of(run_manager)
        child_kwargs = {"stop": stop, **kwargs}

        async def call(target: str) -> AIMessage:
            child = _ainvoke_untraced(
                step.model_for(target), await step.amessages_for(target), child_kwargs
            )
            return await self.engine.acall_with_deadline(child, target, step=step)

        try:
            answer = await step.arun(call)
        except BaseException:
            stamp_step(handle, step, None, stop=stop, kwargs=kwargs)
            raise
        stamp_step(handle, step, answer, stop=stop, kwargs=kwargs)
        return ChatResult(generations=[ChatGeneration(message=answer)])

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the routed answer (``BaseChatModel.stream``, as one run of the router)."""
        config, handle = stream_config(config, self.callbacks, is_async=False)
        chunks = super().stream(input, config, stop=stop, **kwargs)
        token = enter_stream_run(handle)
        try:
            first = next(chunks, None)  # _stream takes the handle before its first chunk
        finally:
            leave_stream_run(token)
        if first is None:
            return
        yield first
        yield from chunks

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async twin of :meth:`stream`."""
        config, handle = stream_config(config, self.callbacks, is_async=True)
        chunks = super().astream(input, config, stop=stop, **kwargs)
        token = enter_stream_run(handle)
        try:
            first = await anext(chunks, None)
        finally:
            leave_stream_run(token)
        if first is None:
            return
        yield first
        async for chunk in chunks:
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        handle = RunHandle.of(run_manager)
        step = self.plan(messages, kwargs, mode="stream", run_manager=run_manager)

        def open_stream(target: str, child_messages: list[BaseMessage]) -> Iterator[Any]:
            stream = step.model_for(target).stream(child_messages, _no_run(), stop=stop, **kwargs)
            return _untraced_stream(stream)

        buffered = step.binding.tools is not None and self.validate_tool_calls
        try:
            yield from relay_stream(step, open_stream, run_manager, buffered=buffered)
        except BaseException:
            stamp_step(handle, step, None, stop=stop, kwargs=kwargs)
            raise
        stamp_step(handle, step, step.outcome.answer, stop=stop, kwargs=kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        handle = RunHandle.of(run_manager)
        step = self.plan(messages, kwargs, mode="astream", run_manager=run_manager)

        def open_stream(target: str, child_messages: list[BaseMessage]) -> AsyncIterator[Any]:
            stream = step.model_for(target).astream(child_messages, _no_run(), stop=stop, **kwargs)
            return _auntraced_stream(stream)

        buffered = step.binding.tools is not None and self.validate_tool_calls
        try:
            async for out in arelay_stream(step, open_stream, run_manager, buffered=buffered):
                yield out
        except BaseException:
            stamp_step(handle, step, None, stop=stop, kwargs=kwargs)
            raise
        stamp_step(handle, step, step.outcome.answer, stop=stop, kwargs=kwargs)


def _invoke_untraced(
    runnable: Runnable[Any, Any], messages: list[BaseMessage], kw: dict[str, Any]
) -> AIMessage:
    with untraced():
        return invoke_child(runnable, messages, _no_run(), kw)


async def _ainvoke_untraced(
    runnable: Runnable[Any, Any], messages: list[BaseMessage], kw: dict[str, Any]
) -> AIMessage:
    with untraced():
        return await ainvoke_child(runnable, messages, _no_run(), kw)


def _untraced_stream(stream: Iterator[Any]) -> Iterator[Any]:
    """``stream`` with its run-starting first step untraced (a side's stream is no run)."""
    with untraced():
        first = next(stream, _END)
    if first is _END:
        return
    yield first
    yield from stream


async def _auntraced_stream(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Async twin of :func:`_untraced_stream`."""
    with untraced():
        first = await anext(stream, _END)
    if first is _END:
        return
    yield first
    async for chunk in stream:
        yield chunk


_END = object()


def _no_run() -> RunnableConfig:
    """A side's config: no handlers, so the side starts no run (the router's is the one).

    An empty list, not ``None``: ``ensure_config`` fills a missing ``callbacks`` from the
    enclosing chain's context, whose handlers would then see the side as a second run.
    """
    return {"callbacks": []}


def _model_name(model: BaseChatModel) -> str:
    for attr in ("model_name", "model", "model_id", "model_path"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return model._llm_type
