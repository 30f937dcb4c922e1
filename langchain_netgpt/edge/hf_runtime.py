"""The transformers runtime: ``generate`` on a loaded HuggingFace causal LM, xgrammar-constrained.

Used for CUDA devices, safetensors checkpoints and LoRA adapters (and for GGUF files when the
llama.cpp extension is not built). The cancel token is checked by a ``StoppingCriteria`` after
every token; decoded text reaches ``on_text`` through a ``TextStreamer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_netgpt.edge.backend import GenerationRequest, RawGeneration
from langchain_netgpt.edge.cancel import CancelToken
from langchain_netgpt.edge.prompt import chat_turns_to_prompt
from langchain_netgpt.errors import EdgeModelError, MissingExtraError

if TYPE_CHECKING:
    from langchain_netgpt.edge.bundled import LoadedModel


def generate_with_transformers(
    loaded: LoadedModel,
    request: GenerationRequest,
    *,
    on_text: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> RawGeneration:
    """Run ``model.generate`` for ``request`` (see ``EdgeRuntime.generate``).

    Raises:
        EdgeModelError: Generation failed (or the schema does not compile).
    """
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - loading already imported them
        raise MissingExtraError(exc.name or "transformers", "edge") from exc
    tokenizer = loaded.tokenizer
    prompt = chat_turns_to_prompt(tokenizer, request.turns)
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(loaded.device)
    input_tokens = int(encoded["input_ids"].shape[1])
    gen: dict[str, Any] = {
        "max_new_tokens": request.max_new_tokens,
        "do_sample": request.temperature > 0,
        "pad_token_id": tokenizer.eos_token_id,
    }
    if request.temperature > 0:
        gen.update(temperature=request.temperature, top_p=request.top_p)
    if request.use_grammar:
        from xgrammar.contrib.hf import LogitsProcessor

        grammar = LogitsProcessor(loaded.compile_json_schema(request.schema))
        gen["logits_processor"] = [grammar]
        if request.wrap_up_tokens:  # finish the JSON past the budget rather than cut it
            from langchain_netgpt.edge.wrap_up import closing_token_ids, wrap_up_processor

            gen["max_new_tokens"] = request.max_new_tokens + request.wrap_up_tokens
            closers = closing_token_ids(tokenizer)
            wrap = wrap_up_processor(input_tokens, request.max_new_tokens, closers)
            gen["logits_processor"] = [wrap, grammar]
    elif request.stop:
        gen.update(stop_strings=request.stop, tokenizer=tokenizer)
    if on_text is not None:
        gen["streamer"] = _callback_streamer(transformers, tokenizer, on_text)
    first: list[float] = []
    gen["stopping_criteria"] = transformers.StoppingCriteriaList(
        [_token_criteria(transformers, cancel, first)]
    )
    with loaded.generate_lock, torch.inference_mode():
        started = time.perf_counter()
        try:
            output = loaded.model.generate(**encoded, **gen)
        except (RuntimeError, ValueError) as exc:
            raise EdgeModelError(f"edge generation failed: {exc}") from exc
        seconds = time.perf_counter() - started
    new_ids = output[0, input_tokens:].tolist()
    text = tokenizer.decode(new_ids, skip_special_tokens=True)
    ended = bool(new_ids) and new_ids[-1] == tokenizer.eos_token_id
    if cancel is not None and cancel.cancelled and not ended:
        finish = "cancelled"
    else:
        finish = "stop" if ended or len(new_ids) < gen["max_new_tokens"] else "length"
    first_token_s = first[0] - started if first else None
    return RawGeneration(text, input_tokens, len(new_ids), finish, seconds, first_token_s)


def _token_criteria(transformers: Any, cancel: CancelToken | None, first: list[float]) -> Any:
    # Called after every generated token: notes when the first one came, and stops on cancel.
    class _PerToken(transformers.StoppingCriteria):  # type: ignore[misc]
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            if not first:
                first.append(time.perf_counter())
            return cancel is not None and cancel.cancelled

    return _PerToken()


def _callback_streamer(transformers: Any, tokenizer: Any, on_text: Callable[[str], None]) -> Any:
    class _CallbackStreamer(transformers.TextStreamer):  # type: ignore[misc]
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                on_text(text)

    return _CallbackStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
