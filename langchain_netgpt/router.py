"""``NetGPTRouter``: a chat model that routes every call between an edge and a cloud model.

One executor serves every entry point: :meth:`NetGPTRouter.plan` makes the pure decision
(features -> score -> network -> policy -> budget), a :class:`RoutedStep` carries it through the
calls (validate, fall back, measure) and ends in exactly one :class:`RouteTrace`. The sync and async
paths differ only in how they call the child model.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import operator
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import reduce
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_netgpt._jsonschema import validate_json_schema
from langchain_netgpt.errors import (
    InvalidToolCallError,
    RoutingError,
    StepTimeoutError,
)
from langchain_netgpt.features import RequestFeatures, ToolsSummary
from langchain_netgpt.network import NetworkMonitor, NetworkState
from langchain_netgpt.policy import CLOUD, EDGE, BudgetSlot, CloudBudget, NetGPTPolicy, RouteDecision, RoutePolicy
from langchain_netgpt.scoring import EdgeScorer, HeuristicScorer
from langchain_netgpt.tracing import AttemptRecord, RouteTrace, TraceSink

__all__ = ["NetGPTRouter", "RoutedStep", "ToolBinding"]

logger = logging.getLogger(__name__)

_FORCING_CHOICES = ("any", "required")


class ToolBinding:
    """The tools bound for a call, bound once on both sides and summarised for routing."""

    __slots__ = ("edge", "cloud", "schemas", "summary", "tool_choice", "tools")

    def __init__(
        self,
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
        edge: Runnable[Any, Any],
        cloud: Runnable[Any, Any],
    ) -> None:
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


def _response_bytes(message: AIMessage) -> int:
    size = 300 + len(message.text)
    for call in message.tool_calls:
        size += 60 + len(call["name"]) + len(json.dumps(call["args"], default=str))
    return size


class RoutedStep:
    """One routed call in flight: the decision, the attempts, and the trace it ends in.

    Built by :meth:`NetGPTRouter.plan`; the router's (and middleware's) loops call
    :meth:`candidates`, then :meth:`failed` or :meth:`accept` per attempt, then :meth:`finish`.
    """

    def __init__(
        self,
        router: NetGPTRouter,
        *,
        messages: list[BaseMessage],
        binding: ToolBinding,
        features: RequestFeatures,
        network: NetworkState,
        decision: RouteDecision,
        slot: BudgetSlot | None,
        mode: str,
        run_id: str | None,
        session_id: str | None,
    ) -> None:
        self.router = router
        self.messages = messages
        self.binding = binding
        self.features = features
        self.network = network
        self.decision = decision
        self.slot = slot
        self.mode = mode
        self.run_id = run_id
        self.session_id = session_id
        self.started = time.perf_counter()
        self.attempts: list[AttemptRecord] = []
        self.answer: AIMessage | None = None
        self.answer_target: str | None = None
        self.answer_valid: bool | None = None
        self.answer_problems: list[str] = []
        self.fallback_reason: str | None = None
        self.ttfb_s: float | None = None
        self._pending: AIMessage | None = None  # an invalid answer kept in case all else fails

    # -- the plan -----------------------------------------------------------------------------
    def candidates(self) -> Iterator[str]:
        """Targets to try, in order: the decision, then (with fallback on) the other side."""
        first = self.decision.target
        yield first
        if not self.router.fallback or self.answer is not None:
            return
        second = CLOUD if first == EDGE else EDGE
        if second == CLOUD and self.slot is not None and self.router.budget is not None:
            if not self.router.budget.upgrade(
                self.slot, price_usd=self.decision.expected_cloud_price_usd
            ):
                self.fallback_reason = (self.fallback_reason or "") + f"; {self.slot.reason}"
                return
        if second == EDGE and self.slot is not None and self.router.budget is not None:
            self.router.budget.downgrade(self.slot)
        yield second

    def model_for(self, target: str) -> Runnable[Any, Any]:
        """The child model (with tools bound) for a target."""
        return self.binding.edge if target == EDGE else self.binding.cloud

    def config_for(self, target: str, callbacks: Any) -> RunnableConfig:
        """Child-run config: callbacks, and the route as LangSmith tags and metadata."""
        return {
            "callbacks": callbacks,
            "tags": [f"netgpt:{target}"],
            "metadata": {
                "netgpt.route": target,
                "netgpt.score": round(self.decision.score, 4),
                "netgpt.threshold": round(self.decision.threshold, 4),
                "netgpt.rtt_ms": round(self.network.rtt_ms, 1),
                "netgpt.bandwidth_mbps": round(self.network.bandwidth_up_mbps, 3),
                "netgpt.fallback": target != self.decision.target,
            },
        }

    # -- outcomes -----------------------------------------------------------------------------
    def failed(self, target: str, exc: BaseException, elapsed_s: float) -> None:
        """Record a try that raised."""
        self.attempts.append(
            AttemptRecord(
                target=target,
                ok=False,
                latency_s=elapsed_s,
                error_type=type(exc).__name__,
                error=str(exc)[:2000],
            )
        )
        self.fallback_reason = f"{target} failed: {type(exc).__name__}: {str(exc)[:200]}"

    def accept(self, target: str, message: AIMessage, elapsed_s: float) -> bool:
        """Validate a try's answer; return whether to stop trying.

        An answer whose tool calls do not fit the bound schemas is refused while another target
        remains to be tried; the last one is returned as it is (and traced as invalid).
        """
        problems = self.binding.problems(message) if self.router.validate_tool_calls else []
        valid: bool | None = None if self.binding.tools is None else not problems
        self.attempts.append(
            AttemptRecord(
                target=target,
                ok=not problems,
                latency_s=elapsed_s,
                tool_calls_valid=valid,
                problems=problems[:20],
                error_type=InvalidToolCallError.__name__ if problems else None,
            )
        )
        if problems:
            self.fallback_reason = f"{target} answered with invalid tool calls: {problems[0]}"
            if self._pending is None:
                self._pending = message
                self.answer_target, self.answer_valid = target, False
                self.answer_problems = problems
            return False
        self.answer, self.answer_target, self.answer_valid = message, target, valid
        self.answer_problems = []
        if target == CLOUD:
            self._observe(message, elapsed_s)
        return True

    def _observe(self, message: AIMessage, elapsed_s: float) -> None:
        d = self.decision
        expected_network = self.network.rtt_ms / 1000 + self.network.transfer_s(
            up_bytes=self.features.payload_bytes, down_bytes=_response_bytes(message)
        )
        server_s = max(0.0, d.expected_cloud_s - expected_network) if expected_network < 1e9 else 0.0
        try:
            self.router.monitor.observe(
                bytes_sent=self.features.payload_bytes,
                bytes_received=_response_bytes(message),
                total_s=elapsed_s,
                ttfb_s=self.ttfb_s if self.ttfb_s is not None and self.ttfb_s <= elapsed_s else None,
                server_s=min(server_s, elapsed_s),
            )
        except Exception:  # a broken monitor must not break routing; it is logged, not hidden
            logger.exception("netgpt: the network monitor rejected an observation")

    def finish(self, *, error: BaseException | None = None) -> AIMessage:
        """Close the step: write its trace and return the answer with routing metadata.

        Raises:
            RoutingError: No target produced an answer (the trace is written first).
        """
        if self.answer is None and self._pending is not None:
            self.answer = self._pending  # every side answered invalidly: return the first answer
        answer = self.answer
        final = self.answer_target if answer is not None else None
        if self.slot is not None and self.router.budget is not None and final == EDGE:
            self.router.budget.downgrade(self.slot)
        latency = time.perf_counter() - self.started
        fallback = final is not None and final != self.decision.target
        price = self.decision.expected_cloud_price_usd if final == CLOUD else 0.0
        error_text = None
        if answer is None:
            causes = "; ".join(f"{a.target}: {a.error_type}: {a.error}" for a in self.attempts)
            error_text = f"no target answered ({causes})" if causes else str(error)
        d = self.decision
        info: dict[str, Any] = {
            "target": final,
            "decided_target": d.target,
            "score": d.score,
            "threshold": d.threshold,
            "policy": d.policy,
            "reason": d.reason,
            "overridden_by": d.overridden_by,
            "fallback": fallback,
            "fallback_reason": self.fallback_reason if fallback or answer is None else None,
            "tool_calls_valid": self.answer_valid,
            "latency_ms": round(latency * 1000, 3),
            "rtt_ms": self.network.rtt_ms,
            "bandwidth_up_mbps": self.network.bandwidth_up_mbps,
            "bandwidth_down_mbps": self.network.bandwidth_down_mbps,
        }
        trace = RouteTrace.model_construct(
            run_id=self.run_id,
            session_id=self.session_id,
            mode=self.mode,
            decided_target=d.target,
            score=d.score,
            threshold=d.threshold,
            policy=d.policy,
            reason=d.reason,
            overridden_by=d.overridden_by,
            expected_edge_s=d.expected_edge_s,
            expected_cloud_s=d.expected_cloud_s if d.expected_cloud_s < 1e18 else None,
            expected_cloud_price_usd=d.expected_cloud_price_usd,
            network=self.network,
            features=self.features.to_dict(),
            attempts=self.attempts,
            final_target=final,
            fallback=fallback,
            fallback_reason=info["fallback_reason"],
            latency_s=latency,
            cloud_price_usd=price,
            bytes_sent=self.features.payload_bytes if CLOUD in {a.target for a in self.attempts} else 0,
            bytes_received=_response_bytes(answer) if answer is not None and final == CLOUD else 0,
            usage=dict(answer.usage_metadata) if answer is not None and answer.usage_metadata else None,
            tool_calls_valid=self.answer_valid,
            error=error_text,
            tools=self.binding.tools or [],
            tool_choice=self.binding.tool_choice,
            messages=self.messages,
            output=answer,
        )
        info["trace_id"] = trace.trace_id
        self.router._emit(trace)
        if answer is None:
            raise RoutingError(
                f"netgpt: {error_text}",
                attempts=[(a.target, RuntimeError(a.error or "")) for a in self.attempts],
            )
        answer.response_metadata = {**answer.response_metadata, "netgpt": info}
        return answer


def _collect(chunks: list[AIMessageChunk]) -> AIMessage:
    merged: AIMessageChunk = reduce(operator.add, chunks)
    return AIMessage(
        content=merged.content,
        tool_calls=merged.tool_calls,
        invalid_tool_calls=merged.invalid_tool_calls,
        usage_metadata=merged.usage_metadata,
        response_metadata=merged.response_metadata,
        id=merged.id,
    )


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
        step_timeout_s: Deadline per model try (``invoke``/``ainvoke``), or ``None``.
        fallback: Whether to try the other side when the first fails.
        validate_tool_calls: Whether to check tool calls against the bound schemas.

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
    monitor: NetworkMonitor = Field(default_factory=NetworkMonitor)
    budget: CloudBudget | None = None
    sinks: list[TraceSink] = Field(default_factory=list)
    step_timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    fallback: bool = True
    validate_tool_calls: bool = True

    _bindings: OrderedDict[tuple[int, str], tuple[Any, ToolBinding]] = PrivateAttr(
        default_factory=OrderedDict
    )
    _pool: concurrent.futures.ThreadPoolExecutor | None = PrivateAttr(default=None)
    sink_errors: int = Field(default=0, exclude=True, description="Traces a sink failed to take.")

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
            ls_model_name=f"{_model_name(self.edge)}|{_model_name(self.cloud)}",
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
            ValueError: ``tool_choice`` names a tool that is not bound.
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        names = [t["function"]["name"] for t in formatted]
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
            binding = ToolBinding(list(tools), tool_choice, edge, cloud)
        else:
            binding = ToolBinding(None, None, self.edge, self.cloud)
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
        ``parallel_tool_calls``); what is left is passed to the child model.
        """
        binding = self._binding(kwargs)
        features = RequestFeatures.from_messages(messages, binding.summary)
        score = self.scorer.score(features, messages)
        network = self.monitor.state(payload_bytes=features.payload_bytes)
        budget = self.budget
        shift = -budget.threshold_shift if budget is not None else 0.0
        decision = self.policy.decide(features, score, network, threshold_shift=shift)
        slot = None
        if budget is not None:
            slot = budget.reserve(
                wants_cloud=decision.target == CLOUD, price_usd=decision.expected_cloud_price_usd
            )
            if decision.target == CLOUD and not slot.cloud:
                decision = replace(
                    decision, target=EDGE, overridden_by="budget", reason=slot.reason or "budget"
                )
        metadata = run_manager.metadata if run_manager is not None else {}
        session = metadata.get("thread_id") or metadata.get("session_id")
        return RoutedStep(
            self,
            messages=messages,
            binding=binding,
            features=features,
            network=network,
            decision=decision,
            slot=slot,
            mode=mode,
            run_id=str(run_manager.run_id) if run_manager is not None else None,
            session_id=str(session) if session is not None else None,
        )

    def _emit(self, trace: RouteTrace) -> None:
        for sink in self.sinks:
            try:
                sink.write(trace)
            except Exception:
                # The step's answer must still reach the agent; the lost trace is counted
                # and logged with its id so it can be found in the other sinks.
                self.sink_errors += 1
                logger.exception("netgpt: sink %r failed to store trace %s", sink, trace.trace_id)

    # -- calls ---------------------------------------------------------------------------------
    def _timeout_error(self, target: str) -> StepTimeoutError:
        timeout = self.step_timeout_s or 0.0
        return StepTimeoutError(
            f"{target} did not answer within step_timeout_s={timeout}", target=target, timeout_s=timeout
        )

    def _call(self, step: RoutedStep, target: str, config: RunnableConfig, **kw: Any) -> AIMessage:
        model = step.model_for(target)
        if self.step_timeout_s is None:
            return _as_ai(model.invoke(step.messages, config, **kw))
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="netgpt-step")
        future = self._pool.submit(model.invoke, step.messages, config, **kw)
        try:
            return _as_ai(future.result(timeout=self.step_timeout_s))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timeout_error(target) from None

    async def _acall(
        self, step: RoutedStep, target: str, config: RunnableConfig, **kw: Any
    ) -> AIMessage:
        call = step.model_for(target).ainvoke(step.messages, config, **kw)
        if self.step_timeout_s is None:
            return _as_ai(await call)
        try:
            return _as_ai(await asyncio.wait_for(call, self.step_timeout_s))
        except TimeoutError:
            raise self._timeout_error(target) from None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.plan(messages, kwargs, mode="invoke", run_manager=run_manager)
        callbacks = _child_callbacks(run_manager)
        for target in step.candidates():
            t0 = time.perf_counter()
            try:
                answer = self._call(step, target, step.config_for(target, callbacks), stop=stop, **kwargs)
            except Exception as exc:
                step.failed(target, exc, time.perf_counter() - t0)
                continue
            if step.accept(target, answer, time.perf_counter() - t0):
                break
        return ChatResult(generations=[ChatGeneration(message=step.finish())])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.plan(messages, kwargs, mode="ainvoke", run_manager=run_manager)
        callbacks = _child_callbacks(run_manager)
        for target in step.candidates():
            t0 = time.perf_counter()
            try:
                answer = await self._acall(
                    step, target, step.config_for(target, callbacks), stop=stop, **kwargs
                )
            except Exception as exc:
                step.failed(target, exc, time.perf_counter() - t0)
                continue
            if step.accept(target, answer, time.perf_counter() - t0):
                break
        return ChatResult(generations=[ChatGeneration(message=step.finish())])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        step = self.plan(messages, kwargs, mode="stream", run_manager=run_manager)
        callbacks = _child_callbacks(run_manager)
        relay = _Relay(step, buffered=step.binding.tools is not None and self.validate_tool_calls)
        for target in step.candidates():
            relay.begin(target)
            try:
                stream = step.model_for(target).stream(
                    messages, step.config_for(target, callbacks), stop=stop, **kwargs
                )
                for chunk in stream:
                    yield from relay.push(chunk, run_manager)
            except Exception as exc:
                relay.failed(exc)
                continue
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
        callbacks = _child_callbacks(run_manager)
        relay = _Relay(step, buffered=step.binding.tools is not None and self.validate_tool_calls)
        for target in step.candidates():
            relay.begin(target)
            try:
                stream = step.model_for(target).astream(
                    messages, step.config_for(target, callbacks), stop=stop, **kwargs
                )
                async for chunk in stream:
                    for out in relay.push(chunk, None):
                        if run_manager is not None:
                            await run_manager.on_llm_new_token(out.text, chunk=out)
                        yield out
            except Exception as exc:
                relay.failed(exc)
                continue
            if relay.done():
                break
        for out in relay.finish(None):
            if run_manager is not None:
                await run_manager.on_llm_new_token(out.text, chunk=out)
            yield out


