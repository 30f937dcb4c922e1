"""The executor shared by every front door (router, middleware, graph node).

A :class:`RoutedStep` carries one decision through the calls: it validates each answer against the
bound tool schemas, falls back to the other side, feeds the network monitor and the budget, and
ends in exactly one :class:`~langchain_netgpt.tracing.RouteTrace`. The sync and async loops that
drive it differ only in how they call the child model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig

from langchain_netgpt.errors import (
    CircuitOpenError,
    InvalidToolCallError,
    PrivateStepError,
    RoutingError,
    StepTimeoutError,
)
from langchain_netgpt.routing._jsonschema import validate_json_schema
from langchain_netgpt.routing.features import RequestFeatures, ToolsSummary
from langchain_netgpt.routing.network import NetworkEstimator, NetworkState
from langchain_netgpt.routing.policy import CLOUD, EDGE, BudgetSlot, CloudBudget, RouteDecision
from langchain_netgpt.routing.privacy import PrivacyMatch, PrivacyRules
from langchain_netgpt.routing.prompt_completion import CompletedPrompt, EdgePromptCompleter
from langchain_netgpt.routing.reliability import CircuitBreaker, CircuitState, RetryPolicy
from langchain_netgpt.routing.self_offload import escalation_reason
from langchain_netgpt.tracing import (
    TRACE_SCHEMA_VERSION,
    AttemptRecord,
    PromptCompletionRecord,
    RouteTrace,
)
from langchain_netgpt.tracing.langsmith import route_metadata, route_tag, with_route_latency

if TYPE_CHECKING:
    from langchain_netgpt.routing.qos import TargetRouting
    from langchain_netgpt.routing.targets import LoadSnapshot

__all__ = [
    "RoutedStep",
    "StepOwner",
    "ToolBinding",
    "ainvoke_child",
    "child_callbacks",
    "invoke_child",
]

logger = logging.getLogger(__name__)


class StepOwner(Protocol):
    """What a step needs from the front door that runs it (the router or the middleware)."""

    fallback: bool
    validate_tool_calls: bool
    step_deadline_s: float | None
    retry: RetryPolicy
    privacy: PrivacyRules | None

    def breaker_for(self, target: str) -> CircuitBreaker | None:
        """The circuit breaker of a side, if any."""
        ...

    @property
    def budget(self) -> CloudBudget | None:
        """The cloud budget, if any."""
        ...

    @property
    def monitor(self) -> NetworkEstimator:
        """The network monitor fed by cloud calls."""
        ...

    def emit_trace(self, trace: RouteTrace) -> None:
        """Send a finished step's trace to the sinks."""
        ...


_FORCING_CHOICES = ("any", "required")
_R = TypeVar("_R")


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


_SERVER_TIME_HEADERS = ("x-netgpt-server-ms", "openai-processing-ms")


def _reported_server_s(message: AIMessage) -> float | None:
    """Server compute time from response headers.

    ``ChatOpenAI(include_response_headers=True)`` puts them in ``response_metadata["headers"]``;
    OpenAI sends ``openai-processing-ms`` and ``netgpt serve`` sends ``x-netgpt-server-ms``.
    """
    headers = message.response_metadata.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for name in _SERVER_TIME_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        try:
            ms = float(value)
        except (TypeError, ValueError):
            continue
        if ms >= 0 and ms < 1e9:
            return ms / 1000
    return None


def _attempt(
    target: str,
    *,
    ok: bool,
    latency_s: float,
    error_type: str | None = None,
    error: str | None = None,
    tool_calls_valid: bool | None = None,
    problems: list[str] | None = None,
    output: AIMessage | None = None,
) -> AttemptRecord:
    # Built on the hot path from trusted values: skip validation (see RoutedStep.finish).
    return AttemptRecord.model_construct(
        target=target,
        ok=ok,
        latency_s=latency_s,
        error_type=error_type,
        error=error,
        tool_calls_valid=tool_calls_valid,
        problems=problems or [],
        output=output,
    )


def _response_bytes(message: AIMessage) -> int:
    size = 300 + len(message.text)
    for call in message.tool_calls:
        size += 60 + len(call["name"]) + len(json.dumps(call["args"], default=str))
    return size


