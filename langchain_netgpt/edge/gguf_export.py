"""Merge a LoRA adapter into its GGUF base model, so that a tuned edge runs in llama.cpp.

``netgpt finetune-edge`` trains a LoRA adapter (PEFT) on the de-quantised base in transformers.
:func:`export_merged_gguf` writes a copy of the base GGUF whose adapted weight matrices are
``W + (alpha / r) * B @ A``, in float32; every other tensor and all metadata (tokenizer, chat
template) are copied unchanged. Load the result like any GGUF::

    edge = HuggingFaceEdgeModel.from_pretrained(export_merged_gguf(adapter, base))

Only llama-architecture GGUFs (SmolLM2, Llama, ...) are supported: their query and key matrices
are stored permuted for llama.cpp's rotary embedding, and the same permutation is applied to the
LoRA update. The adapter's manifest (base-model fingerprint) is checked against the base file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from langchain_netgpt.edge.bundled import ADAPTER_MANIFEST
from langchain_netgpt.errors import EdgeModelError, MissingExtraError

MERGED_GGUF_NAME = "merged.gguf"
"""File name :func:`export_merged_gguf` writes inside the adapter folder by default."""
_GGUF_MODULES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
_LORA_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")
_SKIPPED_FIELDS = ("general.architecture",)


def permute_for_llama_cpp(weights: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    """HF query/key matrix layout -> llama.cpp's (inverse of transformers' GGUF loading)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    rows = weights.shape[0]
    grouped = weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
    return grouped.swapaxes(1, 2).reshape(weights.shape)


def export_merged_gguf(
    adapter_path: str | Path, base_gguf: str | Path, out: str | Path | None = None
) -> Path:
    """Write ``base_gguf`` with the LoRA adapter at ``adapter_path`` merged into its weights.

    Args:
        adapter_path: Folder written by ``netgpt finetune-edge`` (``adapter_config.json``,
            ``adapter_model.safetensors``, ``netgpt_adapter.json``).
        base_gguf: The GGUF file the adapter was trained on (the bundled one for the default).
        out: Where to write (default: ``<adapter_path>/merged.gguf``); written to a temporary
            name and renamed, so a crash never leaves a half file under it.

    Returns:
        The path written.

    Raises:
        MissingExtraError: ``gguf``, ``numpy`` or ``safetensors`` is not installed.
        EdgeModelError: The adapter is unreadable, targets modules the export does not know,
            was trained on another base, or the base is not a llama-architecture GGUF.
    """
    np, gguf, load_file = _imports()
    adapter = Path(adapter_path)
    target = Path(out) if out is not None else adapter / MERGED_GGUF_NAME
    deltas = _lora_deltas(adapter, np, load_file)
    reader = gguf.GGUFReader(str(base_gguf))
    architecture = _field(reader, "general.architecture")
    if architecture != "llama":
        raise EdgeModelError(
            f"{base_gguf} is a {architecture!r} GGUF; merging an adapter is supported for llama "
            "GGUFs only: serve the adapter with backend='transformers'"
        )
    _check_base(adapter, reader, gguf, np)
    n_head = int(_field(reader, "llama.attention.head_count"))
    n_head_kv = int(_field(reader, "llama.attention.head_count_kv") or n_head)
    replaced: dict[str, Any] = {}
    for tensor in reader.tensors:
        key = _delta_key(tensor.name)
        if key is None or key not in deltas:
            continue
        delta = deltas.pop(key)
        if key[1] == "q_proj":
            delta = permute_for_llama_cpp(delta, n_head, n_head)
        elif key[1] == "k_proj":
            delta = permute_for_llama_cpp(delta, n_head, n_head_kv)
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        if weights.shape != delta.shape:
            raise EdgeModelError(
                f"adapter update for {tensor.name} has shape {delta.shape}, "
                f"the base tensor {weights.shape}"
            )
        replaced[tensor.name] = weights + delta
    if deltas:
        missing = ", ".join(f"layer {layer} {module}" for layer, module in sorted(deltas))
        raise EdgeModelError(f"{base_gguf} has no tensor for the adapter's {missing}")
    _write(reader, replaced, target, gguf, np)
    return target


