"""OpenTelemetry for routed steps: one span per step and routing metrics, exportable to Prometheus.

:class:`OpenTelemetryTraceSink` is a trace sink (``NetGPTRouter(sinks=[...])``): every
:class:`RouteTrace` becomes one ``CLIENT`` span named ``chat <model>`` with the GenAI semantic
conventions' attributes (``gen_ai.operation.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.*``, ``gen_ai.conversation.id``) and the routing ones
(``netgpt.route``, ``netgpt.target``, ``netgpt.score``, ``netgpt.tau``, ``netgpt.rtt_ms``,
``netgpt.bandwidth_*_mbps``, ``netgpt.fallback_reason``, ...), timed from the trace itself, with
one event per attempt. It also records metrics: steps by route, fallbacks, cloud spend, step and
decision duration, token usage, and (after :meth:`~OpenTelemetryTraceSink.watch`) circuit-breaker
state and budget use as observable gauges. Needs ``pip install 'langchain-netgpt[otel]'``.

Prometheus: give the sink a ``MeterProvider`` whose reader is
``opentelemetry.exporter.prometheus.PrometheusMetricReader`` and serve
``prometheus_client.start_http_server(port)``; the metrics appear as ``netgpt_steps_total``,
``netgpt_cloud_spend_USD_total``, ``netgpt_circuit_state``, ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from langchain_netgpt.errors import MissingExtraError
from langchain_netgpt.tracing.trace import RouteTrace

__all__ = ["OpenTelemetryTraceSink", "fallback_kind"]

_SCOPE = "langchain_netgpt"
_CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def _otel() -> tuple[Any, Any]:
    try:
        from opentelemetry import metrics, trace
    except ImportError as exc:
        raise MissingExtraError("opentelemetry-api", "otel") from exc
    return trace, metrics


class _Watched(Protocol):
    """What :meth:`OpenTelemetryTraceSink.watch` reads: a router (or an engine) with circuits."""

    def circuit_state(self, target: str) -> Any:
        """State of a side's circuit (``closed``, ``half_open`` or ``open``)."""
        ...


def fallback_kind(reason: str | None) -> str:
    """A low-cardinality label for a fallback reason (the text before the first ``:``).

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing.otel import fallback_kind

            assert fallback_kind("edge failed: RuntimeError: boom") == "edge failed"
            assert fallback_kind(None) == "none"
    """
    if not reason:
        return "none"
    head = reason.split(":", 1)[0].strip().lstrip("; ").strip()
    return head[:60] or "other"


def _served_model(trace: RouteTrace) -> str | None:
    output = trace.output
    if output is None:
        return None
    meta = output.response_metadata or {}
    name = meta.get("model_name") or meta.get("model")
    return str(name) if name else None


