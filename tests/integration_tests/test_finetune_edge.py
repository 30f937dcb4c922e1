"""Fine-tuning the bundled edge model on CPU: the loss falls and the adapter serves tool calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_netgpt.cli import app
from langchain_netgpt.edge import HuggingFaceEdgeModel, LoadedModelCache
from langchain_netgpt.errors import EdgeModelError
from langchain_netgpt.learn.edge import EdgeFinetuneConfig, finetune_edge
from langchain_netgpt.learn.edge_data import rows_from_bfcl
from langchain_netgpt.recorded import load_bfcl
from langchain_netgpt.routing._jsonschema import validate_json_schema
from tests.integration_tests._runtimes import needs_llama_cpp

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def bfcl_rows(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    tasks = load_bfcl(shared_data / "bfcl" / "BFCL_v4_simple_python.json", limit=16)
    path = tmp_path_factory.mktemp("data") / "sft.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows_from_bfcl(tasks)))
    return path


@pytest.fixture(scope="module")
def sft_adapter(tmp_path_factory: pytest.TempPathFactory, bfcl_rows: Path) -> Path:
    out = tmp_path_factory.mktemp("adapter") / "sft"
    result = CliRunner().invoke(
        app,
        [
            "finetune-edge",
            "--data",
            str(bfcl_rows),
            "--out",
            str(out),
            "--steps",
            "12",
            "--batch-size",
            "2",
            "--max-length",
            "512",
            "--learning-rate",
            "1e-3",
            "--kl-beta",
            "0.05",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_sft_lowers_the_training_loss(sft_adapter: Path) -> None:
    manifest = json.loads((sft_adapter / "netgpt_adapter.json").read_text())
    losses = manifest["result"]["losses"]
    assert manifest["result"]["steps"] == 12
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.8 * first, losses


def test_the_adapter_reloads_in_the_edge_model_and_makes_a_valid_call(
    sft_adapter: Path, shared_data: Path
) -> None:
    task = load_bfcl(shared_data / "bfcl" / "BFCL_v4_simple_python.json", limit=20)[18]
    edge = HuggingFaceEdgeModel.from_bundled(
        device="cpu",
        adapter_path=str(sft_adapter),
        max_new_tokens=96,
        model_cache=LoadedModelCache(),
    )
    message = edge.bind_tools(task.tools).invoke(task.messages)
    assert message.tool_calls, message
    schema = task.tools[0]["function"]["parameters"]
    assert validate_json_schema(message.tool_calls[0]["args"], schema) == []


def test_an_adapter_for_another_base_is_refused(sft_adapter: Path, tmp_path: Path) -> None:
    copy = tmp_path / "adapter"
    copy.mkdir()
    for file in sft_adapter.iterdir():
        if file.is_file():
            (copy / file.name).write_bytes(file.read_bytes())
    manifest = json.loads((copy / "netgpt_adapter.json").read_text())
    manifest["base_model"]["hidden_size"] = 2048
    (copy / "netgpt_adapter.json").write_text(json.dumps(manifest))
    edge = HuggingFaceEdgeModel.from_bundled(
        device="cpu", adapter_path=str(copy), model_cache=LoadedModelCache()
    )
    with pytest.raises(EdgeModelError, match="trained on base model"):
        edge.load()


def test_a_short_grpo_run_trains_against_the_rewards(bfcl_rows: Path, tmp_path: Path) -> None:
    config = EdgeFinetuneConfig(
        data_path=bfcl_rows,
        output_dir=tmp_path / "grpo",
        method="grpo",
        steps=2,
        batch_size=2,
        num_generations=2,
        max_completion_length=24,
        max_length=512,
        kl_beta=0.05,
        device="cpu",
    )
    result = finetune_edge(config)
    assert result.steps == 2
    assert len(result.rewards) == 2
    assert all(0.0 <= r <= 1.0 for r in result.rewards)
    assert (tmp_path / "grpo" / "adapter_config.json").is_file()


@needs_llama_cpp
def test_the_adapter_merged_into_a_gguf_answers_in_llama_cpp_as_in_transformers(
    sft_adapter: Path, shared_data: Path, tmp_path: Path
) -> None:
    from langchain_netgpt.edge import locate_bundled_gguf
    from langchain_netgpt.edge.gguf_export import export_merged_gguf

    tasks = load_bfcl(shared_data / "bfcl" / "BFCL_v4_simple_python.json", limit=8)
    merged = export_merged_gguf(sft_adapter, locate_bundled_gguf(), tmp_path / "tuned.gguf")
    settings = {"max_new_tokens": 96, "model_cache": LoadedModelCache()}
    in_llama = HuggingFaceEdgeModel.from_pretrained(
        merged, backend="llama_cpp", requantize="none", **settings
    )
    in_transformers = HuggingFaceEdgeModel.from_bundled(
        device="cpu", backend="transformers", adapter_path=str(sft_adapter), **settings
    )
    base = HuggingFaceEdgeModel.from_bundled(backend="llama_cpp", requantize="none", **settings)

    def calls(model: HuggingFaceEdgeModel) -> list[object]:
        return [
            [
                (c["name"], c["args"])
                for c in model.bind_tools(t.tools, tool_choice="required")
                .invoke(t.messages)
                .tool_calls
            ]
            for t in tasks
        ]

    tuned_llama, tuned_transformers, untuned = calls(in_llama), calls(in_transformers), calls(base)
    same = sum(a == b for a, b in zip(tuned_llama, tuned_transformers, strict=True))
    assert in_llama.load().backend == "llama_cpp"
    assert same >= 6, (tuned_llama, tuned_transformers)
    assert tuned_llama != untuned  # the merge changed the model
