"""`netgpt bench --record` on the real bundled edge model, over two tiny BFCL files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_netgpt.bench.record import BUNDLED_RECORDING_SETTINGS
from langchain_netgpt.cli import app
from langchain_netgpt.edge.backend import llama_cpp_importable
from langchain_netgpt.recorded.edge_outcomes import load_edge_outcomes

# Records in llama.cpp (a few seconds): part of the default run.
pytestmark = [pytest.mark.integration]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ADD = {
    "name": "math.add",
    "description": "Add two integers a and b.",
    "parameters": {
        "type": "dict",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}


def _bfcl(root: Path) -> list[Path]:
    (root / "possible_answer").mkdir(parents=True)
    question = [[{"role": "user", "content": "Add 2 and 3."}]]
    files = [root / "BFCL_v4_toyadd.json", root / "BFCL_v4_irrelevance.json"]
    files[0].write_text(json.dumps({"id": "toyadd_0", "question": question, "function": [ADD]}))
    (root / "possible_answer" / files[0].name).write_text(
        json.dumps({"id": "toyadd_0", "ground_truth": [{"math.add": {"a": [2], "b": [3]}}]})
    )
    files[1].write_text(
        json.dumps(
            {
                "id": "irrelevance_0",
                "question": [[{"role": "user", "content": "Who painted the Mona Lisa?"}]],
                "function": [ADD],
            }
        )
    )
    return files


def test_record_writes_one_outcome_per_task_with_the_committed_settings(tmp_path: Path) -> None:
    files = _bfcl(tmp_path / "bfcl")
    out = tmp_path / "edge.jsonl"
    args = ["bench", "--record", "--edge-outcomes", str(out), "--device", "auto"]
    for path in files:
        args += ["--data", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    outcomes = load_edge_outcomes(out)
    assert set(outcomes.rows) == {"toyadd_0", "irrelevance_0"}
    assert outcomes.header.settings == {
        "tool_choice": "required",
        "parallel_tool_calls": False,
        **BUNDLED_RECORDING_SETTINGS,
        # The fast runtime on CPU where it is built, else transformers.
        "edge_backend": "llama_cpp" if llama_cpp_importable() else "transformers",
    }
    assert outcomes.rows["toyadd_0"].input_tokens > 0
    assert not outcomes.rows["irrelevance_0"].correct  # tool_choice="required" always calls
