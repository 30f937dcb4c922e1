"""A failed write never makes a JSONL trace file unreadable; unknown schema versions are refused."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from langchain_netgpt.cli import app
from langchain_netgpt.errors import TraceFileError
from langchain_netgpt.export.router_data import read_router_traces
from langchain_netgpt.tracing import JsonlTraceSink, read_jsonl_traces
from langchain_netgpt.tracing import sinks as sinks_module
from langchain_netgpt.tracing.sinks import TornLineWarning
from tests.unit_tests.test_tracing import _trace


def _fail_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next os.write in the sink writes half its bytes, then the disk is full."""
    real_write = os.write

    def half_then_full(fd: int, data: Any) -> int:
        monkeypatch.setattr(sinks_module.os, "write", real_write)
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sinks_module.os, "write", half_then_full)


def test_the_append_after_a_partial_write_starts_a_new_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    sink = JsonlTraceSink(path)
    sink.write(_trace(1))
    _fail_half_way(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        sink.write(_trace(2))
    sink.write(_trace(3))
    sink.write(_trace(4))
    sink.close()

    skipped: list[tuple[int, str]] = []
    traces = list(read_jsonl_traces(path, on_skip=lambda line, why: skipped.append((line, why))))
    assert [t.messages[0].content for t in traces] == ["question 1", "question 3", "question 4"]
    assert [line for line, _ in skipped] == [2]
    assert path.read_bytes().count(b"\n") == 4  # the torn record is alone on its line


def test_a_new_sink_repairs_a_file_left_torn_by_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes((_trace(1).to_json() + "\n").encode() + _trace(2).to_json().encode()[:50])
    JsonlTraceSink(path).write(_trace(3))
    with pytest.warns(TornLineWarning, match="line 2"):
        traces = list(read_jsonl_traces(path))
    assert [t.messages[0].content for t in traces] == ["question 1", "question 3"]


def test_the_fast_router_reader_skips_torn_lines_too(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_trace(1).to_json()[:40] + "\n" + _trace(2).to_json() + "\n")
    with pytest.warns(TornLineWarning, match="line 1"):
        assert len(list(read_router_traces(path))) == 1


@pytest.mark.parametrize("version", [0, 2, 99])
def test_an_unknown_schema_version_is_refused_naming_the_line(tmp_path: Path, version: int) -> None:
    path = tmp_path / "t.jsonl"
    newer = _trace(2).to_json().replace('"schema_version":1', f'"schema_version":{version}', 1)
    path.write_text(_trace(1).to_json() + "\n" + newer + "\n")
    with pytest.raises(TraceFileError, match=rf"line 2 has schema_version {version}"):
        list(read_jsonl_traces(path))
    with pytest.raises(TraceFileError, match="line 2"):
        list(read_router_traces(path))


def test_netgpt_export_skips_and_reports_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        _trace(1).to_json() + "\n" + _trace(2).to_json()[:70] + "\n" + _trace(3).to_json() + "\n"
    )
    out = tmp_path / "router.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(
            app,
            [
                "export",
                "--traces",
                str(path),
                "--kind",
                "router",
                "--format",
                "jsonl",
                "--out",
                str(out),
            ],
        )
    assert result.exit_code == 0, result.output
    assert any("line 2 skipped" in str(w.message) for w in caught)
    assert len(out.read_text().splitlines()) == 3  # header + the two readable traces
