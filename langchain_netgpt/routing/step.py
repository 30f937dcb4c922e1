"""One routed call in flight: :class:`RoutedStep` carries a plan through the tries to its trace.

The pieces it coordinates live beside it: the plan (:mod:`~langchain_netgpt.routing.planning`),
the gates (:mod:`~langchain_netgpt.routing.gates`), the attempts and their loops
(:mod:`~langchain_netgpt.routing.attempts`) and the trace
(:mod:`~langchain_netgpt.routing.step_trace`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_netgpt.errors import CapacityError, PrivateStepError, RoutingError
from langchain_netgpt.routing.attempts import StepOutcome, arun_attempts, run_attempts
from langchain_netgpt.routing.decision import CLOUD, EDGE
from langchain_netgpt.routing.executor import ToolBinding
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.gates import GateRefusal, candidate_targets
from langchain_netgpt.routing.measure import observe_cloud_answer, without_headers
from langchain_netgpt.routing.network import NetworkSample, NetworkState
from langchain_netgpt.routing.planning import StepPlan
from langchain_netgpt.routing.policy import RouteDecision
from langchain_netgpt.routing.prompt_completion import CompletedPrompt, EdgePromptCompleter
from langchain_netgpt.routing.reasons import FallbackReason
from langchain_netgpt.routing.reliability import CircuitState
from langchain_netgpt.routing.self_offload import escalation_reason
from langchain_netgpt.routing.step_trace import build_trace, route_info, with_route
from langchain_netgpt.routing.wire import WireProbe, arm, disarm
from langchain_netgpt.tracing import PromptCompletionRecord, RouteTrace
from langchain_netgpt.tracing.langsmith import route_metadata, route_tag, with_route_latency

if TYPE_CHECKING:
    from langchain_netgpt.routing.config import RoutingConfig
    from langchain_netgpt.routing.engine import RoutingEngine
    from langchain_netgpt.routing.qos import TargetRouting

__all__ = ["LoadToken", "RoutedStep"]


class LoadToken:
    """One call counted in a named target's load; set ``ok`` once it answered."""

    __slots__ = ("concurrent", "ok", "t0", "target")

    def __init__(self, target: str, concurrent: int, t0: float) -> None:
        self.target = target
        self.concurrent = concurrent
        self.t0 = t0
        self.ok = False


