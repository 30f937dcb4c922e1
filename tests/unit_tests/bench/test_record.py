from __future__ import annotations

from pathlib import Path

import pytest

from langchain_netgpt.bench.record import record_edge_outcomes
from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.edge_outcomes import load_edge_outcomes
from langchain_netgpt.testing import ScriptedChatModel, tool_call

from .conftest import write_bfcl


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(responses=[tool_call("math_add", {"a": 0, "b": 1})])


def test_recording_resumes_without_redoing_recorded_tasks(tmp_path: Path) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=3)
    out = tmp_path / "edge.jsonl"
    model = _model()
    record_edge_outcomes(model, files, out, model_name="scripted", device="cpu", limit=1)
    assert len(model.calls) == 2
    outcomes = record_edge_outcomes(model, files, out, model_name="scripted", device="cpu")
    assert len(model.calls) == 6 and len(outcomes.rows) == 6
    assert outcomes.rows["toyadd_0"].correct and not outcomes.rows["toyadd_1"].correct
    assert not outcomes.rows["irrelevance_0"].correct  # any call is wrong there


def test_a_row_cut_short_by_a_crash_is_ignored_on_load(tmp_path: Path) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=2)
    out = tmp_path / "edge.jsonl"
    record_edge_outcomes(_model(), files, out, model_name="scripted", device="cpu")
    with out.open("a") as handle:
        handle.write('{"id": "toyadd_9", "categ')
    assert len(load_edge_outcomes(out).rows) == 4


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=1)
    out = tmp_path / "edge.jsonl"
    record_edge_outcomes(_model(), files, out, model_name="scripted", device="cpu")
    with pytest.raises(BenchmarkDataError, match="delete it or record into another file"):
        record_edge_outcomes(_model(), files, out, model_name="other", device="cpu")
