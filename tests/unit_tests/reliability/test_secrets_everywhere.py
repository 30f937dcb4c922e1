"""A credential of every format, planted in every field of a step, reaches no trace or output.

The step is routed by a real router over scripted models; the edge fails with the credentials
in its error, then answers with an unparsable tool call whose error carries them (so they sit in
``attempts[].error`` and ``attempts[].problems``), and the cloud answers with them in its text,
tool-call arguments and response metadata. Every sink (JSONL, SQLite TraceStore, in memory),
every export kind, the LangSmith import and the captured log output are then searched.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from langchain_netgpt import NetGPTRouter, RouteTrace
from langchain_netgpt.export import SecretScrubber
from langchain_netgpt.export.kinds import DATASET_KINDS, export_dataset
from langchain_netgpt.export.langsmith_runs import route_trace_from_run
from langchain_netgpt.routing import AlwaysEdge
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink, JsonlTraceSink, TraceStore
from langchain_netgpt.tracing.scrub import scrub_text, scrub_trace, scrub_value
from tests.unit_tests.test_credentials import EXAMPLES

ENV_SECRET = "plain-env-value-without-any-shape"
PLANTED = " | ".join(text for examples in EXAMPLES.values() for text, _ in examples)
PLANTED += f" | {ENV_SECRET}"
SECRET_PARTS = [secret for examples in EXAMPLES.values() for _, secret in examples]
SECRET_PARTS.append(ENV_SECRET)


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRET_PARTS if secret in text]


def _leaks_in(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    return _leaks(text) + _leaks(text.encode().decode("unicode_escape", errors="replace"))


@tool
def send(to: str, body: str) -> str:
    """Send a message."""
    return "sent"


def _conversation() -> list[Any]:
    return [
        SystemMessage(PLANTED, additional_kwargs={"note": PLANTED}),
        HumanMessage(
            [{"type": "text", "text": PLANTED}, {"type": "image_url", "image_url": PLANTED}],
            name=PLANTED,
            additional_kwargs={"headers": {"Authorization": "opaque-value", "x": PLANTED}},
            response_metadata={"meta": PLANTED},
        ),
        AIMessage(
            PLANTED,
            name=PLANTED,
            tool_calls=[{"name": "send", "args": {"to": PLANTED, "body": PLANTED}, "id": "c1"}],
            invalid_tool_calls=[
                {"name": "send", "args": PLANTED, "id": "c2", "error": PLANTED, "type": None}
            ],
            additional_kwargs={"refusal": PLANTED},
            response_metadata={"headers": {"set-cookie": "opaque", "x-debug": PLANTED}},
        ),
        ToolMessage(PLANTED, tool_call_id="c1", name=PLANTED, artifact={"raw": PLANTED}),
        HumanMessage(PLANTED),
    ]


def _edge_answer() -> AIMessage:
    return AIMessage(
        PLANTED,
        invalid_tool_calls=[
            {"name": "send", "args": PLANTED, "id": "e1", "error": PLANTED, "type": None}
        ],
    )


def _cloud_answer() -> AIMessage:
    return AIMessage(
        PLANTED,
        tool_calls=[{"name": "send", "args": {"to": PLANTED, "body": PLANTED}, "id": "k1"}],
        response_metadata={"headers": {"authorization": "Bearer x", "x-echo": PLANTED}},
        additional_kwargs={"reasoning": PLANTED},
    )


@pytest.fixture
def planted_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_INTERNAL_TOKEN", ENV_SECRET)


@pytest.fixture
def routed(
    tmp_path: Path, planted_env: None, caplog: pytest.LogCaptureFixture
) -> tuple[list[RouteTrace], Path, Path, str]:
    memory = InMemoryTraceSink()
    jsonl = tmp_path / "traces.jsonl"
    db = tmp_path / "traces.db"
    store = TraceStore(db)

    def failing_sink(trace: RouteTrace) -> None:
        raise RuntimeError(f"sink down while writing {PLANTED}")

    from langchain_netgpt.tracing import CallbackTraceSink

    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=[RuntimeError(PLANTED), _edge_answer()]),
        cloud=ScriptedChatModel(responses=[_cloud_answer()]),
        policy=AlwaysEdge(),
        sinks=[memory, JsonlTraceSink(jsonl), CallbackTraceSink(failing_sink)],
        store=store,
    )
    model = router.bind_tools([send])
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            reply = model.invoke(_conversation(), config={"metadata": {"session_id": PLANTED}})
            # Changing the reply after the step must not change what the sinks hold.
            reply.response_metadata.setdefault("netgpt", {})["late"] = PLANTED
            reply.additional_kwargs["late"] = PLANTED
    store.close()
    return memory.traces, jsonl, db, caplog.text


def test_a_planted_credential_of_every_format_reaches_no_sink(
    routed: tuple[list[RouteTrace], Path, Path, str],
) -> None:
    traces, jsonl, db, logs = routed
    assert len(traces) == 2
    assert any(a.error for t in traces for a in t.attempts), "the edge error must be recorded"
    assert any(a.problems for t in traces for a in t.attempts), "problems must be recorded"
    assert _leaks("\n".join(t.to_json() for t in traces)) == []
    assert _leaks_in(jsonl.read_bytes()) == []
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert _leaks(dump) == [] and _leaks(dump.encode().decode("unicode_escape")) == []
    assert "sink down" in logs, "the failing sink must have been logged"
    assert _leaks(logs) == []


def test_a_sink_trace_does_not_change_when_the_reply_is_changed_later(
    routed: tuple[list[RouteTrace], Path, Path, str],
) -> None:
    traces, _, _, _ = routed
    for trace in traces:
        assert trace.output is not None
        assert "late" not in trace.output.additional_kwargs
        assert "late" not in trace.output.response_metadata.get("netgpt", {})


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_no_export_kind_carries_a_planted_credential(
    kind: str, planted_env: None, tmp_path: Path
) -> None:
    # Traces written without scrubbing (scrub_secrets=False): the export must scrub by itself.
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=[_edge_answer()]),
        cloud=ScriptedChatModel(responses=[_cloud_answer()]),
        policy=AlwaysEdge(),
        sinks=[sink],
        scrub_secrets=False,
    )
    router.bind_tools([send]).invoke(_conversation(), config={"metadata": {"session_id": PLANTED}})
    (trace,) = sink.traces
    assert len(_leaks(trace.to_json())) > 30  # stored unscrubbed
    out = tmp_path / f"{kind}.jsonl"
    summary = export_dataset(kind, [trace], out, format="jsonl")  # type: ignore[arg-type]
    assert summary.rows_written == 1, summary
    assert _leaks_in(out.read_bytes()) == []


def test_a_langsmith_run_is_imported_without_credentials(planted_env: None) -> None:
    import datetime as dt
    import uuid

    from langsmith.schemas import Run

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    answer = _cloud_answer()
    run = Run(
        id=uuid.uuid4(),
        trace_id=uuid.uuid4(),
        name="ScriptedChatModel",
        run_type="llm",
        start_time=start,
        end_time=start + dt.timedelta(milliseconds=250),
        tags=["netgpt:cloud"],
        error=PLANTED,
        extra={"metadata": {"session_id": PLANTED, "netgpt_reason": PLANTED}},
        inputs={"messages": [[dumpd(m) for m in _conversation()]]},
        outputs={
            "generations": [[{"text": "", "type": "ChatGeneration", "message": dumpd(answer)}]]
        },
    )
    trace = route_trace_from_run(run, scrubber=SecretScrubber.from_environ())
    assert _leaks(trace.to_json()) == []


def test_scrub_trace_shares_no_object_with_its_input() -> None:
    answer = AIMessage("ok", response_metadata={"netgpt": {}})
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=[answer]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=AlwaysEdge(),
        sinks=[sink],
        scrub_secrets=False,
    )
    router.invoke("hello")
    (trace,) = sink.traces
    clean = scrub_trace(trace)
    assert clean == trace and clean is not trace
    assert clean.output is not trace.output and clean.features is not trace.features
    assert trace.output is not None
    trace.output.response_metadata["netgpt"] = {"fallback_reason": "sk-" + "x" * 30}
    assert clean.output is not None and "netgpt" not in json.dumps(
        clean.output.response_metadata.get("netgpt", {})
    ).replace('"netgpt"', "")


def test_the_engine_calls_scrub_exception_text_and_reply_metadata(planted_env: None) -> None:
    assert _leaks(scrub_text(f"RoutingError cloud: {PLANTED}")) == []
    metadata = {"netgpt": {"fallback_reason": PLANTED, "target": "edge"}}
    clean = scrub_value(metadata)
    assert _leaks(json.dumps(clean)) == [] and clean["netgpt"]["target"] == "edge"
