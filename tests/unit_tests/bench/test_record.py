from __future__ import annotations

from pathlib import Path

import pytest

from langchain_netgpt.bench.record import partial_outcomes_path, record_edge_outcomes
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
    with pytest.raises(BenchmarkDataError, match="delete it, record into another file"):
        record_edge_outcomes(_model(), files, out, model_name="other", device="cpu")


class _Interrupt(Exception):
    pass


def test_an_interrupted_recording_leaves_the_finished_file_untouched(tmp_path: Path) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=3)
    out = tmp_path / "edge.jsonl"
    record_edge_outcomes(_model(), files, out, model_name="scripted", device="cpu", limit=1)
    before = out.read_bytes()

    def stop_after_two(_outcome: object, done: int, _total: int) -> None:
        if done == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        record_edge_outcomes(
            _model(), files, out, model_name="scripted", device="cpu", on_row=stop_after_two
        )
    assert out.read_bytes() == before
    assert len(load_edge_outcomes(partial_outcomes_path(out)).rows) == 4


def test_resuming_an_interrupted_recording_finishes_it_and_removes_the_partial_file(
    tmp_path: Path,
) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=3)
    out = tmp_path / "edge.jsonl"

    def stop_after_one(_outcome: object, done: int, _total: int) -> None:
        if done == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        record_edge_outcomes(
            _model(), files, out, model_name="scripted", device="cpu", on_row=stop_after_one
        )
    assert not out.exists()
    model = _model()
    outcomes = record_edge_outcomes(model, files, out, model_name="scripted", device="cpu")
    assert len(model.calls) == 5 and len(outcomes.rows) == 6
    assert not partial_outcomes_path(out).exists()


def test_replacing_another_runs_file_swaps_it_only_when_complete(tmp_path: Path) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=2)
    out = tmp_path / "edge.jsonl"
    record_edge_outcomes(_model(), files, out, model_name="old", device="cpu")
    outcomes = record_edge_outcomes(
        _model(), files, out, model_name="new", device="cpu", replace=True
    )
    assert outcomes.header.model == "new" and len(outcomes.rows) == 4
    assert load_edge_outcomes(out).header.model == "new"


def test_a_finished_recording_is_not_rewritten_when_nothing_is_left(tmp_path: Path) -> None:
    files = write_bfcl(tmp_path / "bfcl", n=1)
    out = tmp_path / "edge.jsonl"
    record_edge_outcomes(_model(), files, out, model_name="scripted", device="cpu")
    written = out.stat().st_mtime_ns
    model = _model()
    record_edge_outcomes(model, files, out, model_name="scripted", device="cpu")
    assert model.calls == [] and out.stat().st_mtime_ns == written