class OpenTelemetryTraceSink:
    """Emits an OpenTelemetry span and routing metrics for every routed step.

    Args:
        tracer_provider: Where spans go (default: the global one, ``trace.set_tracer_provider``).
        meter_provider: Where metrics go (default: the global one).

    Raises:
        MissingExtraError: ``opentelemetry-api`` is not installed
            (``pip install 'langchain-netgpt[otel]'``).

    Example:
        .. code-block:: python

            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            from langchain_netgpt import NetGPTRouter
            from langchain_netgpt.testing import ScriptedChatModel
            from langchain_netgpt.tracing.otel import OpenTelemetryTraceSink

            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["hi"]),
                cloud=ScriptedChatModel(responses=["hello"]),
                sinks=[OpenTelemetryTraceSink(tracer_provider=provider)],
            )
            router.invoke("hey")
            (span,) = exporter.get_finished_spans()
            assert span.attributes["netgpt.target"] in ("edge", "cloud")
    """

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        trace_api, metrics_api = _otel()
        from langchain_netgpt import __version__

        self._trace_api = trace_api
        self._tracer = (tracer_provider or trace_api.get_tracer_provider()).get_tracer(
            _SCOPE, __version__
        )
        self._meter = (meter_provider or metrics_api.get_meter_provider()).get_meter(
            _SCOPE, __version__
        )
        meter = self._meter
        self._steps = meter.create_counter(
            "netgpt.steps", unit="{step}", description="Routed steps, by the target that answered."
        )
        self._fallbacks = meter.create_counter(
            "netgpt.fallbacks", unit="{step}", description="Steps answered by another target."
        )
        self._spend = meter.create_counter(
            "netgpt.cloud.spend", unit="USD", description="Dollars spent on cloud steps."
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="Duration of a routed step, every attempt included.",
        )
        self._decision = meter.create_histogram(
            "netgpt.decision.duration",
            unit="s",
            description="Time to decide a step's route (features, score, network, policy).",
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens per routed step."
        )
        self._watched: list[tuple[_Watched, tuple[str, ...], Any]] = []
        self._watch_lock = threading.Lock()
        self._gauges_made = False

    # -- spans ----------------------------------------------------------------------------------
    def write(self, trace: RouteTrace) -> None:
        """Emit the step's span and record its metrics."""
        start_ns = int(trace.created_at * 1e9)
        end_ns = start_ns + int(max(trace.latency_s, 0.0) * 1e9)
        served = _served_model(trace)
        target = trace.final_target or "none"
        model = served or target
        span = self._tracer.start_span(
            f"chat {model}",
            kind=self._trace_api.SpanKind.CLIENT,
            start_time=start_ns,
            attributes=self._attributes(trace, served),
        )
        offset_s = 0.0
        for attempt in trace.attempts:
            offset_s += max(attempt.latency_s, 0.0)
            event: dict[str, Any] = {
                "netgpt.target": attempt.target,
                "netgpt.ok": attempt.ok,
                "netgpt.latency_s": attempt.latency_s,
            }
            if attempt.error_type:
                event["error.type"] = attempt.error_type
            if attempt.problems:
                event["netgpt.problems"] = attempt.problems[:5]
            span.add_event(
                "netgpt.attempt", event, timestamp=min(end_ns, start_ns + int(offset_s * 1e9))
            )
        if trace.error is not None:
            span.set_status(self._trace_api.Status(self._trace_api.StatusCode.ERROR, trace.error))
            span.set_attribute("error.type", "RoutingError")
        span.end(end_time=end_ns)
        self._record(trace, model)

    @staticmethod
    def _attributes(trace: RouteTrace, served: str | None) -> dict[str, Any]:
        net = trace.network
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "netgpt",
            "gen_ai.request.model": served or trace.final_target or trace.decided_target,
            "netgpt.trace_id": trace.trace_id,
            "netgpt.mode": trace.mode,
            "netgpt.route": trace.decided_target,
            "netgpt.target": trace.final_target or "none",
            "netgpt.policy": trace.policy,
            "netgpt.reason": trace.reason,
            "netgpt.score": trace.score,
            "netgpt.tau": trace.threshold,
            "netgpt.rtt_ms": net.rtt_ms,
            "netgpt.bandwidth_up_mbps": net.bandwidth_up_mbps,
            "netgpt.bandwidth_down_mbps": net.bandwidth_down_mbps,
            "netgpt.fallback": trace.fallback,
            "netgpt.cloud_price_usd": trace.cloud_price_usd,
            "netgpt.latency_s": trace.latency_s,
            "netgpt.propensity": trace.propensity,
        }
        optional = {
            "gen_ai.response.model": served,
            "gen_ai.conversation.id": trace.session_id,
            "netgpt.fallback_reason": trace.fallback_reason,
            "netgpt.fallback_code": trace.fallback_code,
            "netgpt.overridden_by": trace.overridden_by,
            "netgpt.escalation_reason": trace.escalation_reason,
            "netgpt.tool_calls_valid": trace.tool_calls_valid,
            "netgpt.expected_edge_s": trace.expected_edge_s,
            "netgpt.expected_cloud_s": trace.expected_cloud_s,
            "netgpt.decision_s": trace.decision_s,
            "netgpt.run_id": trace.run_id,
        }
        attributes.update({k: v for k, v in optional.items() if v is not None})
        usage = trace.usage or {}
        for key, name in (("input_tokens", "input"), ("output_tokens", "output")):
            if isinstance(usage.get(key), int):
                attributes[f"gen_ai.usage.{name}_tokens"] = usage[key]
        finish = (
            (trace.output.response_metadata or {}).get("finish_reason") if trace.output else None
        )
        if isinstance(finish, str):
            attributes["gen_ai.response.finish_reasons"] = [finish]
        return attributes

    # -- metrics --------------------------------------------------------------------------------
    def _record(self, trace: RouteTrace, model: str) -> None:
        target = trace.final_target or "none"
        labels = {"netgpt.target": target, "netgpt.route": trace.decided_target}
        self._steps.add(1, labels)
        if trace.fallback:
            self._fallbacks.add(
                1,
                {
                    "netgpt.route": trace.decided_target,
                    "netgpt.target": target,
                    "netgpt.fallback_kind": fallback_kind(trace.fallback_reason),
                },
            )
        if trace.cloud_price_usd > 0:
            self._spend.add(trace.cloud_price_usd, {"netgpt.target": target})
        op = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model, **labels}
        if trace.error is not None:
            op["error.type"] = "RoutingError"
        self._duration.record(max(trace.latency_s, 0.0), op)
        if trace.decision_s is not None:
            self._decision.record(trace.decision_s, {"netgpt.route": trace.decided_target})
        usage = trace.usage or {}
        for key, kind in (("input_tokens", "input"), ("output_tokens", "output")):
            if isinstance(usage.get(key), int):
                self._tokens.record(usage[key], {**op, "gen_ai.token.type": kind})

    def watch(self, router: _Watched, *, targets: Iterable[str] | None = None) -> None:
        """Report a router's circuit states (and budget use, if it has a budget) as gauges.

        ``netgpt.circuit.state`` is 0 (closed), 1 (half-open) or 2 (open) per target;
        ``netgpt.budget.cloud_share`` and ``netgpt.budget.spent`` follow the router's
        ``budget``. Values are read when the metrics are collected.

        Args:
            router: A ``NetGPTRouter`` (or anything with ``circuit_state(target)``).
            targets: Targets to report (default: the router's named targets, else edge and
                cloud).

        Raises:
            TypeError: ``router`` has no ``circuit_state`` method.
        """
        if not callable(getattr(router, "circuit_state", None)):
            raise TypeError(f"watch() needs an object with circuit_state(target), got {router!r}")
        names = tuple(targets) if targets is not None else None
        if names is None:
            named = getattr(router, "targets", None)
            names = tuple(named) if isinstance(named, Mapping) and named else ("edge", "cloud")
        with self._watch_lock:
            self._watched.append((router, names, getattr(router, "budget", None)))
            if not self._gauges_made:
                self._make_gauges()
                self._gauges_made = True

    def _make_gauges(self) -> None:
        metrics_api = _otel()[1]
        observation = metrics_api.Observation

        def circuits(_options: Any) -> list[Any]:
            found = []
            for router, names, _budget in list(self._watched):
                for name in names:
                    state = str(getattr(router.circuit_state(name), "value", "closed"))
                    found.append(
                        observation(_CIRCUIT_VALUES.get(state, 0), {"netgpt.target": name})
                    )
            return found

        def share(_options: Any) -> list[Any]:
            return [
                observation(budget.cloud_share, {"netgpt.budget": _budget_name(budget)})
                for _, _, budget in list(self._watched)
                if budget is not None
            ]

        def spent(_options: Any) -> list[Any]:
            return [
                observation(budget.spent_usd, {"netgpt.budget": _budget_name(budget)})
                for _, _, budget in list(self._watched)
                if budget is not None
            ]

        self._meter.create_observable_gauge(
            "netgpt.circuit.state",
            callbacks=[circuits],
            unit="1",
            description="Circuit breaker state per target: 0 closed, 1 half-open, 2 open.",
        )
        self._meter.create_observable_gauge(
            "netgpt.budget.cloud_share",
            callbacks=[share],
            unit="1",
            description="Cloud share of the budget's window.",
        )
        self._meter.create_observable_gauge(
            "netgpt.budget.spent",
            callbacks=[spent],
            unit="USD",
            description="Dollars the budget has spent (fleet-wide with a shared state).",
        )

    def __repr__(self) -> str:
        return f"OpenTelemetryTraceSink(watching={len(self._watched)})"


def _budget_name(budget: Any) -> str:
    return str(getattr(budget, "budget_id", "default"))