class _Relay:
    """Streaming half of the executor, shared by ``_stream`` and ``_astream``.

    Holds back the latest chunk so the routing metadata can ride on the last one; buffers the
    whole answer when it must be validated before anyone sees it.
    """

    def __init__(self, step: RoutedStep, *, buffered: bool) -> None:
        self.step = step
        self.buffered = buffered
        self.target = ""
        self.t0 = 0.0
        self.chunks: dict[str, list[AIMessageChunk]] = {}
        self.held: AIMessageChunk | None = None
        self.emitted = False

    def begin(self, target: str) -> None:
        self.target, self.t0, self.held = target, time.perf_counter(), None
        self.chunks[target] = []

    def push(
        self, chunk: Any, run_manager: CallbackManagerForLLMRun | None
    ) -> Iterator[ChatGenerationChunk]:
        if not isinstance(chunk, AIMessageChunk):
            raise TypeError(f"the {self.target} model streamed {type(chunk).__name__}, not chunks")
        chunks = self.chunks[self.target]
        if not chunks:
            self.step.ttfb_s = time.perf_counter() - self.t0
        chunks.append(chunk)
        if self.buffered:
            return
        previous, self.held = self.held, chunk
        if previous is not None:
            yield self._out(previous, run_manager)

    def _out(
        self, chunk: AIMessageChunk, run_manager: CallbackManagerForLLMRun | None
    ) -> ChatGenerationChunk:
        self.emitted = True
        out = ChatGenerationChunk(message=chunk)
        if run_manager is not None:
            run_manager.on_llm_new_token(chunk.text, chunk=out)
        return out

    def failed(self, exc: BaseException) -> None:
        """Record a failed stream; once chunks reached the caller, no other side may take over."""
        self.step.failed(self.target, exc, time.perf_counter() - self.t0)
        if self.emitted:
            try:
                self.step.finish(error=exc)  # writes the trace, then raises RoutingError
            except RoutingError as routing_error:
                raise routing_error from exc
            raise RoutingError(f"netgpt: the {self.target} stream failed mid-answer: {exc}")

    def done(self) -> bool:
        chunks = self.chunks[self.target]
        if not chunks:
            empty = RuntimeError("the model streamed no chunk")
            self.step.failed(self.target, empty, time.perf_counter() - self.t0)
            return False
        return self.step.accept(self.target, _collect(chunks), time.perf_counter() - self.t0)

    def finish(
        self, run_manager: CallbackManagerForLLMRun | None
    ) -> Iterator[ChatGenerationChunk]:
        answer = self.step.finish()
        target = self.step.answer_target or self.target
        if self.buffered or self.held is None or target != self.target:
            pending = self.chunks.get(target, [])
        else:
            pending = [self.held]
        if not pending:
            return
        last = pending[-1]
        meta = {**last.response_metadata, "netgpt": answer.response_metadata["netgpt"]}
        for chunk in [*pending[:-1], last.model_copy(update={"response_metadata": meta})]:
            yield self._out(chunk, run_manager)


def _child_callbacks(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
) -> CallbackManager | AsyncCallbackManager | None:
    """Callbacks for the child model's run, nested under the router's run.

    LLM run managers have no ``get_child`` (model runs are usually leaves); this does what a
    chain's ``get_child`` does, so the edge/cloud run appears inside the router's run.
    """
    if run_manager is None:
        return None
    cls = AsyncCallbackManager if isinstance(run_manager, AsyncCallbackManagerForLLMRun) else CallbackManager
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return manager


def _as_ai(message: Any) -> AIMessage:
    if not isinstance(message, AIMessage):
        raise TypeError(f"the child model returned {type(message).__name__}, not an AIMessage")
    return message


def _model_name(model: BaseChatModel) -> str:
    for attr in ("model_name", "model", "model_id", "model_path"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return model._llm_type
