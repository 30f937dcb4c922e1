"""Which runtime serves an in-process edge model (llama.cpp or transformers), and their contract.

:class:`~langchain_netgpt.edge.HuggingFaceEdgeModel` plans a call (prompt turns, output schema,
stop sequences) the same way whatever runs it; a runtime only turns a
:class:`GenerationRequest` into a :class:`RawGeneration`, checking a
:class:`~langchain_netgpt.edge.cancel.CancelToken` after every token and reporting text as it is
decoded. Two runtimes exist:

* ``llama_cpp``: the GGUF file in llama.cpp (``llama-cpp-python``) on CPU, an order of magnitude
  faster than transformers there; the default for GGUF models when no CUDA device is in use;
* ``transformers``: torch, for CUDA and for safetensors checkpoints (and LoRA adapters).

:func:`resolve_backend` makes the choice; it is pure, so the CUDA paths are tested without a GPU.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_netgpt.edge.cancel import CancelToken
from langchain_netgpt.errors import ConfigurationError

logger = logging.getLogger(__name__)

EdgeBackend = Literal["auto", "llama_cpp", "transformers"]
"""The ``backend`` option: ``auto`` picks llama.cpp for a GGUF on CPU, transformers otherwise."""
ResolvedBackend = Literal["llama_cpp", "transformers"]
EDGE_BACKENDS: tuple[str, ...] = ("auto", "llama_cpp", "transformers")
LLAMA_CPP_INSTALL_HINT = (
    "build it with `make install` (about 4 minutes on 2 cores) or "
    "`pip install 'langchain-netgpt[llama]'`"
)
# Device nodes a CUDA (or ROCm) driver creates: without any, torch cannot see a GPU, so the
# choice is made without importing torch (which costs ~2 s and ~250 MB).
_GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd")


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, decided before touching the model (identical for every runtime).

    Attributes:
        turns: Chat turns (``role``/``content``) to render with the model's chat template.
        schema: JSON schema the output must satisfy (None with ``use_grammar``: any JSON).
        use_grammar: Constrain decoding with the schema's grammar.
        stop: Stop sequences (free text only).
        max_new_tokens: Token budget.
        temperature: 0 is greedy.
        top_p: Nucleus mass when sampling.
        wrap_up_tokens: With ``use_grammar``: extra tokens past ``max_new_tokens`` in which
            closing tokens are favoured so the JSON document closes instead of being cut
            (:mod:`~langchain_netgpt.edge.wrap_up`); 0 disables.
    """

    turns: list[dict[str, str]]
    schema: dict[str, Any] | None
    use_grammar: bool
    stop: list[str] = field(default_factory=list)
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    wrap_up_tokens: int = 0


@dataclass
class RawGeneration:
    """What a runtime produced: the text (not yet cut at stop sequences) and its cost.

    ``output_tokens`` counts the end-of-generation token when the model emitted one, as
    transformers does. ``finish_reason`` is ``stop``, ``length`` or ``cancelled``.
    ``first_token_s`` is the time to the first generated token (the prompt's pre-fill), so the
    decode rate is ``(output_tokens - 1) / (seconds - first_token_s)``.
    """

    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str
    seconds: float
    first_token_s: float | None = None


class EdgeRuntime(Protocol):
    """A loaded edge model that can generate (see :class:`GenerationRequest`)."""

    backend: str
    device: str
    model_name: str
    loaded_from: str

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> RawGeneration:
        """Generate; call ``on_text`` with each decoded piece; stop soon after ``cancel``."""
        ...

    def continuation_logprobs(
        self, turns: list[dict[str, str]], continuations: Sequence[str]
    ) -> list[float]:
        """Total log-probability of each continuation after the rendered ``turns``.

        The :data:`~langchain_netgpt.edge.call_decision.ContinuationScorer` of the call decision.
        """
        ...


@dataclass(frozen=True)
class BackendChoice:
    """The runtime that will serve a model, and why (logged, and shown in errors)."""

    backend: ResolvedBackend
    reason: str
    fallback: bool = False


