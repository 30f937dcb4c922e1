from __future__ import annotations

import threading
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_netgpt import JsonlTraceSink, NetworkState, RouteTrace
from langchain_netgpt.errors import TraceFileError
from langchain_netgpt.tracing import CallbackTraceSink, InMemoryTraceSink, read_jsonl_traces
from langchain_netgpt.tracing.sinks import TornLineWarning


def _trace(i: int = 0) -> RouteTrace:
    return RouteTrace(
        mode="invoke",
        decided_target="edge",
        score=0.7,
        threshold=0.5,
        policy="netgpt",
        reason="edge: score 0.70 >= threshold 0.50",
        network=NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=80),
        features={"prompt_tokens": 10},
        final_target="edge",
        messages=[HumanMessage(f"question {i}")],
        output=AIMessage(f"answer {i}", tool_calls=[{"name": "f", "args": {"x": i}, "id": "c1"}]),
    )


def test_a_trace_round_trips_through_json_with_its_messages() -> None:
    trace = _trace(3)
    again = RouteTrace.from_json(trace.to_json())
    assert again == trace
    assert isinstance(again.messages[0], HumanMessage)
    assert isinstance(again.output, AIMessage) and again.output.tool_calls[0]["args"] == {"x": 3}
    assert "\n" not in trace.to_json()


def test_concurrent_writers_lose_no_line(tmp_path: Path) -> None:
    sink = JsonlTraceSink(tmp_path / "t.jsonl")
    threads = [
        threading.Thread(target=lambda k=k: [sink.write(_trace(k * 100 + j)) for j in range(50)])
        for k in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    traces = list(read_jsonl_traces(tmp_path / "t.jsonl"))
    assert len(traces) == 400
    assert len({t.trace_id for t in traces}) == 400


def test_a_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    sink = JsonlTraceSink(path)
    sink.write(_trace(1))
    sink.write(_trace(2))
    sink.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # a writer killed mid-line
    with pytest.warns(TornLineWarning, match="line 2"):
        assert [t.messages[0].content for t in read_jsonl_traces(path)] == ["question 1"]


def test_a_torn_line_in_the_middle_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_trace(1).to_json() + "\n{garbage}\n" + _trace(2).to_json() + "\n")
    with pytest.warns(TornLineWarning, match=r"line 2 skipped.*1 line\(s\) skipped"):
        traces = list(read_jsonl_traces(path))
    assert [t.messages[0].content for t in traces] == ["question 1", "question 2"]


def test_a_valid_json_line_that_is_not_a_trace_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_trace(1).to_json() + '\n{"hello": 1}\n')
    with pytest.raises(TraceFileError, match="line 2"):
        list(read_jsonl_traces(path))


def test_in_memory_and_callback_sinks_receive_traces() -> None:
    seen: list[RouteTrace] = []
    memory = InMemoryTraceSink()
    for sink in (memory, CallbackTraceSink(seen.append)):
        sink.write(_trace())
    assert len(memory) == 1 and len(seen) == 1
    memory.clear()
    assert memory.traces == []


def test_callback_sink_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        CallbackTraceSink("print")  # type: ignore[arg-type]


def test_traces_carry_a_schema_version() -> None:
    assert '"schema_version":1' in _trace().to_json()
