"""Exported datasets go through TRL's own dataset preparation (tokenisation), unchanged.

Constructing ``SFTTrainer`` / ``DPOTrainer`` runs their ``_prepare_dataset`` (chat template with
the ``tools`` column, tokenisation) without training. The default-run tests use a small in-memory
tokenizer whose chat template renders tools and tool calls (SmolLM2's own template ignores them)
and a 1-layer random Llama; the ``slow`` test uses the bundled SmolLM2 tokenizer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from langchain_netgpt import RouteTrace
from langchain_netgpt.export import export_grpo, export_preferences, export_sft, load_export

from ..unit_tests.export.conftest import routed_traces  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Renders everything an exported row holds: tool schemas, tool calls (arguments are JSON text),
# tool results.
TOOL_TEMPLATE = (
    "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"
    "{% for m in messages %}<{{ m.role }}>"
    "{% if m.role == 'assistant' %}{% generation %}{{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function.name }} "
    "{{ c.function.arguments }}</call>{% endfor %}{% endif %}</s>{% endgeneration %}"
    "{% else %}{{ m.content }}</s>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<pad>": 1, "</s>": 2}
    for code in range(32, 127):
        vocab.setdefault(chr(code), len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    fast.chat_template = TOOL_TEMPLATE
    return fast


def _text(tokenizer: Any, ids: list[int]) -> str:
    return "".join(tokenizer.convert_ids_to_tokens(ids))


def _tiny_model(vocab_size: int) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
    )
    return LlamaForCausalLM(config)


def _sft_trainer(dataset: Any, tokenizer: Any, out: Path, **config: Any) -> Any:
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(out), report_to=[], max_length=4096, bf16=False, use_cpu=True, **config
    )
    return SFTTrainer(
        model=_tiny_model(len(tokenizer)),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )


def test_sft_export_is_tokenised_by_sft_trainer_with_tools_and_calls(
    routed_traces: list[RouteTrace],  # noqa: F811
    tiny_tokenizer: Any,
    tmp_path: Path,
) -> None:
    export_sft(routed_traces, tmp_path / "sft.parquet")
    trainer = _sft_trainer(load_export(tmp_path / "sft.parquet"), tiny_tokenizer, tmp_path)
    first = trainer.train_dataset[0]
    text = _text(tiny_tokenizer, first["input_ids"])
    assert len(trainer.train_dataset) == 3
    assert '"name": "get_weather"' in text
    assert '<call>get_weather {"city":"Oslo"}</call>' in text


def test_preference_export_is_tokenised_by_dpo_trainer(
    routed_traces: list[RouteTrace],  # noqa: F811
    tiny_tokenizer: Any,
    tmp_path: Path,
) -> None:
    from trl import DPOConfig, DPOTrainer

    export_preferences(routed_traces, tmp_path / "pairs.parquet")
    dataset = load_export(tmp_path / "pairs.parquet")
    trainer = DPOTrainer(
        model=_tiny_model(len(tiny_tokenizer)),
        ref_model=_tiny_model(len(tiny_tokenizer)),
        args=DPOConfig(
            output_dir=str(tmp_path), report_to=[], max_length=4096, bf16=False, use_cpu=True
        ),
        train_dataset=dataset,
        processing_class=tiny_tokenizer,
    )
    row = trainer.train_dataset[0]
    chosen = _text(tiny_tokenizer, row["chosen_ids"])
    rejected = _text(tiny_tokenizer, row["rejected_ids"])
    assert '"to":"USD"' in chosen and '"amount":"ten"' in rejected


def test_grpo_prompts_render_as_a_generation_prompt_with_their_tools(
    routed_traces: list[RouteTrace],  # noqa: F811
    tiny_tokenizer: Any,
    tmp_path: Path,
) -> None:
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    export_grpo(routed_traces, tmp_path / "grpo.parquet")
    row = load_export(tmp_path / "grpo.parquet")[0]
    rendered = maybe_apply_chat_template(
        {"prompt": row["prompt"]}, tiny_tokenizer, tools=json.loads(row["tools"])
    )
    assert is_conversational({"prompt": row["prompt"]})
    assert rendered["prompt"].endswith("<assistant>") and "get_weather" in rendered["prompt"]


@pytest.mark.slow
def test_sft_export_is_tokenised_with_the_bundled_smollm2_tokenizer(
    routed_traces: list[RouteTrace],  # noqa: F811
    tmp_path: Path,
) -> None:
    from transformers import AutoTokenizer

    from langchain_netgpt.edge.bundled import locate_bundled_gguf

    gguf = locate_bundled_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    export_sft(routed_traces, tmp_path / "sft.parquet")
    trainer = _sft_trainer(load_export(tmp_path / "sft.parquet"), tokenizer, tmp_path)
    assert len(trainer.train_dataset) == 3
    assert "Weather in Oslo?" in tokenizer.decode(trainer.train_dataset[0]["input_ids"])