def resolve_backend(
    requested: str,
    *,
    gguf_file: str | None,
    device: str,
    adapter_path: str | None,
    llama_cpp_importable: bool,
    cuda_available: Callable[[], bool],
) -> BackendChoice:
    """Pick the runtime for a model (pure: the machine's facts are arguments).

    Args:
        requested: ``auto``, ``llama_cpp`` or ``transformers``.
        gguf_file: The GGUF file name, or None for a safetensors checkpoint / hub id.
        device: The configured device (``auto``, ``cpu``, ``cuda``, ``cuda:<i>``).
        adapter_path: A LoRA adapter folder (PEFT) to merge, if any.
        llama_cpp_importable: Whether ``llama_cpp`` imports (the extension is built).
        cuda_available: Called only when ``device="auto"`` leaves the choice to the hardware.

    Returns:
        The choice. ``auto`` falls back to transformers (``fallback=True``) when the llama.cpp
        extension is not built.

    Raises:
        ConfigurationError: ``requested`` is unknown, or ``llama_cpp`` was asked for a model it
            cannot serve (no GGUF file, a CUDA device, a PEFT adapter).
    """
    if requested not in EDGE_BACKENDS:
        raise ConfigurationError(
            f"backend={requested!r} is not supported; expected one of {', '.join(EDGE_BACKENDS)}",
            field="backend",
            value=requested,
        )
    if requested == "transformers":
        return BackendChoice("transformers", "backend='transformers' was asked for")
    blocker = _llama_cpp_blocker(gguf_file, device, adapter_path)
    if requested == "llama_cpp":
        if blocker is not None:
            raise ConfigurationError(
                f"backend='llama_cpp' cannot serve this model: {blocker}; "
                "use backend='transformers' (or 'auto')",
                field="backend",
                value=requested,
            )
        return BackendChoice("llama_cpp", "backend='llama_cpp' was asked for")
    if blocker is not None:
        return BackendChoice("transformers", blocker)
    if device == "auto" and cuda_available():
        return BackendChoice("transformers", "a CUDA device is available (device='auto')")
    if not llama_cpp_importable:
        return BackendChoice(
            "transformers",
            "llama-cpp-python is not built, so this GGUF edge runs in transformers (about 10x "
            f"slower on CPU); {LLAMA_CPP_INSTALL_HINT}",
            fallback=True,
        )
    return BackendChoice("llama_cpp", "a GGUF model on CPU")


def _llama_cpp_blocker(gguf_file: str | None, device: str, adapter_path: str | None) -> str | None:
    if not gguf_file:
        return "the model is not a GGUF file (llama.cpp reads GGUF only)"
    if device.startswith("cuda"):
        return f"device={device!r}: the llama.cpp runtime here runs on CPU"
    if adapter_path:
        return "a LoRA adapter (PEFT) is merged by transformers"
    return None


@functools.cache
def llama_cpp_importable() -> bool:
    """Whether the ``llama_cpp`` extension imports (cached for the process)."""
    try:
        import llama_cpp  # noqa: F401
    except (ImportError, OSError, RuntimeError) as exc:
        logger.debug("llama_cpp does not import: %s", exc)
        return False
    return True


@functools.cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA device; False without importing torch when no driver is there."""
    if not any(Path(node).exists() for node in _GPU_DEVICE_NODES):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@functools.cache
def _warn_fallback(reason: str) -> None:
    # Once per process and reason: the fallback is a fact about the install, not about a call.
    logger.warning("langchain-netgpt edge: %s", reason)


def choose_backend(
    requested: str, *, gguf_file: str | None, device: str, adapter_path: str | None
) -> BackendChoice:
    """:func:`resolve_backend` with this machine's facts; warns once when it falls back."""
    choice = resolve_backend(
        requested,
        gguf_file=gguf_file,
        device=device,
        adapter_path=adapter_path,
        llama_cpp_importable=llama_cpp_importable() if requested != "transformers" else False,
        cuda_available=cuda_available,
    )
    if choice.fallback:
        _warn_fallback(choice.reason)
    return choice
