"""Context-window awareness: a step whose prompt does not fit a side's context is not sent there.

A side's window comes from :class:`ContextWindow` when set, else from the model itself: a
``context_window_tokens`` attribute, the ``max_position_embeddings`` of a loaded HuggingFace model,
the ``<arch>.context_length`` of its GGUF file's header, or its folder's ``config.json``. A cloud's
window is known only when configured or when the model states it (``context_window_tokens``).

Prompt size is counted cheaply: the features' estimate (4 characters a token, tool schemas
included) decides at once when it is far from the window; near it (within a factor of two), the
edge's tokenizer counts the prompt exactly when the model is already loaded.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.routing.features import RequestFeatures

__all__ = ["ContextFit", "ContextLimits", "ContextWindow", "model_context_tokens"]

_DEFAULT_RESERVE = 256


class ContextWindow(BaseModel):
    """The context windows the router checks steps against (``RoutingConfig.context_window``).

    Args:
        edge_tokens: The edge's window in tokens (``None``: read it from the edge model).
        cloud_tokens: The cloud's window (``None``: read it from the model when it states one,
            else unchecked).
        reserve_output_tokens: Tokens kept free for the answer (``None``: the model's
            ``max_new_tokens`` / ``max_tokens``, else 256).
        check: Whether to check at all.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.context_window import ContextWindow

            window = ContextWindow(edge_tokens=8192, cloud_tokens=128_000)
            assert window.check and window.reserve_output_tokens is None
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    edge_tokens: int | None = Field(default=None, gt=0, description="Edge window (tokens).")
    cloud_tokens: int | None = Field(default=None, gt=0, description="Cloud window (tokens).")
    reserve_output_tokens: int | None = Field(
        default=None, ge=0, description="Tokens kept free for the answer."
    )
    check: bool = Field(default=True, description="Check prompts against the windows.")


@dataclass(frozen=True, slots=True)
class ContextFit:
    """Whether a step's prompt fits one side.

    Attributes:
        target: The side.
        fits: Whether prompt plus reserved output fit the window.
        prompt_tokens: The prompt's size as counted.
        reserve_tokens: Tokens kept for the answer.
        window_tokens: The side's window.
        counted_by: ``"tokenizer"`` or ``"estimate"`` (4 characters a token).
    """

    target: str
    fits: bool
    prompt_tokens: int
    reserve_tokens: int
    window_tokens: int
    counted_by: str

    def describe(self) -> str:
        """The reason's text for traces."""
        verb = "fits" if self.fits else "exceeds"
        return (
            f"context_window: prompt of {self.prompt_tokens} tokens ({self.counted_by}) + "
            f"{self.reserve_tokens} for the answer {verb} the {self.target}'s window of "
            f"{self.window_tokens} tokens"
        )


