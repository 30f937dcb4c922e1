"""The route as LangSmith sees it: run metadata keys, tags, and the end-of-run latency stamp.

Every routed model run (the edge or cloud child of a :class:`~langchain_netgpt.NetGPTRouter`
call, or the model run of a ``create_agent`` agent routed by
:class:`~langchain_netgpt.middleware.NetGPTRoutingMiddleware`) carries the tag ``netgpt:edge`` or
``netgpt:cloud`` and ``netgpt.*`` metadata (see :data:`ROUTE_METADATA_KEYS`).

Most of the route is known when the run starts and travels in the run's config
(:func:`route_metadata`). ``netgpt.latency_ms`` is only known when the run ends, after the
model answered. :func:`with_route_latency` therefore puts a :class:`RouteLatencyStamp` first in
the run's callbacks: on ``on_llm_end`` / ``on_llm_error`` it runs before every tracer and writes
the latency into the run each tracer holds (``tracer.run_map[run_id]``, a ``langsmith.RunTree``,
via ``RunTree.add_metadata``). ``LangChainTracer`` then sends its end patch with the run's
``extra.metadata``, so LangSmith receives the latency on the same run, in the same patch, with
no second request. Without a tracer in the callbacks nothing is added.

A :class:`~langchain_netgpt.NetGPTRouter` call is *one* run: the router's own chat-model run.
Its sides are called untraced (:func:`untraced`), and before the run ends
:func:`stamp_routed_run` writes into each tracer's copy of it what is only known then: the side
that served it (its ``ls_provider`` / ``ls_model_name``, so LangSmith names and prices the model
that answered), the ``netgpt.*`` route, the tag, and for an edge its cost
(:func:`usage_with_cost`), since LangSmith has no price for a local model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager, CallbackManager
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tracers.base import AsyncBaseTracer, BaseTracer
from langchain_core.tracers.context import tracing_v2_callback_var
from langsmith.run_helpers import tracing_context

if TYPE_CHECKING:
    from langchain_core.callbacks import Callbacks

    from langchain_netgpt.routing.network import NetworkState
    from langchain_netgpt.routing.policy import RouteDecision

__all__ = [
    "ATTEMPTS_KEY",
    "BANDWIDTH_DOWN_KEY",
    "BANDWIDTH_KEY",
    "DECIDED_TARGET_KEY",
    "FALLBACK_KEY",
    "LATENCY_KEY",
    "MODE_KEY",
    "POLICY_KEY",
    "REASON_KEY",
    "ROUTE_KEY",
    "ROUTE_METADATA_KEYS",
    "ROUTE_TAG_PREFIX",
    "RTT_KEY",
    "SCORE_KEY",
    "THRESHOLD_KEY",
    "RouteLatencyStamp",
    "route_metadata",
    "route_tag",
    "stamp_routed_run",
    "untraced",
    "usage_with_cost",
    "with_route_latency",
]

ROUTE_TAG_PREFIX = "netgpt:"
"""Prefix of the route tag: ``netgpt:edge``, ``netgpt:cloud`` (or another target's name)."""

ROUTE_KEY = "netgpt.route"
SCORE_KEY = "netgpt.score"
THRESHOLD_KEY = "netgpt.threshold"
RTT_KEY = "netgpt.rtt_ms"
BANDWIDTH_KEY = "netgpt.bandwidth_mbps"
"""Uplink bandwidth, Mbit/s (the direction that carries the prompt)."""
BANDWIDTH_DOWN_KEY = "netgpt.bandwidth_down_mbps"
FALLBACK_KEY = "netgpt.fallback"
"""Whether this run is a fallback try (its target is not the one the policy decided)."""
LATENCY_KEY = "netgpt.latency_ms"
"""Milliseconds from the routing decision to the end of this run (fallback tries included)."""
DECIDED_TARGET_KEY = "netgpt.decided_target"
POLICY_KEY = "netgpt.policy"
REASON_KEY = "netgpt.reason"
MODE_KEY = "netgpt.mode"
ATTEMPTS_KEY = "netgpt.attempts"
"""The tries of a routed call, in order: the side, with ``: ErrorType`` when the try failed
(``["edge: RuntimeError", "cloud"]`` is a fallback that the cloud answered)."""

ROUTE_METADATA_KEYS = (
    ROUTE_KEY,
    SCORE_KEY,
    THRESHOLD_KEY,
    RTT_KEY,
    BANDWIDTH_KEY,
    FALLBACK_KEY,
    LATENCY_KEY,
    BANDWIDTH_DOWN_KEY,
    DECIDED_TARGET_KEY,
    POLICY_KEY,
    REASON_KEY,
    MODE_KEY,
)
"""Every metadata key a routed run carries once it has ended."""


def route_tag(target: str) -> str:
    """The LangSmith tag of a run routed to ``target`` (``netgpt:edge``, ``netgpt:cloud``)."""
    return f"{ROUTE_TAG_PREFIX}{target}"


def route_metadata(
    target: str, decision: RouteDecision, network: NetworkState, *, mode: str
) -> dict[str, Any]:
    """The route metadata known when a try of ``target`` starts (all but the latency).

    Args:
        target: The side this run calls.
        decision: The step's routing decision.
        network: The network state the decision saw.
        mode: How the step was called (``invoke``, ``ainvoke``, ``stream``, ``astream``).
    """
    return {
        ROUTE_KEY: target,
        SCORE_KEY: round(decision.score, 4),
        THRESHOLD_KEY: round(decision.threshold, 4),
        RTT_KEY: round(network.rtt_ms, 1),
        BANDWIDTH_KEY: round(network.bandwidth_up_mbps, 3),
        BANDWIDTH_DOWN_KEY: round(network.bandwidth_down_mbps, 3),
        FALLBACK_KEY: target != decision.target,
        DECIDED_TARGET_KEY: decision.target,
        POLICY_KEY: decision.policy,
        REASON_KEY: decision.reason,
        MODE_KEY: mode,
    }


_Tracer = BaseTracer | AsyncBaseTracer


class RouteLatencyStamp(BaseCallbackHandler):
    """Writes ``netgpt.latency_ms`` into a routed run just before the tracers close it.

    It must come first in the run's handlers (:func:`with_route_latency` puts it there) and
    runs inline, so on ``on_llm_end`` / ``on_llm_error`` it updates each tracer's copy of the
    run before that tracer sends the run's end (``LangChainTracer``'s end patch then carries
    the latency). Only runs whose metadata holds ``netgpt.route`` are stamped.

    Args:
        tracers: The tracers whose runs to stamp.
        started: ``time.perf_counter()`` at the routing decision.

    Example:
        .. code-block:: python

            import time
            from langchain_netgpt.tracing.langsmith import RouteLatencyStamp

            stamp = RouteLatencyStamp([], started=time.perf_counter())
            assert stamp.run_inline
    """

    run_inline = True
    raise_error = False

    def __init__(self, tracers: Sequence[_Tracer], *, started: float) -> None:
        self._tracers = tuple(tracers)
        self._started = started

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Stamp the run that ended."""
        self._stamp(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Stamp the run that failed (a failed try is a routed run too)."""
        self._stamp(run_id)

    def _stamp(self, run_id: UUID) -> None:
        latency_ms = round((time.perf_counter() - self._started) * 1000, 3)
        key = str(run_id)
        for tracer in self._tracers:
            run = tracer.run_map.get(key)
            if run is not None and ROUTE_KEY in run.metadata:
                run.add_metadata({LATENCY_KEY: latency_ms})


def _tracers(handlers: Sequence[BaseCallbackHandler]) -> list[_Tracer]:
    return [h for h in handlers if isinstance(h, BaseTracer | AsyncBaseTracer)]


def with_route_latency(callbacks: Callbacks, started: float) -> Callbacks:
    """``callbacks`` with a :class:`RouteLatencyStamp` first (when they hold a tracer).

    The stamp is a local handler of the routed run: runs the model starts inside do not
    inherit it. Callbacks without a tracer come back unchanged (nothing would record the
    latency). ``None`` (no parent run: ``BaseChatModel.stream`` does not hand ``_stream`` its
    run manager) becomes the callbacks the model would configure for itself, the tracer of
    ``LANGSMITH_TRACING`` included, so a streamed routed run is stamped as well.

    Args:
        callbacks: The routed run's callbacks (a manager, a list of handlers, or ``None``).
        started: ``time.perf_counter()`` at the routing decision.
    """
    if callbacks is None:
        configured = CallbackManager.configure()
        tracers = _tracers(configured.handlers)
        if not tracers:
            return None
        configured.handlers.insert(0, RouteLatencyStamp(tracers, started=started))
        return configured
    if isinstance(callbacks, BaseCallbackManager):
        tracers = _tracers(callbacks.handlers)
        if not tracers:
            return callbacks
        manager = callbacks.copy()
        manager.handlers.insert(0, RouteLatencyStamp(tracers, started=started))
        return manager
    handlers = list(callbacks)
    tracers = _tracers(handlers)
    if not tracers:
        return callbacks
    return CallbackManager(
        handlers=[RouteLatencyStamp(tracers, started=started), *handlers],
        inheritable_handlers=handlers,
    )


def stamp_routed_run(
    handlers: Sequence[BaseCallbackHandler],
    run_id: UUID,
    *,
    tag: str,
    metadata: Mapping[str, Any],
    usage: Mapping[str, Any] | None = None,
) -> int:
    """Write the route into each tracer's copy of run ``run_id`` before the run ends.

    The tracers send the run's end (``LangChainTracer``: one patch) after this, so LangSmith
    gets the tag, the metadata (``ls_model_name`` of the side that served included) and, with
    ``usage``, the run's ``outputs.usage_metadata`` (token counts with costs) on the same run.

    Args:
        handlers: The run's callback handlers (tracers among them are stamped).
        run_id: The run to stamp.
        tag: The route tag (``netgpt:edge``).
        metadata: Metadata to merge into the run's.
        usage: LangSmith usage (tokens and ``*_cost``) to report as the run's usage.

    Returns:
        How many tracers held the run.

    Example:
        .. code-block:: python

            import uuid
            from langchain_netgpt.tracing.langsmith import stamp_routed_run

            assert stamp_routed_run([], uuid.uuid4(), tag="netgpt:edge", metadata={}) == 0
    """
    key = str(run_id)
    stamped = 0
    for tracer in _tracers(handlers):
        run = tracer.run_map.get(key)
        if run is None:
            continue
        stamped += 1
        run.add_metadata(dict(metadata))
        if tag not in (run.tags or []):
            run.add_tags([tag])
        if usage is not None:
            # The tracer merges its own outputs into these when the run ends (dict.update), so
            # this key survives beside "generations": LangSmith reads costs from it.
            outputs = run.outputs if isinstance(run.outputs, dict) else {}
            run.outputs = {**outputs, "usage_metadata": dict(usage)}
    return stamped


def usage_with_cost(
    usage: Mapping[str, Any], *, usd_per_1k_input_tokens: float, usd_per_1k_output_tokens: float
) -> dict[str, Any]:
    """LangSmith usage metadata: token counts with their price (``input_cost``, ...).

    LangSmith prices a run from its ``ls_model_name`` when it knows the model; a local edge
    model it does not know is priced from these fields instead (0 for a free edge).

    Args:
        usage: LangChain ``usage_metadata`` (``input_tokens``, ``output_tokens``, ...).
        usd_per_1k_input_tokens: Price of 1,000 prompt tokens.
        usd_per_1k_output_tokens: Price of 1,000 output tokens.

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing.langsmith import usage_with_cost

            usage = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}
            priced = usage_with_cost(
                usage, usd_per_1k_input_tokens=0.01, usd_per_1k_output_tokens=0.02
            )
            assert priced["total_cost"] == 0.02
    """
    input_cost = int(usage.get("input_tokens") or 0) * usd_per_1k_input_tokens / 1000
    output_cost = int(usage.get("output_tokens") or 0) * usd_per_1k_output_tokens / 1000
    return {
        **usage,
        "input_cost": input_cost,
        "output_cost": output_cost,
        "total_cost": input_cost + output_cost,
    }


@contextmanager
def untraced() -> Iterator[None]:
    """Calls made inside start no run of their own for any handler or tracer.

    The router calls its sides under it, so a routed call is the router's run alone. Three
    switches are turned off: LangSmith's tracing context (``LANGSMITH_TRACING``), LangChain's
    ``tracing_v2_enabled()`` tracer, and the callbacks an enclosing chain hands its children
    through the context (which ``RunnableBinding`` merges into any config it is given); the
    rest of the chain's config (``configurable``, tags, ...) still reaches the call.
    """
    tracer_token = tracing_v2_callback_var.set(None)
    inherited = var_child_runnable_config.get()
    config_token = var_child_runnable_config.set(
        None if inherited is None else {**inherited, "callbacks": None}
    )
    try:
        with tracing_context(enabled=False):
            yield
    finally:
        var_child_runnable_config.reset(config_token)
        tracing_v2_callback_var.reset(tracer_token)
