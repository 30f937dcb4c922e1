"""``netgpt finetune-edge``: LoRA fine-tuning of the edge model on exported traces.

The options are declared and checked here (as an
:class:`~langchain_netgpt.learn.edge.EdgeFinetuneConfig`); the run is
:func:`langchain_netgpt.learn.command.finetune_edge_command`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from langchain_netgpt.cli._common import fail

__all__ = ["finetune_edge"]


def finetune_edge(
    data: Annotated[
        Path, typer.Option(help="Exported SFT/GRPO rows: .jsonl, .parquet or a datasets folder.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the LoRA adapter and its manifest.")],
    method: Annotated[
        str, typer.Option(help="sft (cloud answers) or grpo (edge rewards).")
    ] = "sft",
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 100,
    model: Annotated[
        str, typer.Option(help="'bundled' (SmolLM2-135M-Instruct) or a local model folder.")
    ] = "bundled",
    kl_beta: Annotated[float, typer.Option(help="KL penalty towards the frozen base.")] = 0.0,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Examples (GRPO: completions) per step.")] = 4,
    max_length: Annotated[int, typer.Option(help="Longest prompt+completion (tokens).")] = 1024,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    num_generations: Annotated[int, typer.Option(help="GRPO completions per prompt.")] = 4,
    max_completion_length: Annotated[int, typer.Option(help="GRPO generation budget.")] = 96,
    max_examples: Annotated[int | None, typer.Option(help="Use only the first N rows.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
) -> None:
    """Fine-tune the edge model with LoRA (TRL) on exported traces; save the adapter.

    Serve the result with HuggingFaceEdgeModel.from_bundled(adapter_path=OUT).
    """
    from pydantic import ValidationError

    from langchain_netgpt.errors import NetGPTError
    from langchain_netgpt.learn.command import finetune_edge_command
    from langchain_netgpt.learn.edge import EdgeFinetuneConfig

    try:
        config = EdgeFinetuneConfig(
            base_model=model,
            data_path=data,
            output_dir=out,
            method=method,
            steps=steps,
            kl_beta=kl_beta,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_length=max_length,
            lora_r=lora_r,
            num_generations=num_generations,
            max_completion_length=max_completion_length,
            max_examples=max_examples,
            seed=seed,
            device=device,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "options"
        fail("finetune-edge", f"{where}: {error['msg']} (got {error.get('input')!r})")
    try:
        finetune_edge_command(config)
    except NetGPTError as exc:
        fail("finetune-edge", str(exc), code=1)
