"""``NetGPTRouter``: a chat model that routes every call between an edge and a cloud model.

:meth:`NetGPTRouter.plan` makes the pure decision (features -> score -> network -> policy ->
budget); a :class:`~langchain_netgpt.routing.executor.RoutedStep` carries it through the calls
(validate, fall back, measure) and ends in exactly one :class:`RouteTrace`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_netgpt.errors import StepTimeoutError
from langchain_netgpt.routing._jsonschema import schema_problems
from langchain_netgpt.routing.executor import (
    RoutedStep,
    ToolBinding,
    ainvoke_child,
    child_callbacks,
    invoke_child,
)
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkEstimator, NetworkMonitor
from langchain_netgpt.routing.policy import (
    CLOUD,
    EDGE,
    CloudBudget,
    NetGPTPolicy,
    RouteDecision,
    RoutePolicy,
)
from langchain_netgpt.routing.privacy import PrivacyRules, scrub_trace
from langchain_netgpt.routing.prompt_completion import EdgePromptCompleter, PromptCompletion
from langchain_netgpt.routing.qos import MultiTargetPolicy, QoSPolicy, TargetRouting
from langchain_netgpt.routing.reliability import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    RetryPolicy,
)
from langchain_netgpt.routing.scoring import EdgeScorer, HeuristicScorer
from langchain_netgpt.routing.streaming import StreamRelay
from langchain_netgpt.routing.targets import LoadSnapshot, TargetSpec
from langchain_netgpt.tracing import RouteTrace, TraceSink, TraceStore
from langchain_netgpt.tracing.scrub import SecretScrubber

__all__ = ["PREVIOUS_TARGET_METADATA_KEY", "NetGPTRouter"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

PREVIOUS_TARGET_METADATA_KEY = "netgpt.previous_target"
"""Run-metadata key naming the side of the conversation's previous turn (it overrides what the
last AI message says; the LangGraph node sets it from the route history in the graph state)."""


class NetGPTRouter(BaseChatModel):
    """A chat model that sends each call to an edge or a cloud model, network-aware.

    Every call is scored (``scorer``), the network is read (``monitor``), the ``policy`` decides
    and the ``budget`` (if any) may veto the cloud. The chosen model answers; an exception, a
    timeout (``step_timeout_s``) or tool calls that do not fit the bound schemas send the step to
    the other side (``fallback``). The answer carries the decision in
    ``response_metadata["netgpt"]``, the child run is tagged ``netgpt:edge`` / ``netgpt:cloud``
    with ``netgpt.*`` metadata for LangSmith, and one :class:`RouteTrace` goes to every sink.

    Streaming: without tools, chunks stream live (a failure before the first chunk still falls
    back); with tools bound and validation on, the child's chunks are collected, validated, then
    replayed, so an invalid tool call can still fall back.

    Args:
        edge: The edge chat model.
        cloud: The cloud chat model.
        policy: The routing policy.
        scorer: The edge-success scorer.
        monitor: The network monitor.
        budget: Optional cloud budget honoured whatever the policy says.
        sinks: Where traces go.
        store: A :class:`TraceStore` (or the path of its SQLite file) that gets every trace too.
        step_timeout_s: Deadline per model try (``invoke``/``ainvoke``), or ``None``.
        fallback: Whether to try the other side when the first fails.
        validate_tool_calls: Whether to check tool calls against the bound schemas.
        step_deadline_s: One deadline for the whole step (tries, retry waits, fallback), or
            ``None``; each try gets ``min(step_timeout_s, time left)``.
        retry: Retries of the same side (default: none) for 429/5xx/connection failures.
        circuit_breaker: A circuit breaker per side, or ``None``: once open, steps go to the
            other side at once (``fallback_reason`` starts with ``circuit_open``).
        privacy: Rules that keep a step on the edge (``overridden_by="privacy"``); a private
            step does not fall back to the cloud unless the rules allow it.
        prompt_completion: Before a cloud call, complete the last user message with the local
            context it refers to
            (:class:`~langchain_netgpt.routing.prompt_completion.PromptCompletion`); personal fields
            stay on the device and the trace keeps ``prompt_completion``.
        targets: Several named targets instead of ``edge``/``cloud``: any number of edge
            experts and one or more clouds (:class:`~langchain_netgpt.routing.targets.TargetSpec`,
            each with its model, SLO, quality estimate and concurrency). The ``policy`` must rank
            targets (default :class:`~langchain_netgpt.routing.qos.QoSPolicy`); the router tracks
            every target's load and falls back along the policy's ranking. ``edge``/``cloud`` are
            then the first edge and cloud targets. See ``docs/howto/multi-target.md``.
        scrub_secrets: Remove credentials (API keys, ``Authorization`` values, ``*_KEY`` /
            ``*_TOKEN`` environment values) from traces before the sinks see them.

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

    edge: BaseChatModel
    cloud: BaseChatModel
    policy: RoutePolicy = Field(default_factory=NetGPTPolicy)
    scorer: EdgeScorer = Field(default_factory=HeuristicScorer)
    monitor: NetworkEstimator = Field(default_factory=NetworkMonitor)
    budget: CloudBudget | None = None
    sinks: list[TraceSink] = Field(default_factory=list)
    store: TraceStore | None = None
    step_timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    fallback: bool = True
    validate_tool_calls: bool = True
    step_deadline_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="One deadline for the whole step: every try, retry wait and the fallback.",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    circuit_breaker: CircuitBreakerConfig | None = Field(
        default=None, description="Circuit breaker per side (None: none)."
    )
    privacy: PrivacyRules | None = Field(
        default=None, description="Rules that keep a step on the edge whatever the score."
    )
    scrub_secrets: bool = Field(
        default=True, description="Remove credentials from traces before they reach the sinks."
    )
    prompt_completion: PromptCompletion | None = Field(
        default=None,
        description="Complete the request with local context before cloud calls (edge-side).",
    )

    _bindings: OrderedDict[tuple[int, str], tuple[Any, ToolBinding]] = PrivateAttr(
        default_factory=OrderedDict
    )
    _pool: concurrent.futures.ThreadPoolExecutor | None = PrivateAttr(default=None)
    _breakers: dict[str, CircuitBreaker] = PrivateAttr(default_factory=dict)
    _breakers_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _scrubber: SecretScrubber | None = PrivateAttr(default=None)
    _routing: TargetRouting | None = PrivateAttr(default=None)
    _completer: EdgePromptCompleter | None = PrivateAttr(default=None)
    sink_errors: int = Field(default=0, exclude=True, description="Traces a sink failed to take.")

    targets: dict[str, TargetSpec] | None = Field(
        default=None, description="Named edge experts and clouds (instead of edge=/cloud=)."
    )

    @model_validator(mode="before")
    @classmethod
    def _targets_name_edge_and_cloud(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("targets") is None:
            return data
        if data.get("edge") is not None or data.get("cloud") is not None:
            raise ValueError("give either targets= or edge=/cloud=, not both")
        raw = data["targets"]
        if not isinstance(raw, Mapping) or not raw:
            raise ValueError(
                f"targets must be a non-empty mapping of name -> TargetSpec, got {raw!r}"
            )
        specs = {
            str(name): spec if isinstance(spec, TargetSpec) else TargetSpec.model_validate(spec)
            for name, spec in raw.items()
        }
        for name, spec in specs.items():
            if spec.model is None:
                raise ValueError(f"target {name!r} has no model; a router target needs model=")
        first = {
            kind: next((s.model for s in specs.values() if s.kind == kind), None)
            for kind in (EDGE, CLOUD)
        }
        if first[EDGE] is None or first[CLOUD] is None:
            kinds = {name: spec.kind for name, spec in specs.items()}
            raise ValueError(f"targets need at least one edge and one cloud, got kinds {kinds}")
        policy = data.get("policy") or QoSPolicy()
        if not isinstance(policy, MultiTargetPolicy):
            raise ValueError(
                f"targets= needs a policy that ranks targets (QoSPolicy, LeastLoadedPolicy, "
                f"RoundRobinPolicy, RandomTargetPolicy), got {type(policy).__name__}"
            )
        return {
            **data,
            "targets": specs,
            "edge": first[EDGE],
            "cloud": first[CLOUD],
            "policy": policy,
        }

    def _target_routing(self) -> TargetRouting | None:
        if self.targets is None:
            return None
        routing = self._routing
        if (
            routing is None
            or routing.policy is not cast("MultiTargetPolicy", self.policy)
            or routing.scorer is not self.scorer
        ):
            # Built once (and again only if the policy or scorer is swapped): it holds the loads.
            loads = routing.loads if routing is not None else None
            routing = TargetRouting(
                self.targets, cast("MultiTargetPolicy", self.policy), self.scorer
            )
            if loads is not None:
                routing.loads = loads
            self._routing = routing
        return routing

    def target_loads(self) -> dict[str, LoadSnapshot]:
        """Load of every named target now (in flight, queued, measured service time, SLO misses).

        Raises:
            ValueError: The router was built with ``edge=``/``cloud=``, not ``targets=``.
        """
        routing = self._target_routing()
        if routing is None:
            raise ValueError("target_loads() needs a router built with targets=")
        return routing.loads.snapshot()

    @field_validator("store", mode="before")
    @classmethod
    def _open_store(cls, value: Any) -> Any:
        if isinstance(value, str | os.PathLike):
            return TraceStore(value)
        return value

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
                or ``{"type": "function", "function": {"name": ...}}``.
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
        forced = ToolBinding(formatted, tool_choice, self.edge, self.cloud).forced_tool()
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
        key = (id(tools), repr(tool_choice) + repr(parallel))
        cached = self._bindings.get(key)
        if cached is not None and cached[0] is tools:
            return cached[1]
        if tools:
            extra: dict[str, Any] = {} if parallel is None else {"parallel_tool_calls": parallel}
            edge: Runnable[Any, Any] = self.edge.bind_tools(tools, tool_choice=tool_choice, **extra)
            cloud: Runnable[Any, Any] = self.cloud.bind_tools(
                tools, tool_choice=tool_choice, **extra
            )
            models = None
            if self.targets is not None:
                models = {
                    name: cast("BaseChatModel", spec.model).bind_tools(
                        tools, tool_choice=tool_choice, **extra
                    )
                    for name, spec in self.targets.items()
                }
            binding = ToolBinding(list(tools), tool_choice, edge, cloud, models)
        else:
            plain = None
            if self.targets is not None:
                plain = {name: cast("BaseChatModel", t.model) for name, t in self.targets.items()}
            binding = ToolBinding(None, None, self.edge, self.cloud, plain)
        # Keep a reference to `tools` so its id cannot be reused while the entry lives.
        self._bindings[key] = (tools, binding)
        if len(self._bindings) > 64:
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
        """Decide where a call goes (pure apart from the budget's bookkeeping).

        ``kwargs`` loses the routing-only keys (``tools``, ``tool_choice``,
        ``parallel_tool_calls``); what is left is passed to the child model. The run's metadata
        may name the conversation (``thread_id`` / ``session_id``) and the side of its previous
        turn (:data:`PREVIOUS_TARGET_METADATA_KEY`, set by the LangGraph node).
        """
        binding = self._binding(kwargs)
        metadata = run_manager.metadata if run_manager is not None else {}
        session = metadata.get("thread_id") or metadata.get("session_id")
        previous = metadata.get(PREVIOUS_TARGET_METADATA_KEY)
        return self.plan_step(
            messages,
            binding,
            mode=mode,
            run_id=str(run_manager.run_id) if run_manager is not None else None,
            session_id=str(session) if session is not None else None,
            previous_target=previous if isinstance(previous, str) else None,
            metadata=metadata,
        )

    def plan_step(
        self,
        messages: list[BaseMessage],
        binding: ToolBinding,
        *,
        mode: str,
        run_id: str | None = None,
        session_id: str | None = None,
        previous_target: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RoutedStep:
        """Decide where a call with these tools goes: the decision every front door shares.

        Args:
            messages: The call's messages (system message included).
            binding: The tools of the call (see
                :class:`~langchain_netgpt.routing.executor.ToolBinding`).
            mode: How the call is made, for the trace (``invoke``, ``ainvoke``, ...).
            run_id: LangChain run id of the call, if known.
            session_id: Conversation / thread id, if known.
            previous_target: Side of the conversation's previous turn; by default read from the
                routing metadata of the last AI message.
            metadata: The run's metadata (``sensitive=True`` makes the step private).

        Returns:
            The step, ready to be run (this router owns its budget, monitor and sinks).

        Raises:
            TypeError: A ``sensitive`` flag is not a bool.
        """
        features = RequestFeatures.from_messages(
            messages, binding.summary, previous_target=previous_target
        )
        routing = self._target_routing()
        network = self.monitor.state(payload_bytes=features.payload_bytes)
        budget = self.budget
        shift = -budget.threshold_shift if budget is not None else 0.0
        loads = None
        if routing is None:
            score = self.scorer.score(features, messages)
            decision = self.policy.decide(features, score, network, threshold_shift=shift)
        else:
            decision, loads = routing.decide(features, messages, network, cloud_shift=shift)
        private = self.privacy.check(messages, metadata) if self.privacy is not None else None
        if private is not None:
            # Forced: the score does not matter and the trace names the rule, not the text.
            decision = _to_edge(
                decision,
                routing,
                overridden_by="privacy",
                reason=private.describe(),
                propensity=1.0,
            )
        slot = None
        if budget is not None:
            wants_cloud = (
                decision.target == CLOUD if routing is None else routing.is_cloud(decision.target)
            )
            slot = budget.reserve(
                wants_cloud=wants_cloud, price_usd=decision.expected_cloud_price_usd
            )
            if wants_cloud and not slot.cloud:
                # A forced action has propensity 1: the logged choice was not the policy's draw.
                decision = _to_edge(
                    decision,
                    routing,
                    overridden_by="budget",
                    reason=slot.reason or "budget",
                    propensity=1.0,
                )
        return RoutedStep(
            self,
            messages=messages,
            binding=binding,
            features=features,
            network=network,
            decision=decision,
            slot=slot,
            mode=mode,
            run_id=run_id,
            session_id=session_id,
            private=private,
            completion=self._prompt_completer(),
            routing=routing,
            target_loads=loads,
        )

    def _prompt_completer(self) -> EdgePromptCompleter | None:
        option = self.prompt_completion
        if option is None:
            return None
        if self._completer is None or self._completer.option is not option:
            self._completer = EdgePromptCompleter(
                option, model=self.edge if option.use_edge_model else None
            )
        return self._completer

    # -- reliability ---------------------------------------------------------------------------
    def breaker_for(self, target: str) -> CircuitBreaker | None:
        """The circuit breaker of a side (``None`` when ``circuit_breaker`` is not set)."""
        if self.circuit_breaker is None:
            return None
        with self._breakers_lock:
            breaker = self._breakers.get(target)
            if breaker is None:
                breaker = self._breakers[target] = CircuitBreaker(self.circuit_breaker)
            return breaker

    def circuit_state(self, target: str) -> CircuitState:
        """State of a side's circuit (``closed`` when no breaker is configured).

        Raises:
            ValueError: ``target`` is neither ``"edge"`` nor ``"cloud"`` (nor a named target).
        """
        if self.targets is not None and target in self.targets:
            breaker = self.breaker_for(target)
            return CircuitState.CLOSED if breaker is None else breaker.state
        if target not in (EDGE, CLOUD):
            raise ValueError(f"target must be {EDGE!r} or {CLOUD!r}, got {target!r}")
        breaker = self.breaker_for(target)
        return CircuitState.CLOSED if breaker is None else breaker.state

    def _scrubbed(self, trace: RouteTrace) -> RouteTrace:
        if self._scrubber is None:
            self._scrubber = SecretScrubber.from_environ()
        return scrub_trace(trace, self._scrubber)

    def emit_trace(self, trace: RouteTrace) -> None:
        """Send a trace to every sink; a failing sink is counted and logged, never fatal."""
        if self.scrub_secrets:
            trace = self._scrubbed(trace)
        for sink in [*self.sinks, self.store] if self.store is not None else self.sinks:
            try:
                sink.write(trace)
            except Exception:
                # The step's answer must still reach the agent; the lost trace is counted
                # and logged with its id so it can be found in the other sinks.
                self.sink_errors += 1
                logger.exception("netgpt: sink %r failed to store trace %s", sink, trace.trace_id)

    # -- calls ---------------------------------------------------------------------------------
    def _timeout_error(self, target: str, timeout: float) -> StepTimeoutError:
        return StepTimeoutError(
            f"{target} did not answer within {timeout:.3f} s "
            f"(step_timeout_s={self.step_timeout_s}, step_deadline_s={self.step_deadline_s})",
            target=target,
            timeout_s=timeout,
        )

    def _try_timeout(self, step: RoutedStep | None) -> float | None:
        return self.step_timeout_s if step is None else step.try_timeout_s(self.step_timeout_s)

    def call_with_deadline(
        self, call: Callable[[], _T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Run ``call()``, giving up after ``step_timeout_s`` (the call runs in a worker thread).

        Args:
            call: The model call.
            target: The side called (for the error).
            step: The step the call belongs to; its ``step_deadline_s`` shortens the wait.

        Raises:
            StepTimeoutError: The deadline passed first.
        """
        timeout = self._try_timeout(step)
        if timeout is None:
            return call()
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="netgpt-step")
        future = self._pool.submit(call)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timeout_error(target, timeout) from None

    async def acall_with_deadline(
        self, call: Awaitable[_T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Await ``call``, cancelling it after ``step_timeout_s`` (or the step's deadline).

        Raises:
            StepTimeoutError: The deadline passed first.
        """
        timeout = self._try_timeout(step)
        if timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError:
            raise self._timeout_error(target, timeout) from None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.plan(messages, kwargs, mode="invoke", run_manager=run_manager)
        callbacks = child_callbacks(run_manager)

        def call(target: str) -> AIMessage:
            config = step.config_for(target, callbacks)
            child = partial(
                invoke_child,
                step.model_for(target),
                step.messages_for(target),
                config,
                {"stop": stop, **kwargs},
            )
            return self.call_with_deadline(child, target, step=step)

        return ChatResult(generations=[ChatGeneration(message=step.run(call))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.plan(messages, kwargs, mode="ainvoke", run_manager=run_manager)
        callbacks = child_callbacks(run_manager)

        async def call(target: str) -> AIMessage:
            config = step.config_for(target, callbacks)
            child = ainvoke_child(
                step.model_for(target),
                await step.amessages_for(target),
                config,
                {"stop": stop, **kwargs},
            )
            return await self.acall_with_deadline(child, target, step=step)

        return ChatResult(generations=[ChatGeneration(message=await step.arun(call))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        step = self.plan(messages, kwargs, mode="stream", run_manager=run_manager)
        callbacks = child_callbacks(run_manager)
        relay = StreamRelay(
            step, buffered=step.binding.tools is not None and self.validate_tool_calls
        )
        for target in step.candidates():
            relay.begin(target)
            load = step.start_load(target)
            try:
                stream = step.model_for(target).stream(
                    step.messages_for(target),
                    step.config_for(target, callbacks),
                    stop=stop,
                    **kwargs,
                )
                for chunk in stream:
                    yield from relay.push(chunk, run_manager)
                if load is not None:
                    load.ok = True
            except Exception as exc:
                relay.failed(exc)
                continue
            finally:
                step.finish_load(load)
            if relay.done():
                break
        yield from relay.finish(run_manager)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        step = self.plan(messages, kwargs, mode="astream", run_manager=run_manager)
        callbacks = child_callbacks(run_manager)
        relay = StreamRelay(
            step, buffered=step.binding.tools is not None and self.validate_tool_calls
        )
        for target in step.candidates():
            relay.begin(target)
            load = step.start_load(target)
            try:
                stream = step.model_for(target).astream(
                    await step.amessages_for(target),
                    step.config_for(target, callbacks),
                    stop=stop,
                    **kwargs,
                )
                async for chunk in stream:
                    for out in relay.push(chunk, None):
                        if run_manager is not None:
                            await run_manager.on_llm_new_token(out.text, chunk=out)
                        yield out
                if load is not None:
                    load.ok = True
            except Exception as exc:
                relay.failed(exc)
                continue
            finally:
                step.finish_load(load)
            if relay.done():
                break
        for out in relay.finish(None):
            if run_manager is not None:
                await run_manager.on_llm_new_token(out.text, chunk=out)
            yield out


def _to_edge(
    decision: RouteDecision, routing: TargetRouting | None, **changes: Any
) -> RouteDecision:
    """The decision moved to the edge (the best-ranked edge target with named targets)."""
    if routing is None:
        return replace(decision, target=EDGE, **changes)
    target = routing.best_edge(decision)
    rest = tuple(n for n in (decision.target, *decision.alternatives) if n != target)
    return replace(decision, target=target, alternatives=rest, **changes)


def _model_name(model: BaseChatModel) -> str:
    for attr in ("model_name", "model", "model_id", "model_path"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return model._llm_type