def _imports() -> tuple[Any, Any, Any]:
    try:
        import gguf
        import numpy as np
        from safetensors.numpy import load_file
    except ImportError as exc:
        raise MissingExtraError(exc.name or "gguf", "edge") from exc
    return np, gguf, load_file


def _lora_deltas(adapter: Path, np: Any, load_file: Any) -> dict[tuple[int, str], Any]:
    config_path = adapter / "adapter_config.json"
    weights_path = adapter / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise EdgeModelError(
            f"{adapter} holds no LoRA adapter (adapter_config.json + adapter_model.safetensors); "
            "expected the folder `netgpt finetune-edge --out` wrote"
        )
    config = json.loads(config_path.read_text())
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scaling = alpha / (rank**0.5) if config.get("use_rslora") else alpha / rank
    pairs: dict[tuple[int, str], dict[str, Any]] = {}
    for name, value in load_file(str(weights_path)).items():
        match = _LORA_KEY.search(name)
        if match is None:
            raise EdgeModelError(f"adapter tensor {name!r} is not a LoRA A/B matrix of a layer")
        layer, module, half = int(match[1]), match[2], match[3]
        if module not in _GGUF_MODULES:
            raise EdgeModelError(
                f"adapter targets {module!r}, which the GGUF export does not map; known: "
                f"{', '.join(_GGUF_MODULES)}"
            )
        pairs.setdefault((layer, module), {})[half] = value.astype(np.float32)
    return {key: (ab["B"] @ ab["A"]) * scaling for key, ab in pairs.items()}


def _delta_key(tensor_name: str) -> tuple[int, str] | None:
    match = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight", tensor_name)
    if match is None:
        return None
    module = next((hf for hf, g in _GGUF_MODULES.items() if g == match[2]), None)
    return (int(match[1]), module) if module is not None else None


def _field(reader: Any, name: str) -> Any:
    field = reader.fields.get(name)
    return field.contents() if field is not None else None


def _check_base(adapter: Path, reader: Any, gguf: Any, np: Any) -> None:
    # The manifest fingerprints the base the adapter was trained on (see bundled.base_fingerprint:
    # mean |x| of the first 64 embedding rows, as transformers de-quantises them).
    manifest = adapter / ADAPTER_MANIFEST
    if not manifest.is_file():
        return
    trained_on = json.loads(manifest.read_text()).get("base_model", {})
    embeddings = next((t for t in reader.tensors if t.name == "token_embd.weight"), None)
    if embeddings is None or "embedding_checksum" not in trained_on:
        return
    rows = gguf.quants.dequantize(embeddings.data[:64], embeddings.tensor_type)
    checksum = float(np.abs(rows.astype(np.float64)).mean())
    expected = float(trained_on["embedding_checksum"])
    if abs(checksum - expected) > 1e-3 * max(abs(expected), 1e-12):
        raise EdgeModelError(
            f"the adapter at {adapter} was trained on base model {trained_on}, not on this GGUF "
            f"(embedding checksum {checksum:.6g}); export it onto the base it was trained on"
        )


def _write(reader: Any, replaced: dict[str, Any], target: Path, gguf: Any, np: Any) -> None:
    architecture = _field(reader, "general.architecture")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".merged-", suffix=".gguf")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(partial, architecture)
        for field in reader.fields.values():
            if field.name in _SKIPPED_FIELDS or field.name.startswith("GGUF."):
                continue
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
        for tensor in reader.tensors:
            if tensor.name in replaced:
                data = replaced[tensor.name]
                writer.add_tensor_info(
                    tensor.name, data.shape, data.dtype, data.nbytes, gguf.GGMLQuantizationType.F32
                )
            else:
                data = tensor.data
                writer.add_tensor_info(
                    tensor.name, data.shape, data.dtype, data.nbytes, tensor.tensor_type
                )
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor in reader.tensors:
            data = replaced.get(tensor.name, tensor.data)
            writer.write_tensor_data(data, tensor_endianess=reader.endianess)
        writer.close()
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