class ContextLimits:
    """The windows of a configuration's sides, resolved once per model (thread-safe).

    Args:
        option: The user's :class:`ContextWindow`.
        models: The side models by target name.
        cloud_targets: Names of the cloud sides.
    """

    def __init__(
        self, option: ContextWindow, models: dict[str, Any], cloud_targets: Sequence[str]
    ) -> None:
        self.option = option
        self.models = models
        self._clouds = frozenset(cloud_targets)
        self._windows: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def window_tokens(self, target: str) -> int | None:
        """The window of ``target`` in tokens (``None``: unknown, not checked)."""
        with self._lock:
            if target not in self._windows:
                cloud = target in self._clouds
                configured = self.option.cloud_tokens if cloud else self.option.edge_tokens
                model = self.models.get(target)
                self._windows[target] = (
                    configured
                    if configured is not None
                    else model_context_tokens(model, read_files=not cloud)
                )
            return self._windows[target]

    def _reserve(self, target: str) -> int:
        if self.option.reserve_output_tokens is not None:
            return self.option.reserve_output_tokens
        model = self.models.get(target)
        for name in ("max_new_tokens", "max_tokens", "max_completion_tokens"):
            value = getattr(model, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return _DEFAULT_RESERVE

    def fit(
        self, target: str, features: RequestFeatures, messages: Sequence[BaseMessage]
    ) -> ContextFit | None:
        """Whether the step fits ``target`` (``None``: no window known, or checks are off)."""
        if not self.option.check:
            return None
        window = self.window_tokens(target)
        if window is None:
            return None
        reserve = self._reserve(target)
        tokens, counted_by = features.prompt_tokens, "estimate"
        room = window - reserve
        if room / 2 <= tokens <= room * 2:  # near the limit: count exactly if we cheaply can
            exact = _tokenizer_count(self.models.get(target), messages, features)
            if exact is not None:
                tokens, counted_by = exact, "tokenizer"
        return ContextFit(target, tokens + reserve <= window, tokens, reserve, window, counted_by)


def model_context_tokens(model: Any, *, read_files: bool = True) -> int | None:
    """A chat model's context window as the model states it (``None``: unknown).

    Args:
        model: The chat model.
        read_files: Also read a local model's GGUF header or ``config.json``.
    """
    stated = getattr(model, "context_window_tokens", None)
    if isinstance(stated, int) and not isinstance(stated, bool) and stated > 0:
        return stated
    loaded = _loaded(model)
    if loaded is not None:
        config = getattr(getattr(loaded, "model", None), "config", None)
        value = getattr(config, "max_position_embeddings", None)
        if isinstance(value, int) and value > 0:
            return value
        value = getattr(loaded, "context_window_tokens", None)  # a llama.cpp runtime's n_ctx
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    if not read_files:
        return None
    folder = getattr(model, "model_path", None)
    if not isinstance(folder, str):
        return None
    gguf = getattr(model, "gguf_file", None)
    try:
        if isinstance(gguf, str):
            with (Path(folder) / gguf).open("rb") as file:
                return _gguf_context_length(file)
        config_file = Path(folder) / "config.json"
        if config_file.is_file():
            value = json.loads(config_file.read_text()).get("max_position_embeddings")
            return value if isinstance(value, int) and value > 0 else None
    except (OSError, ValueError, struct.error):
        return None
    return None


def _loaded(model: Any) -> Any:
    """The loaded weights of an in-process HuggingFace edge, only if already loaded."""
    spec_of = getattr(model, "_spec", None)
    if not callable(spec_of):
        return None
    cache = getattr(model, "model_cache", None)
    if cache is None:
        try:
            from langchain_netgpt.edge.bundled import DEFAULT_MODEL_CACHE
        except ImportError:
            return None
        cache = DEFAULT_MODEL_CACHE
    try:
        spec = spec_of()
        return cache.get(spec) if spec in cache else None
    except Exception:  # a model we cannot inspect is treated as not loaded
        return None


def _tokenizer_count(
    model: Any, messages: Sequence[BaseMessage], features: RequestFeatures
) -> int | None:
    """Exact prompt tokens with the model's tokenizer, if it is loaded (else ``None``).

    A transformers edge has a ``tokenizer``; a llama.cpp edge counts with ``count_tokens``.
    """
    loaded = _loaded(model)
    tokenizer = getattr(loaded, "tokenizer", None)
    count_tokens = getattr(loaded, "count_tokens", None)
    if tokenizer is None and not callable(count_tokens):
        return None
    text = "\n".join(m.text if hasattr(m, "text") else str(m.content) for m in messages)
    try:
        if tokenizer is not None:
            count = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        else:
            count = int(count_tokens(text))  # type: ignore[misc]
    except Exception:
        return None
    # Tool schemas are rendered into the prompt too: keep the features' estimate of them.
    schema_tokens = max(features.prompt_tokens - int(len(text) / 4), 0)
    return count + 4 * len(messages) + schema_tokens


# GGUF value types (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
_SCALARS = {
    0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"
}  # fmt: skip
_STRING, _ARRAY = 8, 9


def _read(file: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize("<" + fmt)
    data = file.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack("<" + fmt, data)[0]


def _skip_value(file: BinaryIO, kind: int) -> Any:
    """Read a value (scalars and strings returned, arrays skipped and returned as ``None``)."""
    if kind in _SCALARS:
        return _read(file, _SCALARS[kind])
    if kind == _STRING:
        return file.read(_read(file, "Q"))
    if kind == _ARRAY:
        item, count = _read(file, "I"), _read(file, "Q")
        if item in _SCALARS:
            file.seek(struct.calcsize("<" + _SCALARS[item]) * count, 1)
        else:
            for _ in range(count):
                _skip_value(file, item)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


def _gguf_context_length(file: BinaryIO) -> int | None:
    """``<arch>.context_length`` from a GGUF file's metadata (reads the header only)."""
    if file.read(4) != b"GGUF":
        return None
    _read(file, "I")  # version
    _read(file, "Q")  # tensor count
    arch: str | None = None
    lengths: dict[str, int] = {}
    for _ in range(_read(file, "Q")):
        key = file.read(_read(file, "Q")).decode("utf-8", "replace")
        value = _skip_value(file, _read(file, "I"))
        if key == "general.architecture" and isinstance(value, bytes):
            arch = value.decode()
        elif key.endswith(".context_length") and isinstance(value, int):
            lengths[key.removesuffix(".context_length")] = value
        if arch is not None and arch in lengths:
            return lengths[arch]
    return lengths.get(arch or "") or (next(iter(lengths.values())) if lengths else None)