class _LoadToken:
    """One call counted in a target's load: what :meth:`RoutedStep.finish_load` needs."""

    __slots__ = ("concurrent", "ok", "t0", "target")

    def __init__(self, target: str, concurrent: int, t0: float) -> None:
        self.target = target
        self.concurrent = concurrent
        self.t0 = t0
        self.ok = False


class RoutedStep:
    """One routed call in flight: the decision, the attempts, and the trace it ends in.

    Built by :meth:`NetGPTRouter.plan` (or :meth:`NetGPTRouter.plan_step`); :meth:`run` and
    :meth:`arun` drive it with a front door's call: :meth:`candidates`, then :meth:`failed` or
    :meth:`accept` per attempt, then :meth:`finish` (the streaming loops drive it the same way).
    """

    def __init__(
        self,
        router: StepOwner,
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
        private: PrivacyMatch | None = None,
        completion: EdgePromptCompleter | None = None,
        routing: TargetRouting | None = None,
        target_loads: Mapping[str, LoadSnapshot] | None = None,
    ) -> None:
        self.router = router
        self.routing = routing  # named targets (multi-target routing), or None: edge/cloud
        self.target_loads = target_loads
        self.private = private
        self.completion = completion
        self.completion_record: PromptCompletionRecord | None = None
        self._completed: list[BaseMessage] | None = None
        self.escalation_reason: str | None = None
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
        deadline_s = router.step_deadline_s
        self.deadline = None if deadline_s is None else self.started + deadline_s
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
        if self.routing is not None:
            yield from self._ranked_candidates(self.routing)
            return
        first = self.decision.target
        if self._gate(first):
            yield first
        if not self.router.fallback or self.answer is not None:
            return
        second = CLOUD if first == EDGE else EDGE
        privacy = self.router.privacy
        if second == CLOUD and self.private is not None:
            if privacy is None or not privacy.allow_cloud_fallback:
                return  # a private step never leaves the device unless the user opted in
        if second == CLOUD and self.slot is not None and self.router.budget is not None:
            if not self.router.budget.upgrade(
                self.slot, price_usd=self.decision.expected_cloud_price_usd
            ):
                self.fallback_reason = (self.fallback_reason or "") + f"; {self.slot.reason}"
                return
        if second == EDGE and self.slot is not None and self.router.budget is not None:
            self.router.budget.downgrade(self.slot)
        if self._gate(second):
            yield second

    def _ranked_candidates(self, routing: TargetRouting) -> Iterator[str]:
        """Multi-target order: the decision, then the policy's ranking, clouds gated as above."""
        budget = self.router.budget
        for i, target in enumerate((self.decision.target, *self.decision.alternatives)):
            if i > 0 and (not self.router.fallback or self.answer is not None):
                return
            cloud = routing.is_cloud(target)
            if i > 0 and cloud and self.private is not None:
                privacy = self.router.privacy
                if privacy is None or not privacy.allow_cloud_fallback:
                    continue  # a private step never leaves the device unless the user opted in
            if i > 0 and self.slot is not None and budget is not None:
                if cloud and not budget.upgrade(
                    self.slot, price_usd=self.decision.expected_cloud_price_usd
                ):
                    self.fallback_reason = (self.fallback_reason or "") + f"; {self.slot.reason}"
                    continue
                if not cloud:
                    budget.downgrade(self.slot)
            if self._gate(target):
                yield target

    def _slo_violated(self, final: str | None, latency_s: float) -> bool | None:
        if self.routing is None or final is None:
            return None
        slo = self.routing.targets[final].slo_s
        return None if slo is None else latency_s > slo

    def _is_cloud(self, target: str | None) -> bool:
        return target == CLOUD if self.routing is None else self.routing.is_cloud(target)

    def start_load(self, target: str) -> _LoadToken | None:
        """Count a call of ``target`` in its load (``None`` without named targets).

        Pair with :meth:`finish_load` in a ``finally``; set ``token.ok`` once it answered.
        """
        if self.routing is None:
            return None
        return _LoadToken(target, self.routing.loads.start(target), time.perf_counter())

    def finish_load(self, token: _LoadToken | None) -> None:
        """End a call counted by :meth:`start_load`."""
        if token is None or self.routing is None:
            return
        self.routing.loads.finish(
            token.target,
            elapsed_s=time.perf_counter() - token.t0,
            concurrent=token.concurrent,
            ok=token.ok,
        )

    def _tracked(self, call: Callable[[str], _R]) -> Callable[[str], _R]:
        """``call`` counted in the target's load (in flight, service time, SLO)."""
        if self.routing is None:
            return call

        def tracked(target: str) -> _R:
            token = self.start_load(target)
            try:
                result = call(target)
                if token is not None:
                    token.ok = True
                return result
            finally:
                self.finish_load(token)

        return tracked

    def _atracked(
        self, call: Callable[[str], Awaitable[AIMessage]]
    ) -> Callable[[str], Awaitable[AIMessage]]:
        """Async twin of :meth:`_tracked`."""
        if self.routing is None:
            return call

        async def tracked(target: str) -> AIMessage:
            token = self.start_load(target)
            try:
                result = await call(target)
                if token is not None:
                    token.ok = True
                return result
            finally:
                self.finish_load(token)

        return tracked

    # -- deadline, circuit breakers and retries ------------------------------------------------
    def time_left_s(self) -> float | None:
        """Seconds left before the step's deadline (``None``: no deadline)."""
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def try_timeout_s(self, per_try_s: float | None) -> float | None:
        """The timeout of the next try: ``per_try_s`` capped by the time left in the step."""
        left = self.time_left_s()
        if left is None:
            return per_try_s
        left = max(left, 0.001)
        return left if per_try_s is None else min(per_try_s, left)

    def _gate(self, target: str) -> bool:
        """Whether ``target`` may be tried now; a refusal is recorded as a failed attempt."""
        left = self.time_left_s()
        if left is not None and left <= 0:
            deadline = self.router.step_deadline_s or 0.0
            self.failed(
                target,
                StepTimeoutError(
                    f"step_deadline_s={deadline} passed before {target} could be tried",
                    target=target,
                    timeout_s=deadline,
                ),
                0.0,
                count=False,
            )
            return False
        breaker = self.router.breaker_for(target)
        if breaker is None or breaker.allow():
            return True
        wait = breaker.seconds_until_probe()
        self.failed(
            target,
            CircuitOpenError(
                f"{target} circuit is open (next probe in {wait:.1f} s)",
                target=target,
                retry_in_s=wait,
            ),
            0.0,
            count=False,
        )
        self.fallback_reason = f"circuit_open: {target} circuit is open"
        return False

    def retry_wait_s(self, target: str, error: BaseException, retry: int) -> float | None:
        """Seconds to wait before retry number ``retry`` of ``target``, or ``None``: do not.

        A retry needs a retryable error, tries left, a closed circuit, and a wait that leaves
        time for the retry before the step's deadline.
        """
        policy = self.router.retry
        if retry >= policy.attempts or not policy.is_retryable(error):
            return None
        breaker = self.router.breaker_for(target)
        if breaker is not None and breaker.state is not CircuitState.CLOSED:
            return None
        wait = policy.backoff_s(retry=retry, error=error)
        left = self.time_left_s()
        if left is not None and wait >= left:
            return None
        return wait

    def _release(self, target: str) -> None:
        breaker = self.router.breaker_for(target)
        if breaker is not None:
            breaker.release()

    def messages_for(self, target: str) -> list[BaseMessage]:
        """The messages a target sees: the cloud gets the edge-completed prompt, if configured."""
        if self.completion is None or not self._is_cloud(target):
            return self.messages
        if self._completed is None:
            self._use_completion(self.completion.complete(self.messages))
        return self._completed or self.messages

    async def amessages_for(self, target: str) -> list[BaseMessage]:
        """Async twin of :meth:`messages_for` (only the completer's model call is awaited)."""
        if self.completion is None or not self._is_cloud(target):
            return self.messages
        if self._completed is None:
            self._use_completion(await self.completion.acomplete(self.messages))
        return self._completed or self.messages

    def _use_completion(self, result: CompletedPrompt) -> None:
        self._completed = result.messages
        self.completion_record = result.record

    def model_for(self, target: str) -> Runnable[Any, Any]:
        """The child model (with tools bound) for a target."""
        if self.binding.models is not None:
            return self.binding.models[target]
        return self.binding.edge if target == EDGE else self.binding.cloud

    def config_for(self, target: str, callbacks: Any) -> RunnableConfig:
        """Child-run config: callbacks, and the route as LangSmith tags and metadata.

        The callbacks get a :class:`~langchain_netgpt.tracing.langsmith.RouteLatencyStamp`
        first when they hold a tracer, so ``netgpt.latency_ms`` reaches the run's end patch.
        """
        return {
            "callbacks": with_route_latency(callbacks, self.started),
            "tags": [route_tag(target)],
            "metadata": route_metadata(target, self.decision, self.network, mode=self.mode),
        }

    # -- the loops ----------------------------------------------------------------------------
    def run(
        self,
        call: Callable[[str], AIMessage],
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> AIMessage:
        """Try the candidates with ``call(target)`` until one answers acceptably; finish the step.

        Args:
            call: Calls the model of a target and returns its answer.
            passthrough: Exceptions that are control flow, not failures (a LangGraph interrupt):
                they end the step without a trace or a fallback and propagate.

        Returns:
            The answer, with the route in ``response_metadata["netgpt"]``.

        Raises:
            RoutingError: No target answered (the trace is written first).
        """
        call = self._tracked(call)
        for target in self.candidates():
            retry = 0
            while True:
                t0 = time.perf_counter()
                try:
                    answer = call(target)
                except passthrough:
                    self._release(target)
                    self.abandon()
                    raise
                except Exception as exc:
                    self.failed(target, exc, time.perf_counter() - t0)
                    retry += 1
                    wait = self.retry_wait_s(target, exc, retry)
                    if wait is None:
                        break
                    time.sleep(wait)
                    continue
                if self.accept(target, answer, time.perf_counter() - t0):
                    return self.finish()
                break
        return self.finish()

    async def arun(
        self,
        call: Callable[[str], Awaitable[AIMessage]],
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> AIMessage:
        """Async twin of :meth:`run` (only the call is awaited)."""
        call = self._atracked(call)
        for target in self.candidates():
            retry = 0
            while True:
                t0 = time.perf_counter()
                try:
                    answer = await call(target)
                except passthrough:
                    self._release(target)
                    self.abandon()
                    raise
                except asyncio.CancelledError:
                    self._release(target)  # a cancelled probe must not hold the circuit
                    raise
                except Exception as exc:
                    self.failed(target, exc, time.perf_counter() - t0)
                    retry += 1
                    wait = self.retry_wait_s(target, exc, retry)
                    if wait is None:
                        break
                    await asyncio.sleep(wait)
                    continue
                if self.accept(target, answer, time.perf_counter() - t0):
                    return self.finish()
                break
        return self.finish()

    def abandon(self) -> None:
        """Give back the step's cloud reservation: control flow stopped it before an answer."""
        if self.slot is not None and self.router.budget is not None:
            self.router.budget.downgrade(self.slot)

    # -- outcomes -----------------------------------------------------------------------------
    def failed(
        self, target: str, exc: BaseException, elapsed_s: float, *, count: bool = True
    ) -> None:
        """Record a try that raised (``count``: it counts against the side's circuit)."""
        breaker = self.router.breaker_for(target) if count else None
        if breaker is not None:
            breaker.record_failure()
        self.attempts.append(
            _attempt(
                target,
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
        breaker = self.router.breaker_for(target)
        if breaker is not None:
            breaker.record_success()  # the side answered, even if its tool calls are invalid
        if not self._is_cloud(target) and escalation_reason(message) is not None:
            return self._escalated(target, message, elapsed_s)
        problems = self.binding.problems(message) if self.router.validate_tool_calls else []
        valid: bool | None = None if self.binding.tools is None else not problems
        self.attempts.append(
            _attempt(
                target,
                ok=not problems,
                latency_s=elapsed_s,
                tool_calls_valid=valid,
                problems=problems[:20],
                error_type=InvalidToolCallError.__name__ if problems else None,
                output=message,
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
        if self._is_cloud(target):
            self._observe(message, elapsed_s)
        return True

    def _escalated(self, target: str, message: AIMessage, elapsed_s: float) -> bool:
        """An edge handed the step over (self-offload): not a failure, but not an answer."""
        reason = escalation_reason(message) or ""
        self.escalation_reason = reason
        problem = f"edge escalated: {reason}"
        self.attempts.append(
            _attempt(
                target,
                ok=False,
                latency_s=elapsed_s,
                tool_calls_valid=None if self.binding.tools is None else False,
                problems=[problem],
                output=message,
            )
        )
        self.fallback_reason = f"edge_escalated: {reason}"
        if self._pending is None:
            # Returned only when the cloud cannot be tried (fallback off, budget, privacy).
            self._pending = message
            self.answer_target, self.answer_valid = target, False
            self.answer_problems = [problem]
        return False

    def _observe(self, message: AIMessage, elapsed_s: float) -> None:
        server_s = _reported_server_s(message)
        if server_s is None:
            # No server timing reported: assume the latency model's expected compute time.
            d = self.decision
            expected_network = self.network.rtt_ms / 1000 + self.network.transfer_s(
                up_bytes=self.features.payload_bytes, down_bytes=_response_bytes(message)
            )
            server_s = (
                max(0.0, d.expected_cloud_s - expected_network) if expected_network < 1e9 else 0.0
            )
        try:
            self.router.monitor.observe(
                bytes_sent=self.features.payload_bytes,
                bytes_received=_response_bytes(message),
                total_s=elapsed_s,
                ttfb_s=self.ttfb_s
                if self.ttfb_s is not None and self.ttfb_s <= elapsed_s
                else None,
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
        if self.slot is not None and self.router.budget is not None and not self._is_cloud(final):
            self.router.budget.downgrade(self.slot)
        latency = time.perf_counter() - self.started
        fallback = final is not None and final != self.decision.target
        price = self.decision.expected_cloud_price_usd if self._is_cloud(final) else 0.0
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
            "escalated": self.escalation_reason is not None,
            "latency_ms": round(latency * 1000, 3),
            "rtt_ms": self.network.rtt_ms,
            "bandwidth_up_mbps": self.network.bandwidth_up_mbps,
            "bandwidth_down_mbps": self.network.bandwidth_down_mbps,
        }
        # model_construct with every field given: the values are already validated (network,
        # decision) or built here, and evaluating pydantic default factories costs ~100 us.
        trace = RouteTrace.model_construct(
            schema_version=TRACE_SCHEMA_VERSION,
            trace_id=uuid.uuid4().hex,
            created_at=time.time(),
            run_id=self.run_id,
            session_id=self.session_id,
            mode=self.mode,
            decided_target=d.target,
            score=d.score,
            threshold=d.threshold,
            policy=d.policy,
            reason=d.reason,
            overridden_by=d.overridden_by,
            propensity=d.propensity,
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
            bytes_sent=self.features.payload_bytes
            if any(self._is_cloud(a.target) for a in self.attempts)
            else 0,
            bytes_received=_response_bytes(answer)
            if answer is not None and self._is_cloud(final)
            else 0,
            usage=dict(answer.usage_metadata)
            if answer is not None and answer.usage_metadata
            else None,
            tool_calls_valid=self.answer_valid,
            error=error_text,
            escalated=self.escalation_reason is not None,
            escalation_reason=self.escalation_reason,
            prompt_completion=self.completion_record,
            target_loads=None
            if self.target_loads is None
            else {name: load.to_dict() for name, load in self.target_loads.items()},
            slo_violated=self._slo_violated(final, latency),
            tools=self.binding.tools or [],
            tool_choice=self.binding.tool_choice,
            messages=cast("list[AnyMessage]", self.messages),
            output=answer,
        )
        info["trace_id"] = trace.trace_id
        if self.routing is not None:
            info["slo_violated"] = trace.slo_violated
        self.router.emit_trace(trace)
        if answer is None:
            attempts: list[tuple[str, BaseException]] = [
                (a.target, RuntimeError(a.error or "")) for a in self.attempts
            ]
            if self.private is not None:
                raise PrivateStepError(
                    f"netgpt: {error_text}; the step is private ({self.private.rule}), so it was "
                    "not sent to the cloud (PrivacyRules(allow_cloud_fallback=True) allows it)",
                    rule=self.private.rule,
                    attempts=attempts,
                )
            raise RoutingError(f"netgpt: {error_text}", attempts=attempts)
        answer.response_metadata = {**answer.response_metadata, "netgpt": info}
        return answer


def child_callbacks(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
) -> CallbackManager | AsyncCallbackManager | None:
    """Callbacks for the child model's run, nested under the router's run.

    LLM run managers have no ``get_child`` (model runs are usually leaves); this does what a
    chain's ``get_child`` does, so the edge/cloud run appears inside the router's run.
    """
    if run_manager is None:
        return None
    cls = (
        AsyncCallbackManager
        if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
        else CallbackManager
    )
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return manager


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
