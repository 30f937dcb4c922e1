"""EdgeFinetuneConfig refuses bad values with the field and the expected range."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from langchain_netgpt.learn.edge import EdgeFinetuneConfig, EdgeFinetuneResult


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("")
    return path


def test_defaults_are_sft_on_the_bundled_model(data: Path, tmp_path: Path) -> None:
    config = EdgeFinetuneConfig(data_path=data, output_dir=tmp_path / "out")
    assert (config.method, config.base_model, config.kl_beta) == ("sft", "bundled", 0.0)


def test_a_missing_data_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        EdgeFinetuneConfig(data_path=tmp_path / "nope.jsonl", output_dir=tmp_path)


def test_a_base_model_must_be_bundled_or_a_folder(data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="neither 'bundled'"):
        EdgeFinetuneConfig(data_path=data, output_dir=tmp_path, base_model="gpt-9")


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("kl_beta", -0.1), ("lora_r", 0), ("lora_dropout", 1.0), ("method", "dpo")],
)
def test_out_of_range_values_are_refused(
    data: Path, tmp_path: Path, field: str, value: object
) -> None:
    with pytest.raises(ValidationError, match=field):
        EdgeFinetuneConfig(data_path=data, output_dir=tmp_path, **{field: value})


def test_grpo_batches_must_hold_whole_groups(data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="multiple of num_generations"):
        EdgeFinetuneConfig(
            data_path=data, output_dir=tmp_path, method="grpo", batch_size=3, num_generations=2
        )


def test_mean_loss_averages_the_first_and_last_steps(tmp_path: Path) -> None:
    result = EdgeFinetuneResult(
        adapter_path=tmp_path,
        method="sft",
        steps=4,
        examples=8,
        skipped=0,
        skip_reasons=[],
        losses=[4.0, 2.0, 1.0, 0.5],
        rewards=[],
        seconds=1.0,
    )
    assert (result.mean_loss(first=True, window=2), result.mean_loss(first=False, window=2)) == (
        3.0,
        0.75,
    )
