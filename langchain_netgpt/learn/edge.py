"""Fine-tune the edge model with LoRA: SFT on the cloud's answers, or GRPO on edge rewards.

:func:`finetune_edge` reads exported rows (see :mod:`langchain_netgpt.learn.edge_data`), renders
them exactly as :class:`~langchain_netgpt.edge.HuggingFaceEdgeModel` will prompt, trains a LoRA
adapter with TRL (``SFTTrainer`` or ``GRPOTrainer``, with peft) and saves the adapter plus a JSON
manifest; ``HuggingFaceEdgeModel(adapter_path=...)`` then serves it unchanged.

The KL term (``kl_beta``) keeps the tuned model near its prior, the frozen base: for SFT the
loss adds ``kl_beta x KL(p_tuned || p_base)`` averaged over completion tokens, with the base's
logits taken from the same model with the adapter disabled (no second copy in memory); for GRPO
it is TRL's own ``beta`` (KL to the reference, which with peft is also the adapter-less model).

Needs ``pip install 'langchain-netgpt[edge,train]'``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from langchain_netgpt.edge.bundled import (
    ADAPTER_MANIFEST,
    ModelSpec,
    base_fingerprint,
    load_model,
    locate_bundled_gguf,
)
from langchain_netgpt.edge.prompt import chat_turns_to_prompt
from langchain_netgpt.errors import ConfigurationError, MissingExtraError
from langchain_netgpt.learn.data_io import file_sha256, read_rows
from langchain_netgpt.learn.edge_data import (
    EdgeFormatOptions,
    RowFormatError,
    calls_from_reference,
    format_grpo_row,
    format_sft_row,
)
from langchain_netgpt.learn.rewards import combined_reward

__all__ = ["EdgeFinetuneConfig", "EdgeFinetuneResult", "finetune_edge"]

MANIFEST_VERSION = 1


def _default_base_cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "langchain-netgpt" / "SmolLM2-135M-Instruct"


class EdgeFinetuneConfig(BaseModel):
    """What to fine-tune, on which data, and how.

    Example:
        >>> from pathlib import Path
        >>> import tempfile
        >>> data = Path(tempfile.mkdtemp()) / "sft.jsonl"
        >>> _ = data.write_text("")
        >>> config = EdgeFinetuneConfig(data_path=data, output_dir="adapters/v1", steps=20)
        >>> config.method, config.lora_r
        ('sft', 8)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_model: str = Field(
        default="bundled",
        description="'bundled' (SmolLM2-135M-Instruct GGUF) or a local HuggingFace model folder.",
    )
    data_path: Path = Field(description="Exported rows: .jsonl, .parquet or a save_to_disk dir.")
    output_dir: Path = Field(description="Folder that receives the adapter and its manifest.")
    method: Literal["sft", "grpo"] = Field(default="sft", description="Training method.")
    steps: int = Field(default=100, gt=0, description="Optimiser steps.")
    learning_rate: float = Field(default=2e-4, gt=0, lt=1, description="Peak learning rate.")
    batch_size: int = Field(default=4, gt=0, description="Examples (GRPO: completions) per step.")
    max_length: int = Field(
        default=1024, ge=32, description="Longest prompt+completion in tokens; longer rows skip."
    )
    lora_r: int = Field(default=8, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(default=16, gt=0, description="LoRA scaling numerator.")
    lora_dropout: float = Field(default=0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: tuple[str, ...] = Field(
        default=("q_proj", "k_proj", "v_proj", "o_proj"),
        min_length=1,
        description="Module names that get LoRA weights.",
    )
    kl_beta: float = Field(
        default=0.0, ge=0, description="Weight of the KL penalty towards the frozen base model."
    )
    num_generations: int = Field(default=4, ge=2, description="GRPO completions per prompt.")
    max_completion_length: int = Field(default=96, gt=0, description="GRPO generation budget.")
    temperature: float = Field(default=1.0, gt=0, le=2, description="GRPO sampling temperature.")
    max_examples: int | None = Field(default=None, gt=0, description="Use the first N rows.")
    parallel_tool_calls: bool = Field(
        default=False, description="Train for an edge that may emit several calls per turn."
    )
    allow_escalation: bool = Field(
        default=False, description="Train for an edge prompted with the escalation reply."
    )
    seed: int = Field(default=0, ge=0, description="Seed for data order, LoRA init, sampling.")
    device: Literal["cpu", "cuda", "auto"] = Field(default="auto", description="Where to train.")
    base_cache_dir: Path | None = Field(
        default=None,
        description="De-quantised copy of the bundled GGUF (default ~/.cache/langchain-netgpt).",
    )

    @field_validator("base_model")
    @classmethod
    def _base_model_exists(cls, value: str) -> str:
        if value != "bundled" and not Path(value).is_dir():
            raise ValueError(
                f"base_model={value!r} is neither 'bundled' nor an existing model folder"
            )
        return value

    @field_validator("data_path")
    @classmethod
    def _data_exists(cls, value: Path) -> Path:
        if not value.exists():
            raise ValueError(f"data_path={str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _grpo_batch_holds_whole_groups(self) -> EdgeFinetuneConfig:
        if self.method == "grpo" and self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size={self.batch_size} must be a multiple of num_generations="
                f"{self.num_generations} for GRPO (each prompt's completions form one group)"
            )
        return self


class EdgeFinetuneResult(BaseModel):
    """What a fine-tuning run did.

    Attributes:
        adapter_path: Folder with the LoRA adapter and ``netgpt_adapter.json``.
        method: ``"sft"`` or ``"grpo"``.
        steps: Optimiser steps taken.
        examples: Training examples used.
        skipped: Rows left out, with the reason of each (first 20 reasons kept).
        losses: Training loss per step.
        rewards: Mean reward per step (GRPO; empty for SFT).
        seconds: Wall time of the training loop.
    """

    model_config = ConfigDict(frozen=True)

    adapter_path: Path
    method: Literal["sft", "grpo"]
    steps: int
    examples: int
    skipped: int
    skip_reasons: list[str]
    losses: list[float]
    rewards: list[float]
    seconds: float

    def mean_loss(self, first: bool, window: int = 3) -> float:
        """Mean of the first (or last) ``window`` losses, a steadier summary than one step."""
        values = self.losses[:window] if first else self.losses[-window:]
        if not values:
            raise ValueError("the run logged no loss")
        return sum(values) / len(values)


def _train_modules() -> dict[str, Any]:
    # Typed as Any: trl and peft re-export lazily, which mypy cannot follow.
    modules: dict[str, Any] = {}
    for name in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as exc:
            raise MissingExtraError(name, "train") from exc
    return modules


def _base_spec(config: EdgeFinetuneConfig) -> ModelSpec:
    device = config.device
    if config.base_model == "bundled":
        gguf = locate_bundled_gguf()
        cache = config.base_cache_dir or _default_base_cache()
        return ModelSpec(str(gguf.parent), gguf.name, device, "float32", str(cache))
    return ModelSpec(str(Path(config.base_model).resolve()), None, device, "float32")


def _examples(
    config: EdgeFinetuneConfig, rows: list[dict[str, Any]], tokenizer: Any
) -> tuple[dict[str, list[Any]], list[str]]:
    options = EdgeFormatOptions(
        parallel_tool_calls=config.parallel_tool_calls, allow_escalation=config.allow_escalation
    )
    columns: dict[str, list[Any]] = {"prompt": []}
    if config.method == "sft":
        columns["completion"] = []
    else:
        columns.update(tools=[], reference_calls=[])
    skipped: list[str] = []
    for index, row in enumerate(rows):
        try:
            if config.method == "sft":
                example = format_sft_row(row, options)
            else:
                example = format_grpo_row(row, options)
                reference = json.dumps(calls_from_reference(row.get("reference_calls")))
        except RowFormatError as exc:
            skipped.append(f"row {index}: {exc}")
            continue
        prompt = chat_turns_to_prompt(tokenizer, example.turns)
        budget = config.max_length - (0 if config.method == "sft" else config.max_completion_length)
        size = len(tokenizer(prompt + example.completion, add_special_tokens=False)["input_ids"])
        if size + 1 > budget:
            skipped.append(f"row {index}: {size} tokens exceed max_length={config.max_length}")
            continue
        columns["prompt"].append(prompt)
        if config.method == "sft":
            columns["completion"].append(example.completion)
        else:
            columns["tools"].append(json.dumps(example.tools))
            columns["reference_calls"].append(reference)
    if not columns["prompt"]:
        raise ConfigurationError(
            f"no usable training rows in {config.data_path} ({len(rows)} read); first reasons: "
            + "; ".join(skipped[:3]),
            field="data_path",
            value=str(config.data_path),
        )
    return columns, skipped


def _kl_sft_trainer(trl: Any, torch: Any, kl_beta: float) -> Any:
    class KLRegularisedSFTTrainer(trl.SFTTrainer):  # type: ignore[misc]
        """SFT loss + kl_beta x KL(tuned || base) over completion tokens (adapter disabled)."""

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            loss = super().compute_loss(model, inputs, False, num_items_in_batch)
            forward = {k: v for k, v in inputs.items() if k != "labels"}
            mask = (inputs["labels"][:, 1:] != -100).float()
            logits = model(**forward).logits[:, :-1].float()
            with torch.no_grad(), self.accelerator.unwrap_model(model).disable_adapter():
                base_logits = model(**forward).logits[:, :-1].float()
            log_p = torch.log_softmax(logits, dim=-1)
            log_q = torch.log_softmax(base_logits, dim=-1)
            per_token = (log_p.exp() * (log_p - log_q)).sum(dim=-1)
            kl = (per_token * mask).sum() / mask.sum().clamp(min=1)
            self._metrics["train" if model.training else "eval"]["kl"].append(float(kl.item()))
            total = loss + kl_beta * kl
            return (total, None) if return_outputs else total

    return KLRegularisedSFTTrainer


def _callback(
    transformers: Any, total: int, show_progress: bool, log: dict[str, list[float]]
) -> Any:
    class RichProgress(transformers.TrainerCallback):  # type: ignore[misc]
        """Records loss/reward per logged step and drives a rich progress bar."""

        def __init__(self) -> None:
            self.progress: Any = None
            self.task: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if show_progress:
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

                self.progress = Progress(
                    TextColumn("fine-tuning"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total} steps"),
                    TextColumn("{task.fields[loss]}"),
                    TimeElapsedColumn(),
                )
                self.progress.start()
                self.task = self.progress.add_task("train", total=total, loss="")

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            logs = logs or {}
            if "loss" in logs:
                log["loss"].append(float(logs["loss"]))
            if "reward" in logs:
                log["reward"].append(float(logs["reward"]))
            if self.progress is not None and "loss" in logs:
                self.progress.update(self.task, loss=f"loss {float(logs['loss']):.4f}")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.update(self.task, completed=state.global_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.stop()

    return RichProgress()


def _trainer_args(config: EdgeFinetuneConfig, device: str) -> dict[str, Any]:
    return {
        "output_dir": str(config.output_dir / "trainer"),
        "max_steps": config.steps,
        "per_device_train_batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "seed": config.seed,
        "data_seed": config.seed,
        "use_cpu": device == "cpu",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "gradient_checkpointing": False,
        "bf16": False,
        "fp16": False,
    }


def finetune_edge(
    config: EdgeFinetuneConfig,
    *,
    show_progress: bool = False,
    reward_funcs: list[Callable[..., list[float]]] | None = None,
) -> EdgeFinetuneResult:
    """Train a LoRA adapter for the edge model and save it with a manifest.

    Args:
        config: What to train.
        show_progress: Draw a rich progress bar (the CLI does).
        reward_funcs: GRPO rewards (default: :func:`~langchain_netgpt.learn.combined_reward`).

    Returns:
        The run's summary; ``HuggingFaceEdgeModel(adapter_path=result.adapter_path)`` (or
        ``from_bundled(adapter_path=...)``) serves the tuned model.

    Raises:
        MissingExtraError: torch, transformers, trl, peft or datasets is missing.
        ConfigurationError: The data holds no row the edge's format can express.
    """
    mods = _train_modules()
    datasets, peft, transformers = mods["datasets"], mods["peft"], mods["transformers"]

    rows = read_rows(config.data_path)
    if config.max_examples is not None:
        rows = rows[: config.max_examples]
    transformers.set_seed(config.seed)
    spec = _base_spec(config)
    loaded = load_model(spec)
    if loaded.loaded_from.endswith(".gguf"):
        # First use: the GGUF was just saved as a plain folder. Train on a load of that folder,
        # which carries no quantizer state for the Trainer to refuse.
        loaded = load_model(spec)
    model, tokenizer = loaded.model, loaded.tokenizer
    fingerprint = base_fingerprint(model, loaded.model_name)
    columns, skipped = _examples(config, rows, tokenizer)
    dataset = datasets.Dataset.from_dict(columns)
    lora = peft.LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    log: dict[str, list[float]] = {"loss": [], "reward": []}
    trainer = _trainer(
        mods,
        config,
        model=model,
        tokenizer=tokenizer,
        dataset=dataset,
        lora=lora,
        callback=_callback(transformers, config.steps, show_progress, log),
        device=loaded.device,
        reward_funcs=reward_funcs,
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    adapter_dir = config.output_dir
    trainer.model.save_pretrained(str(adapter_dir))
    result = EdgeFinetuneResult(
        adapter_path=adapter_dir,
        method=config.method,
        steps=int(trainer.state.global_step),
        examples=len(columns["prompt"]),
        skipped=len(skipped),
        skip_reasons=skipped[:20],
        losses=log["loss"],
        rewards=log["reward"],
        seconds=seconds,
    )
    _write_manifest(config, result, fingerprint, spec)
    return result


def _write_manifest(
    config: EdgeFinetuneConfig, result: EdgeFinetuneResult, fingerprint: Any, spec: ModelSpec
) -> None:
    """Write the adapter's manifest: its base model, data, config and result."""
    manifest = {
        "schema_version": MANIFEST_VERSION,
        "base_model": fingerprint,
        "base_spec": {"model_path": spec.model_path, "gguf_file": spec.gguf_file},
        "data": {"path": str(config.data_path), "sha256": file_sha256(config.data_path)},
        "config": config.model_dump(mode="json"),
        "result": result.model_dump(mode="json"),
    }
    (result.adapter_path / ADAPTER_MANIFEST).write_text(json.dumps(manifest, indent=2))


def _trainer(
    mods: dict[str, Any],
    config: EdgeFinetuneConfig,
    *,
    model: Any,
    tokenizer: Any,
    dataset: Any,
    lora: Any,
    callback: Any,
    device: str,
    reward_funcs: list[Callable[..., list[float]]] | None,
) -> Any:
    """The TRL trainer of ``config.method``: SFT (KL-regularised when ``kl_beta``) or GRPO."""
    trl, torch = mods["trl"], mods["torch"]
    common = _trainer_args(config, device)
    if config.method == "sft":
        args = trl.SFTConfig(
            **common, max_length=config.max_length, completion_only_loss=True, packing=False
        )
        trainer_cls = (
            _kl_sft_trainer(trl, torch, config.kl_beta) if config.kl_beta else trl.SFTTrainer
        )
        return trainer_cls(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[callback],
        )
    args = trl.GRPOConfig(
        **common,
        beta=config.kl_beta,
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        log_completions=False,
    )
    return trl.GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs or [combined_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[callback],
    )
