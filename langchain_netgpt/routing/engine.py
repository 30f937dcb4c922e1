"""``RoutingEngine``: the routing core every front door shares.

The engine plans each step (features, score, network, policy; privacy and budget overrides), gates
its tries (deadline, circuit breakers, fallback privacy and budget), runs them under their
deadlines with retries and fallback, and emits exactly one trace per step. ``NetGPTRouter``, the
agent middleware and the LangGraph node are thin front doors over one engine: they only turn their
own calling convention into :meth:`RoutingEngine.plan` and a call of a side.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from langchain_netgpt.routing.config import RoutingConfig
from langchain_netgpt.routing.context_window import ContextLimits
from langchain_netgpt.routing.deadlines import DeadlineRunner
from langchain_netgpt.routing.decision import CLOUD, EDGE
from langchain_netgpt.routing.executor import ToolBinding
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.measure import with_timing_headers
from langchain_netgpt.routing.planning import plan_step
from langchain_netgpt.routing.prompt_completion import EdgePromptCompleter
from langchain_netgpt.routing.qos import MultiTargetPolicy, TargetRouting
from langchain_netgpt.routing.reliability import CircuitBreaker, CircuitState
from langchain_netgpt.routing.service_time import EdgeSpeedTracker
from langchain_netgpt.routing.step import RoutedStep
from langchain_netgpt.routing.wire import install_wire_hooks
from langchain_netgpt.tracing import InMemoryTraceSink, RouteTrace
from langchain_netgpt.tracing.scrub import default_scrubber, scrub_trace

if TYPE_CHECKING:
    from langchain_netgpt.routing.gates import TryGate
    from langchain_netgpt.routing.targets import LoadSnapshot

from langchain_netgpt.tracing.scrub import scrubbed_logger

__all__ = ["RoutingEngine"]

logger = scrubbed_logger(__name__)

_T = TypeVar("_T")


class RoutingEngine:
    """Plans, gates, runs and traces routed steps under one :class:`RoutingConfig`.

    The engine holds the state steps share: the named targets' loads, one circuit breaker per
    side, each side's capacity (slots and worker threads, see
    :class:`~langchain_netgpt.routing.capacity.TryCapacity`) and the count of traces a sink
    refused. Options are read from ``config`` at every step.

    Args:
        config: The routing options (a front door's configuration object).
        gates: Extra try gates checked before every try (after the deadline, before the breaker),
            see :class:`~langchain_netgpt.routing.gates.TryGate`.

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing.config import RoutingConfig
            from langchain_netgpt.routing.engine import RoutingEngine
            from langchain_netgpt.testing import ScriptedChatModel

            config = RoutingConfig(
                edge=ScriptedChatModel(responses=["edge"]),
                cloud=ScriptedChatModel(responses=["cloud"]),
            )
            engine = RoutingEngine(config)
            step = engine.plan([HumanMessage("hi")], engine.binding(), mode="invoke")
            answer = step.run(lambda target: engine.config.model_for(target).invoke("hi"))
            assert answer.response_metadata["netgpt"]["target"] in ("edge", "cloud")
    """

    def __init__(self, config: RoutingConfig, *, gates: Sequence[TryGate] = ()) -> None:
        if not isinstance(config, RoutingConfig):
            raise TypeError(f"config must be a RoutingConfig, got {type(config).__name__}")
        self.config = config
        self.gates: tuple[TryGate, ...] = tuple(gates)
        self.deadlines = DeadlineRunner(config)
        self.sink_errors = 0
        """Traces a sink failed to take."""
        self._breakers: dict[str, CircuitBreaker] = {}
        self._breakers_lock = threading.Lock()
        self._routing: TargetRouting | None = None
        self._routing_lock = threading.Lock()
        self._completer: EdgePromptCompleter | None = None
        self.edge_speed = EdgeSpeedTracker()
        """The edge's service time, learned from its answers and lent to the policy."""
        self._timed: dict[int, tuple[BaseChatModel, BaseChatModel]] = {}
        self._timed_lock = threading.Lock()
        self._limits: ContextLimits | None = None

    def __repr__(self) -> str:
        return f"RoutingEngine(policy={getattr(self.config.policy, 'name', '?')!r})"

    # -- sides and tools ------------------------------------------------------------------------
    @property
    def edge(self) -> BaseChatModel:
        """The edge model (the first edge target with named targets)."""
        return self.config.edge

    @property
    def cloud(self) -> BaseChatModel:
        """The cloud model (the first cloud target with named targets)."""
        return self.config.cloud

    def binding(
        self,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        *,
        bind: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> ToolBinding:
        """The tools of a call, for every side.

        Args:
            tools: The call's tools in OpenAI format, or ``None``.
            tool_choice: The call's tool choice.
            bind: Bind the tools on each side's model (the router calls the sides itself); the
                middleware leaves binding to the agent and only validates against the schemas.
            extra: Further ``bind_tools`` arguments (``parallel_tool_calls``).
        """
        config = self.config
        if tool_choice is None and tools:
            tool_choice = config.tool_choice  # the configured default for calls that give none
        named = config.targets or {}
        if not (bind and tools):
            models = {name: self.model_for(name) for name in named} or None
            return ToolBinding(tools, tool_choice, config.edge, self.model_for(CLOUD), models)
        kw = dict(extra or {})
        edge = config.edge.bind_tools(tools, tool_choice=tool_choice, **kw)
        cloud = self.model_for(CLOUD).bind_tools(tools, tool_choice=tool_choice, **kw)
        bound = {
            name: self.model_for(name).bind_tools(tools, tool_choice=tool_choice, **kw)
            for name in named
        }
        return ToolBinding(list(tools), tool_choice, edge, cloud, bound or None)

    def model_for(self, target: str) -> BaseChatModel:
        """The chat model of a side as the engine calls it.

        A cloud that can report the server's compute time in response headers (a
        ``ChatOpenAI`` built without ``include_response_headers``) is called through a copy
        with them on, so the network monitor can tell compute from network time; the headers
        are taken off the reply again (:meth:`headers_added`). Its ``httpx`` clients get
        timing hooks (:mod:`~langchain_netgpt.routing.wire`).

        Raises:
            ValueError: ``target`` names no side of this configuration.
        """
        model = self.config.model_for(target)
        if not self._is_cloud(target):
            return model
        with self._timed_lock:
            cached = self._timed.get(id(model))
            if cached is None or cached[0] is not model:
                timed = with_timing_headers(model)
                install_wire_hooks(timed)
                cached = self._timed[id(model)] = (model, timed)
            return cached[1]

    def headers_added(self, target: str) -> bool:
        """Whether the engine turned response headers on for ``target`` (the user did not)."""
        if not self._is_cloud(target):
            return False
        return self.model_for(target) is not self.config.model_for(target)

    def _is_cloud(self, target: str) -> bool:
        named = self.config.targets
        if named is not None and target in named:
            return named[target].kind == CLOUD
        return target == CLOUD

    def context_limits(self) -> ContextLimits:
        """The sides' context windows (resolved once per model; rebuilt when options change)."""
        config = self.config
        names = {EDGE: config.edge, CLOUD: config.cloud}
        for name, spec in (config.targets or {}).items():
            names[name] = cast("BaseChatModel", spec.model)
        limits = self._limits
        same = limits is not None and limits.models.keys() == names.keys()
        if same and limits is not None:
            same = all(limits.models[name] is model for name, model in names.items())
        if limits is None or limits.option is not config.context_window or not same:
            clouds = [name for name in names if self._is_cloud(name)]
            limits = self._limits = ContextLimits(config.context_window, names, clouds)
        return limits

    def observe_edge(self, features: RequestFeatures, message: Any, elapsed_s: float) -> None:
        """Feed one edge answer's service time to the learned edge profile."""
        self.edge_speed.observe(features, message, elapsed_s)

    # -- planning -------------------------------------------------------------------------------
    def target_routing(self) -> TargetRouting | None:
        """The named targets' routing (their loads and ranking), or ``None`` for edge/cloud."""
        config = self.config
        if config.targets is None:
            return None
        policy = cast("MultiTargetPolicy", config.policy)
        with self._routing_lock:
            routing = self._routing
            if (
                routing is None
                or routing.policy is not policy
                or routing.scorer is not config.scorer
            ):
                # Built once (again only if the policy or scorer is swapped): it holds the loads.
                loads = routing.loads if routing is not None else None
                routing = TargetRouting(config.targets, policy, config.scorer)
                if loads is not None:
                    routing.loads = loads
                self._routing = routing
            return routing

    def target_loads(self) -> dict[str, LoadSnapshot]:
        """Load of every named target now (in flight, queued, measured service time, SLO misses).

        Raises:
            ValueError: The configuration has ``edge``/``cloud``, not ``targets``.
        """
        routing = self.target_routing()
        if routing is None:
            raise ValueError("target_loads() needs a router built with targets=")
        return routing.loads.snapshot()

    def plan(
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
        """Decide where a call goes; return the step, ready to be run.

        Args:
            messages: The call's messages (system message included).
            binding: The tools of the call (see :meth:`binding`).
            mode: How the call is made, for the trace (``invoke``, ``ainvoke``, ...).
            run_id: LangChain run id of the call, if known.
            session_id: Conversation / thread id, if known.
            previous_target: Side of the conversation's previous turn; by default read from the
                routing metadata of the last AI message.
            metadata: The run's metadata (``sensitive=True`` makes the step private).

        Raises:
            TypeError: A ``sensitive`` flag is not a bool.
        """
        started = time.perf_counter()  # the deadline covers planning (the privacy scan) too
        routing = self.target_routing()
        step_plan = plan_step(
            self.config,
            routing,
            messages,
            binding,
            mode=mode,
            run_id=run_id,
            session_id=session_id,
            previous_target=previous_target,
            metadata=metadata,
            policy=self.edge_speed.policy_for(self.config.policy, self.config.edge)
            if routing is None
            else None,
            context=self.context_limits(),
        )
        return RoutedStep(
            self, step_plan, routing=routing, completer=self._prompt_completer(), started=started
        )

    def _prompt_completer(self) -> EdgePromptCompleter | None:
        option = self.config.prompt_completion
        if option is None:
            return None
        completer = self._completer
        if completer is None or completer.option is not option:
            model = self.config.edge if option.use_edge_model else None
            completer = self._completer = EdgePromptCompleter(option, model=model)
        return completer

    # -- reliability and deadlines --------------------------------------------------------------
    def breaker_for(self, target: str) -> CircuitBreaker | None:
        """The circuit breaker of a side (``None`` when ``circuit_breaker`` is not set)."""
        config = self.config.circuit_breaker
        if config is None:
            return None
        with self._breakers_lock:
            breaker = self._breakers.get(target)
            if breaker is None or breaker.config is not config:
                breaker = self._breakers[target] = CircuitBreaker(config, key=target)
            return breaker

    def circuit_state(self, target: str) -> CircuitState:
        """State of a side's circuit (``closed`` when no breaker is configured).

        Raises:
            ValueError: ``target`` is neither ``"edge"`` nor ``"cloud"`` (nor a named target).
        """
        named = self.config.targets or {}
        if target not in named and target not in (EDGE, CLOUD):
            raise ValueError(f"target must be {EDGE!r} or {CLOUD!r}, got {target!r}")
        breaker = self.breaker_for(target)
        return CircuitState.CLOSED if breaker is None else breaker.state

    def call_with_deadline(
        self, call: Callable[[], _T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Run ``call()`` in a slot of ``target``, under the try's deadline.

        See :class:`~langchain_netgpt.routing.deadlines.DeadlineRunner`.

        Raises:
            CapacityError: No slot of ``target`` came free in time.
            StepTimeoutError: The deadline passed first.
        """
        return self.deadlines.call(call, target, step=step)

    async def acall_with_deadline(
        self, call: Awaitable[_T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Await ``call`` in a slot of ``target``, under the try's deadline.

        Raises:
            CapacityError: No slot of ``target`` came free in time.
            StepTimeoutError: The deadline passed first.
        """
        return await self.deadlines.acall(call, target, step=step)

    # -- traces ---------------------------------------------------------------------------------
    def scrub_text(self, text: str) -> str:
        """``text`` without credentials (unless ``scrub_secrets`` is off): exceptions, reasons."""
        return default_scrubber().scrub_text(text) if self.config.scrub_secrets else text

    async def aemit_trace(self, trace: RouteTrace) -> RouteTrace:
        """Async :meth:`emit_trace`: sinks that do I/O write in a worker thread.

        A file or database sink must not block the event loop (``langgraph dev`` refuses blocking
        calls on it); the trace is still written before the step returns.
        """
        config = self.config
        if config.store is None and all(isinstance(s, InMemoryTraceSink) for s in config.sinks):
            return self.emit_trace(trace)  # nothing to wait for: no thread hop
        return await asyncio.to_thread(self.emit_trace, trace)

    def emit_trace(self, trace: RouteTrace) -> RouteTrace:
        """Send a snapshot of a trace to every sink and the store; return the snapshot.

        The snapshot is scrubbed (``scrub_secrets``, by
        :func:`~langchain_netgpt.tracing.scrub.default_scrubber`: the one scrubber of the
        package) and shares no mutable object with the step, so nothing done to the answer
        afterwards reaches a sink. A failing sink is counted and logged.
        """
        config = self.config
        if config.scrub_secrets:
            trace = scrub_trace(trace, default_scrubber())
        elif trace.output is not None:
            trace = trace.model_copy(update={"output": trace.output.model_copy(deep=True)})
        for sink in [*config.sinks, config.store] if config.store is not None else config.sinks:
            try:
                sink.write(trace)
            except Exception:
                # The step's answer must still reach the agent; the lost trace is counted
                # and logged with its id so it can be found in the other sinks.
                self.sink_errors += 1
                logger.exception("netgpt: sink %r failed to store trace %s", sink, trace.trace_id)
        return trace
