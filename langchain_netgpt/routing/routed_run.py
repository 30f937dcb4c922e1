"""A routed call as one traced run: the router's own run, named for the side that served it.

``NetGPTRouter`` calls its sides untraced (no child run: one chat-model run per routed call,
its tokens counted once) and, before its run ends, stamps the run (see
:func:`~langchain_netgpt.tracing.langsmith.stamp_routed_run`) with the served side's
``ls_provider`` / ``ls_model_name``, the ``netgpt.*`` route, the route tag and, for an edge, its
price. :class:`RunHandle` is the run to stamp: the run manager's when LangChain gives one, and
for ``BaseChatModel.stream`` (which does not hand ``_stream`` its run manager) the run that
:func:`stream_config` prepares and :func:`take_stream_run` hands to ``_stream``.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.tracers.base import AsyncBaseTracer, BaseTracer

from langchain_netgpt.routing.executor import _unwrap
from langchain_netgpt.tracing.langsmith import (
    ATTEMPTS_KEY,
    LATENCY_KEY,
    route_metadata,
    route_tag,
    stamp_routed_run,
    usage_with_cost,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import Callbacks
    from langchain_core.messages import AIMessage
    from langchain_core.runnables import Runnable

    from langchain_netgpt.routing.latency import SideProfile
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["RunHandle", "served_params", "stamp_step", "stream_config", "take_stream_run"]

_STREAM_RUN: ContextVar[RunHandle | None] = ContextVar("netgpt_stream_run", default=None)


class RunHandle:
    """The router's run as its tracers hold it: its id and the tracers among its handlers."""

    __slots__ = ("run_id", "tracers")

    def __init__(self, run_id: UUID, handlers: list[BaseCallbackHandler]) -> None:
        self.run_id = run_id
        self.tracers = [h for h in handlers if isinstance(h, BaseTracer | AsyncBaseTracer)]

    @classmethod
    def of(
        cls, run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
    ) -> RunHandle | None:
        """The run of ``run_manager``; ``None`` without one (then see :func:`take_stream_run`)."""
        if run_manager is None:
            return take_stream_run()
        return cls(run_manager.run_id, run_manager.handlers)


def stream_config(
    config: RunnableConfig | None, local_callbacks: Callbacks, *, is_async: bool
) -> tuple[RunnableConfig, RunHandle]:
    """``config`` for ``BaseChatModel.stream``, with the run's id and handlers fixed up front.

    The callbacks are configured here (the model's own ``callbacks`` and the
    ``LANGSMITH_TRACING`` tracer included), so the run that ``stream`` starts is handled by the
    very tracer objects the returned handle holds (``stream`` adds no handler twice).
    """
    config = ensure_config(config)
    run_id = config.get("run_id") or uuid4()
    manager_cls = AsyncCallbackManager if is_async else CallbackManager
    manager = manager_cls.configure(config.get("callbacks"), local_callbacks)
    return {**config, "callbacks": manager, "run_id": run_id}, RunHandle(run_id, manager.handlers)


def enter_stream_run(handle: RunHandle) -> Any:
    """Offer ``handle`` to the ``_stream`` that starts next in this context (a reset token)."""
    return _STREAM_RUN.set(handle)


def leave_stream_run(token: Any) -> None:
    """Withdraw the offer of :func:`enter_stream_run`."""
    _STREAM_RUN.reset(token)


def take_stream_run() -> RunHandle | None:
    """The run offered to this ``_stream`` (taken once: a nested call does not see it)."""
    handle = _STREAM_RUN.get()
    if handle is not None:
        _STREAM_RUN.set(None)
    return handle


def served_params(
    runnable: Runnable[Any, Any], stop: list[str] | None, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The ``ls_*`` parameters of the model behind a side (``{}`` if it is not a chat model)."""
    unwrapped = _unwrap(runnable)
    if unwrapped is None:
        return {}
    model, bound = unwrapped
    try:
        return dict(model._get_ls_params(stop=stop, **{**bound, **kwargs}))
    except Exception:  # a side's own tracing parameters must not fail the routed call
        return {}


def _edge_price(step: RoutedStep, target: str) -> SideProfile | None:
    targets = step.config.targets
    if targets is not None and target in targets and targets[target].profile is not None:
        return targets[target].profile
    latency_model = getattr(step.config.policy, "latency_model", None)
    return getattr(latency_model, "edge", None)


def stamp_step(
    handle: RunHandle | None,
    step: RoutedStep,
    answer: AIMessage | None,
    *,
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> None:
    """Stamp the router's run with the step's route, before the run ends.

    With an answer: the served side's ``ls_*`` parameters, its route and tag, and for an edge
    its cost; without one (every side failed): the route of the last side tried.
    """
    if handle is None or not handle.tracers:
        return
    attempts = step.outcome.attempts
    target = step.answer_target if answer is not None else None
    if target is None:
        target = attempts[-1].target if attempts else step.decision.target
    metadata = route_metadata(target, step.decision, step.network, mode=step.plan.mode)
    metadata[LATENCY_KEY] = round((time.perf_counter() - step.started) * 1000, 3)
    metadata[ATTEMPTS_KEY] = [
        a.target if a.ok else f"{a.target}: {a.error_type or 'invalid'}" for a in attempts
    ]
    usage = None
    if answer is not None:
        metadata.update(served_params(step.model_for(target), stop, kwargs))
        profile = None if step.is_cloud(target) else _edge_price(step, target)
        if profile is not None and answer.usage_metadata:
            usage = usage_with_cost(
                answer.usage_metadata,
                usd_per_1k_input_tokens=profile.usd_per_1k_input_tokens,
                usd_per_1k_output_tokens=profile.usd_per_1k_output_tokens,
            )
    stamp_routed_run(
        handle.tracers, handle.run_id, tag=route_tag(target), metadata=metadata, usage=usage
    )