class RoutedStep:
    """One routed call in flight: the plan, the tries, and the trace it ends in.

    Built by :meth:`RoutingEngine.plan <langchain_netgpt.routing.engine.RoutingEngine.plan>`;
    :meth:`run` / :meth:`arun` drive it with a front door's call of a side. Streaming front doors
    drive it by hand: :meth:`candidates`, then :meth:`failed` or :meth:`accept` per try, then
    :meth:`finish`.

    Args:
        engine: The engine that planned it (options, breakers, sinks).
        plan: The decision.
        routing: The named targets' routing the plan used (``None``: edge/cloud).
        completer: Edge prompt completion for cloud tries, if configured.
        started: ``time.perf_counter()`` when the step began (before its plan: the privacy scan
            counts against the deadline); default now.
    """

    def __init__(
        self,
        engine: RoutingEngine,
        plan: StepPlan,
        *,
        routing: TargetRouting | None = None,
        completer: EdgePromptCompleter | None = None,
        started: float | None = None,
    ) -> None:
        self.engine = engine
        self.config: RoutingConfig = engine.config
        self.plan = plan
        self.routing = routing
        self.outcome = StepOutcome()
        self.completer = completer
        self.completion_record: PromptCompletionRecord | None = None
        self.network_sample: NetworkSample | None = None
        """What the cloud answer told the network monitor, and how (``None``: no cloud answer)."""
        self._stream_headers: dict[str, Any] | None = None
        self._wire: WireProbe | None = None
        self._wire_token: Any = None
        self._completed: list[BaseMessage] | None = None
        self.started = time.perf_counter() if started is None else started
        self.closed = False
        """Whether the step's trace was written (a step is traced exactly once)."""
        deadline_s = self.config.step_deadline_s
        self.deadline = None if deadline_s is None else self.started + deadline_s

    # -- the plan, as the front doors read it ---------------------------------------------------
    @property
    def decision(self) -> RouteDecision:
        """The decision (overrides applied)."""
        return self.plan.decision

    @property
    def binding(self) -> ToolBinding:
        """The call's tools."""
        binding: ToolBinding = self.plan.binding
        return binding

    @property
    def features(self) -> RequestFeatures:
        """The step's features."""
        return self.plan.features

    @property
    def network(self) -> NetworkState:
        """The network state the decision saw."""
        return self.plan.network

    @property
    def answer_target(self) -> str | None:
        """The side whose answer the step keeps (``None`` until one answered)."""
        return self.outcome.target

    @property
    def ttfb_s(self) -> float | None:
        """Time to the first streamed chunk of the current try (set by streaming loops)."""
        return self.outcome.ttfb_s

    @ttfb_s.setter
    def ttfb_s(self, value: float | None) -> None:
        self.outcome.ttfb_s = value

    def is_cloud(self, target: str | None) -> bool:
        """Whether ``target`` is a cloud side."""
        return target == CLOUD if self.routing is None else self.routing.is_cloud(target)

    # -- gates, deadline, retries and loads -----------------------------------------------------
    def candidates(self) -> Iterator[str]:
        """Sides to try, in order (:func:`~langchain_netgpt.routing.gates.candidate_targets`)."""
        return candidate_targets(self)

    def refused(self, target: str, refusal: GateRefusal) -> None:
        """Record a side a try gate refused (it does not count against the side's circuit)."""
        self.outcome.failed(target, refusal.error, 0.0, refusal.code)

    def has_fallback_after(self, target: str) -> bool:
        """Whether another side may still be tried after ``target`` (fallback on, one left)."""
        if not self.config.fallback:
            return False
        decision = self.plan.decision
        rest = (
            decision.alternatives
            if self.routing is not None
            else ((CLOUD if decision.target == EDGE else EDGE),)
        )
        order = (decision.target, *rest)
        return target in order[:-1]

    def queued(self, waited_s: float) -> None:
        """Record how long the current try waited for a slot of its side (not its latency)."""
        self.outcome.queue_s = waited_s

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

    def after_failure(
        self, target: str, error: Exception, elapsed_s: float, retry: int
    ) -> float | None:
        """Record a failed try; return the wait before retry number ``retry``, or ``None``.

        A retry needs a retryable error, tries left, a closed circuit, and a wait that leaves
        time for the retry before the step's deadline.
        """
        self.failed(target, error, elapsed_s)
        return self.retry_wait_s(target, error, retry)

    def retry_wait_s(self, target: str, error: BaseException, retry: int) -> float | None:
        """Seconds to wait before retry number ``retry`` of ``target``, or ``None``: do not."""
        policy = self.config.retry
        if retry >= policy.attempts or not policy.is_retryable(error):
            return None
        breaker = self.engine.breaker_for(target)
        if breaker is not None and breaker.state is not CircuitState.CLOSED:
            return None
        wait = policy.backoff_s(retry=retry, error=error)
        left = self.time_left_s()
        if left is not None and wait >= left:
            return None
        return wait

    def release(self, target: str) -> None:
        """Give back a side's circuit probe (a try that ended without an outcome)."""
        breaker = self.engine.breaker_for(target)
        if breaker is not None:
            breaker.release()

    def interrupted(self, target: str) -> None:
        """Control flow (a LangGraph interrupt) stopped a try: no trace, no fallback."""
        self.release(target)
        self.abandon()

    def abandon(self) -> None:
        """Give back the step's cloud reservation: control flow stopped it before an answer."""
        if self.plan.slot is not None and self.config.budget is not None:
            self.config.budget.downgrade(self.plan.slot)

    def start_load(self, target: str) -> LoadToken | None:
        """Count a call of ``target`` in its load (``None`` without named targets).

        Pair with :meth:`finish_load` in a ``finally``; set ``token.ok`` once it answered. A
        cloud try also arms the connection-level timing probe until :meth:`finish_load`.
        """
        if self.is_cloud(target) and self._wire_token is None:
            self._wire, self._wire_token = arm()
        if self.routing is None:
            return None
        return LoadToken(target, self.routing.loads.start(target), time.perf_counter())

    @staticmethod
    def loaded(token: LoadToken | None) -> None:
        """Mark a counted call as answered."""
        if token is not None:
            token.ok = True

    def finish_load(self, token: LoadToken | None) -> None:
        """End a call counted by :meth:`start_load`."""
        if self._wire_token is not None:
            disarm(self._wire_token)
            self._wire_token = None
        if token is None or self.routing is None:
            return
        self.routing.loads.finish(
            token.target,
            elapsed_s=time.perf_counter() - token.t0,
            concurrent=token.concurrent,
            ok=token.ok,
        )

    # -- what a side is given -------------------------------------------------------------------
    def messages_for(self, target: str) -> list[BaseMessage]:
        """The messages a side sees: a cloud gets the edge-completed prompt, if configured."""
        if self.completer is None or not self.is_cloud(target):
            return self.plan.messages
        if self._completed is None:
            self._use_completion(self.completer.complete(self.plan.messages))
        return self._completed or self.plan.messages

    async def amessages_for(self, target: str) -> list[BaseMessage]:
        """Async twin of :meth:`messages_for` (only the completer's model call is awaited)."""
        if self.completer is None or not self.is_cloud(target):
            return self.plan.messages
        if self._completed is None:
            self._use_completion(await self.completer.acomplete(self.plan.messages))
        return self._completed or self.plan.messages

    def _use_completion(self, result: CompletedPrompt) -> None:
        self._completed = result.messages
        self.completion_record = result.record

    def model_for(self, target: str) -> Runnable[Any, Any]:
        """The child model (with the call's tools bound) of a side."""
        binding = self.plan.binding
        if binding.models is not None:
            return binding.models[target]
        return binding.edge if target == EDGE else binding.cloud

    def config_for(self, target: str, callbacks: Any) -> RunnableConfig:
        """Child-run config: callbacks, and the route as LangSmith tags and metadata.

        The callbacks get a :class:`~langchain_netgpt.tracing.langsmith.RouteLatencyStamp`
        first when they hold a tracer, so ``netgpt.latency_ms`` reaches the run's end patch.
        """
        plan = self.plan
        return {
            "callbacks": with_route_latency(callbacks, self.started),
            "tags": [route_tag(target)],
            "metadata": route_metadata(target, plan.decision, plan.network, mode=plan.mode),
        }

    def received(self, target: str, chunk: AIMessageChunk) -> None:
        """A streamed chunk arrived: keep its response headers (server timing) for the monitor.

        Headers the engine turned on (the user did not ask for them) are taken off the chunk
        before anyone sees it.
        """
        headers = chunk.response_metadata.get("headers")
        if headers is None or not self.is_cloud(target):
            return
        if isinstance(headers, dict):
            self._stream_headers = headers
        if self.engine.headers_added(target):
            without_headers(chunk)

    # -- the loops and the outcomes -------------------------------------------------------------
    def run(
        self,
        call: Callable[[str], AIMessage],
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> AIMessage:
        """Try the candidates with ``call(target)`` until one answers; finish the step.

        Args:
            call: Calls the model of a side and returns its answer.
            passthrough: Exceptions that are control flow, not failures (a LangGraph interrupt):
                they end the step without a trace or a fallback and propagate.

        Returns:
            The answer, with the route in ``response_metadata["netgpt"]``.

        Raises:
            RoutingError: No side answered (the trace is written first).
        """
        return run_attempts(self, call, passthrough=passthrough)

    async def arun(
        self,
        call: Callable[[str], Awaitable[AIMessage]],
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> AIMessage:
        """Async twin of :meth:`run` (only the call is awaited)."""
        return await arun_attempts(self, call, passthrough=passthrough)

    def failed(
        self,
        target: str,
        exc: BaseException,
        elapsed_s: float,
        *,
        output: AIMessage | None = None,
    ) -> None:
        """Record a try that raised (it counts against the side's circuit).

        A try that got no slot (:class:`~langchain_netgpt.errors.CapacityError`) says nothing
        about the side's health: it gives back the circuit's probe instead.
        """
        breaker = self.engine.breaker_for(target)
        if breaker is not None:
            if isinstance(exc, CapacityError):
                breaker.release()
            else:
                breaker.record_failure()
        self.outcome.failed(target, exc, elapsed_s, output=output)

    def accept(self, target: str, message: AIMessage, elapsed_s: float) -> bool:
        """Validate a try's answer; return whether to stop trying.

        An answer whose tool calls do not fit the bound schemas is refused while another side
        remains to be tried; the last one is returned as it is (and traced as invalid).
        """
        breaker = self.engine.breaker_for(target)
        if breaker is not None:
            breaker.record_success()  # the side answered, even if its tool calls are invalid
        binding, outcome = self.plan.binding, self.outcome
        if self.routing is None and target == EDGE:
            self.engine.observe_edge(self.plan.features, message, elapsed_s)
        headers: Any = None
        if self.is_cloud(target):
            headers = message.response_metadata.get("headers") or self._stream_headers
            if self.engine.headers_added(target):
                without_headers(message)
        if not self.is_cloud(target):
            escalation = escalation_reason(message)
            if escalation is not None:
                tools = binding.tools is not None
                outcome.escalated(target, message, elapsed_s, escalation, tools=tools)
                return False
        problems = binding.problems(message) if self.config.validate_tool_calls else []
        valid: bool | None = None if binding.tools is None else not problems
        if problems:
            outcome.invalid(target, message, elapsed_s, problems, valid)
            return False
        outcome.answered(target, message, elapsed_s, valid)
        if self.is_cloud(target):
            plan = self.plan
            self.network_sample = observe_cloud_answer(
                self.config.monitor,
                features=plan.features,
                network=plan.network,
                message=message,
                elapsed_s=elapsed_s,
                ttfb_s=outcome.ttfb_s if plan.mode in ("stream", "astream") else None,
                headers=headers if isinstance(headers, Mapping) else None,
                wire=self._wire_times(),
            )
        return True

    def _wire_times(self) -> tuple[float, float] | None:
        """Connection times of the try that just answered (``None``: not hooked)."""
        probe = self._wire
        wait = probe.header_wait_s() if probe is not None else None
        if probe is None or wait is None or probe.sent_at is None:
            return None
        return wait, time.perf_counter() - probe.sent_at

    def finish(self, *, error: BaseException | None = None) -> AIMessage:
        """Close the step: write its trace and return the answer with the route.

        The route in ``response_metadata["netgpt"]`` is read from the emitted (scrubbed) trace
        snapshot, which shares nothing with the answer: setting it changes no trace.

        Raises:
            RoutingError: No side produced an answer (the trace is written first);
                :class:`~langchain_netgpt.errors.PrivateStepError` when the step was private.
        """
        answer, error_text = self._settle(error)
        trace = self._close(error_text)
        return self._answer(answer, trace, error_text)

    async def afinish(self, *, error: BaseException | None = None) -> AIMessage:
        """Async twin of :meth:`finish`: the sinks write in a worker thread, off the event loop."""
        answer, error_text = self._settle(error)
        trace = await self.engine.aemit_trace(self._build(error_text))
        return self._answer(answer, trace, error_text)

    def _settle(self, error: BaseException | None) -> tuple[AIMessage | None, str | None]:
        answer = self.outcome.settle()
        error_text = None
        if answer is None:
            attempts = self.outcome.attempts
            causes = "; ".join(f"{a.target}: {a.error_type}: {a.error}" for a in attempts)
            error_text = f"no target answered ({causes})" if causes else str(error)
        return answer, error_text

    def _answer(
        self, answer: AIMessage | None, trace: RouteTrace, error_text: str | None
    ) -> AIMessage:
        if answer is None:
            raise self._no_answer(error_text or "")
        return with_route(answer, route_info(trace, slo=self.routing is not None))

    def stopped(
        self,
        target: str | None,
        exc: BaseException,
        elapsed_s: float,
        *,
        output: AIMessage | None = None,
    ) -> None:
        """Trace a step that something other than its tries' outcome stopped, then let it go.

        Ctrl-C, a cancelled task, a stream the caller closed, or a bug: the try in flight (if
        any) is recorded as cancelled, its circuit probe given back, and the step's trace is
        written with ``error`` saying what stopped it. Nothing happens for a traced step.
        """
        if self.closed:
            return
        if target is not None:
            self.release(target)
            self.outcome.failed(target, exc, elapsed_s, FallbackReason.CANCELLED, output=output)
        kind = "cancelled" if not isinstance(exc, Exception) else "stopped by an error"
        detail = str(exc)[:500]
        self._close(f"{kind}: {type(exc).__name__}" + (f": {detail}" if detail else ""))

    def _close(self, error_text: str | None) -> RouteTrace:
        """Write the step's trace (once); return the emitted snapshot."""
        return self.engine.emit_trace(self._build(error_text))

    def _build(self, error_text: str | None) -> RouteTrace:
        """The step's trace (the step is closed: no second trace)."""
        answer = self.outcome.answer
        final = self.outcome.target if answer is not None else None
        budget = self.config.budget
        if self.plan.slot is not None and budget is not None and not self.is_cloud(final):
            budget.downgrade(self.plan.slot)
        latency = time.perf_counter() - self.started
        trace = build_trace(self, latency_s=latency, error=error_text)
        self.closed = True
        return trace

    def _no_answer(self, error_text: str) -> RoutingError:
        # Exceptions leave the step: their text is scrubbed like the trace's.
        scrub = self.engine.scrub_text
        error_text = scrub(error_text)
        attempts: list[tuple[str, BaseException]] = [
            (a.target, RuntimeError(scrub(a.error or ""))) for a in self.outcome.attempts
        ]
        private = self.plan.private
        if private is not None:
            return PrivateStepError(
                f"netgpt: {error_text}; the step is private ({private.rule}), so it was "
                "not sent to the cloud (PrivacyRules(allow_cloud_fallback=True) allows it)",
                rule=private.rule,
                attempts=attempts,
            )
        return RoutingError(f"netgpt: {error_text}", attempts=attempts)
