"""OpenTelemetry spans and metrics per routed step, read back from in-process collectors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage
from opentelemetry import trace as trace_api
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from langchain_netgpt import CloudBudget, NetGPTRouter, NetworkState
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.routing.reliability import CircuitBreakerConfig
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink
from langchain_netgpt.tracing.otel import OpenTelemetryTraceSink, fallback_kind

NET = NetworkState(bandwidth_up_mbps=5, bandwidth_down_mbps=20, rtt_ms=120)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def metrics() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def sink(spans: InMemorySpanExporter, metrics: InMemoryMetricReader) -> OpenTelemetryTraceSink:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return OpenTelemetryTraceSink(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[metrics])
    )


def _router(sink: OpenTelemetryTraceSink, **kwargs: Any) -> tuple[NetGPTRouter, InMemoryTraceSink]:
    memory = InMemoryTraceSink()
    answer = AIMessage(
        "cloud answer",
        response_metadata={"model_name": "gpt-test", "finish_reason": "stop"},
        usage_metadata={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
    )
    kwargs.setdefault("edge", ScriptedChatModel(responses=["edge answer"]))
    kwargs.setdefault("cloud", ScriptedChatModel(responses=[answer]))
    router = NetGPTRouter(monitor=FixedNetworkMonitor(NET), sinks=[memory, sink], **kwargs)
    return router, memory


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_each_routed_step_is_one_genai_span_timed_from_its_trace(
    sink: OpenTelemetryTraceSink, spans: InMemorySpanExporter
) -> None:
    router, memory = _router(sink, policy=AlwaysCloud())
    router.invoke("hello", config={"metadata": {"thread_id": "conv-1"}})
    (span,) = spans.get_finished_spans()
    (trace,) = memory.traces
    attrs = span.attributes or {}
    served = trace.output.response_metadata["model_name"] if trace.output else None
    assert served and span.name == f"chat {served}" and span.kind is trace_api.SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.response.model"] == served
    assert attrs["gen_ai.usage.input_tokens"] == 12 and attrs["gen_ai.usage.output_tokens"] == 5
    assert attrs["gen_ai.conversation.id"] == "conv-1"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["netgpt.route"] == "cloud" and attrs["netgpt.target"] == "cloud"
    assert attrs["netgpt.score"] == trace.score and attrs["netgpt.tau"] == trace.threshold
    assert attrs["netgpt.rtt_ms"] == 120 and attrs["netgpt.bandwidth_up_mbps"] == 5
    assert attrs["netgpt.trace_id"] == trace.trace_id
    assert span.start_time == int(trace.created_at * 1e9)
    assert span.end_time == span.start_time + int(trace.latency_s * 1e9)
    assert [e.name for e in span.events] == ["netgpt.attempt"]


def test_a_fallback_span_names_the_reason_and_carries_both_attempts(
    sink: OpenTelemetryTraceSink, spans: InMemorySpanExporter, metrics: InMemoryMetricReader
) -> None:
    router, _ = _router(
        sink, policy=AlwaysEdge(), edge=ScriptedChatModel(responses=[RuntimeError("edge down")])
    )
    router.invoke("hello")
    (span,) = spans.get_finished_spans()
    attrs = span.attributes or {}
    assert attrs["netgpt.route"] == "edge" and attrs["netgpt.target"] == "cloud"
    assert attrs["netgpt.fallback"] is True
    assert "edge failed: RuntimeError: edge down" in str(attrs["netgpt.fallback_reason"])
    events = [(e.attributes or {}) for e in span.events]
    assert [(e["netgpt.target"], e["netgpt.ok"]) for e in events] == [
        ("edge", False),
        ("cloud", True),
    ]
    assert events[0]["error.type"] == "RuntimeError"
    (fallback,) = _points(metrics)["netgpt.fallbacks"]
    assert fallback.value == 1 and fallback.attributes["netgpt.fallback_kind"] == "edge failed"


def test_a_failed_step_is_an_error_span(
    sink: OpenTelemetryTraceSink, spans: InMemorySpanExporter
) -> None:
    router, _ = _router(
        sink,
        edge=ScriptedChatModel(responses=[RuntimeError("edge down")]),
        cloud=ScriptedChatModel(responses=[RuntimeError("cloud down")]),
    )
    with pytest.raises(Exception, match="no target answered"):
        router.invoke("hello")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is trace_api.StatusCode.ERROR
    assert "no target answered" in (span.status.description or "")


def test_metrics_count_steps_by_route_spend_and_duration(
    sink: OpenTelemetryTraceSink, metrics: InMemoryMetricReader
) -> None:
    router, memory = _router(sink, policy=AlwaysCloud())
    for _ in range(3):
        router.invoke("hello")
    points = _points(metrics)
    (steps,) = points["netgpt.steps"]
    assert steps.value == 3 and steps.attributes["netgpt.target"] == "cloud"
    (spend,) = points["netgpt.cloud.spend"]
    assert spend.value == pytest.approx(sum(t.cloud_price_usd for t in memory.traces))
    (duration,) = points["gen_ai.client.operation.duration"]
    assert duration.count == 3 and duration.sum == pytest.approx(
        sum(t.latency_s for t in memory.traces)
    )
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}
    assert tokens == {"input": 36, "output": 15}


def test_watched_circuits_and_budget_are_reported_as_gauges(
    sink: OpenTelemetryTraceSink, metrics: InMemoryMetricReader
) -> None:
    router, _ = _router(
        sink,
        policy=AlwaysCloud(),
        cloud=ScriptedChatModel(responses=[RuntimeError("cloud down")]),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=1, open_s=60),
        budget=CloudBudget(max_cloud_usd=1.0),
    )
    sink.watch(router)
    router.invoke("hello")  # the cloud fails once: its circuit opens; the edge answers
    points = _points(metrics)
    states = {p.attributes["netgpt.target"]: p.value for p in points["netgpt.circuit.state"]}
    assert states == {"edge": 0, "cloud": 2}
    assert [p.value for p in points["netgpt.budget.spent"]] == [0.0]  # the failed call was refunded


def test_metrics_export_to_prometheus_text() -> None:
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    sink = OpenTelemetryTraceSink(
        tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader])
    )
    router, _ = _router(sink, policy=AlwaysCloud())
    sink.watch(router)
    router.invoke("hello")
    text = generate_latest(registry).decode()
    samples = {line.split("{")[0]: line for line in text.splitlines() if not line.startswith("#")}
    assert 'netgpt_route="cloud",netgpt_target="cloud"' in samples["netgpt_steps_total"]
    assert samples["netgpt_steps_total"].endswith(" 1.0")
    assert "netgpt_cloud_spend_USD_total" in samples
    assert samples["netgpt_circuit_state"].endswith(" 0.0")
    assert "gen_ai_client_operation_duration_seconds_bucket" in samples


def test_prometheus_scrapes_the_steps_over_http() -> None:
    registry = CollectorRegistry()
    sink = OpenTelemetryTraceSink(
        tracer_provider=TracerProvider(),
        meter_provider=MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)]),
    )
    router, _ = _router(sink, policy=AlwaysEdge())
    for _ in range(3):
        router.invoke("hello")
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        scraped = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    (steps,) = [s for s in families["netgpt_steps"].samples if s.name == "netgpt_steps_total"]
    assert steps.labels["netgpt_route"] == "edge" and steps.value == 3.0


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("edge failed: RuntimeError: boom", "edge failed"),
        ("edge_escalated: too hard", "edge_escalated"),
        ("; cloud refused: max_cloud_usd budget reached", "cloud refused"),
        (None, "none"),
    ],
)
def test_fallback_reasons_become_low_cardinality_labels(reason: str | None, kind: str) -> None:
    assert fallback_kind(reason) == kind


def test_the_sink_without_a_provider_uses_the_global_ones() -> None:
    sink = OpenTelemetryTraceSink()  # the API's no-op providers: nothing is recorded, nothing fails
    router, memory = _router(sink)
    router.invoke("hello")
    assert len(memory) == 1
