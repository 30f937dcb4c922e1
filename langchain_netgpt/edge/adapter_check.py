"""The base-model check for a PEFT adapter loaded onto an edge model.

A LoRA merged onto a different base of the same shape loads without error and ruins the answers,
so an adapter without a netgpt manifest must at least record the base it was trained on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from langchain_netgpt._json_limits import loads_config
from langchain_netgpt.errors import ConfigurationError, EdgeModelError

__all__ = ["check_adapter_base"]


_QUANT_SUFFIX = re.compile(r"[-_.](?:q\d[\w]*|iq\d[\w]*|f16|f32|bf16|fp16|gguf)$", re.IGNORECASE)


def _model_key(name: str) -> str:
    """A model's name without organisation, folders, ``.gguf`` and quantisation suffix.

    ``HuggingFaceTB/SmolLM2-135M-Instruct`` and ``SmolLM2-135M-Instruct-Q8_0.gguf`` both become
    ``smollm2-135m-instruct``.
    """
    key = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    key = key.removesuffix(".gguf")
    while (stripped := _QUANT_SUFFIX.sub("", key)) != key:
        key = stripped
    return key


def check_adapter_base(adapter_path: Path, model: Any, name: str) -> None:
    """Refuse a PEFT adapter without a netgpt manifest whose recorded base is not this model.

    An adapter written by :func:`finetune_edge` carries a manifest with the base model's
    fingerprint; any other adapter only records ``base_model_name_or_path`` in its
    ``adapter_config.json``. Merging a LoRA trained on another base of the same shape (a base
    model instead of its instruct tune) succeeds silently and ruins the answers, so the recorded
    base must name the model being loaded (compared by model name: organisation, folders,
    quantisation suffix and ``.gguf`` ignored).

    Args:
        adapter_path: The adapter folder (holds ``adapter_config.json``).
        model: The loaded base model (its ``config._name_or_path`` is compared too).
        name: The edge model's name.

    Raises:
        EdgeModelError: The config is unreadable, records no base model, or another one.
    """
    config_path = adapter_path / "adapter_config.json"
    try:
        config = loads_config(
            config_path.read_text(encoding="utf-8"), source=str(config_path), what="adapter config"
        )
    except (OSError, ConfigurationError) as exc:
        raise EdgeModelError(f"unreadable adapter config {config_path}: {exc}") from exc
    recorded = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if not isinstance(recorded, str) or not recorded.strip():
        raise EdgeModelError(
            f"the adapter at {adapter_path} has no netgpt manifest and its adapter_config.json "
            "records no base_model_name_or_path: refusing to merge it unchecked"
        )
    loaded_path = str(getattr(getattr(model, "config", None), "_name_or_path", "") or "")
    loaded = {_model_key(candidate) for candidate in (name, loaded_path) if candidate}
    if _model_key(recorded) not in loaded:
        raise EdgeModelError(
            f"the adapter at {adapter_path} was trained on base model {recorded!r} "
            f"(adapter_config.json), but this edge model is {name!r}; load it on the base it "
            "was trained on"
        )
