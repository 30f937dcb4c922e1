"""The llama.cpp runtime: a GGUF edge model in ``llama-cpp-python``, on CPU.

It renders the same chat template as transformers (read from the GGUF), tokenizes without adding
a BOS (as the transformers runtime does), keeps the key/value cache of the previous prompt so that
an agent's next step only pre-fills what changed, and runs its own decode loop: pick a token
(greedy or nucleus sampling), check it against the grammar guide, check the cancel token, stop
sequences and the budget, then decode the next position.

Legacy GGUF weight formats (Q4_1, Q5_0, Q5_1: the bundled SmolLM2 is Q4_1) have no fast x86
matrix kernels in llama.cpp; with ``requantize="q8_0"`` such a file is re-encoded once to Q8_0
(8-bit: every Q4_1 weight is kept to within half an 8-bit step) into a cache folder, which
pre-fills prompts about twice as fast with the same answers on BFCL.
"""

from __future__ import annotations

import codecs
import ctypes
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_netgpt.edge.backend import GenerationRequest, RawGeneration
from langchain_netgpt.edge.cancel import CancelToken
from langchain_netgpt.edge.threads import ThreadTuner
from langchain_netgpt.errors import EdgeModelError, MissingExtraError

logger = logging.getLogger(__name__)

# llama.cpp file types whose matrix products have no fast x86 path (see the module docstring).
_SLOW_FILE_TYPES = {3: "Q4_1", 8: "Q5_0", 9: "Q5_1"}
_REQUANT_MARKER = "netgpt-requantized"


@dataclass(frozen=True)
class LlamaCppSettings:
    """How llama.cpp loads a GGUF (part of the model cache key).

    Attributes:
        n_ctx: Context window in tokens (prompt + generated); None: the GGUF's trained length.
        n_threads: CPU threads (None: one or every core this process may use, whichever
            decodes faster under the machine's current load; see ``threads.ThreadTuner``).
        requantize: ``"q8_0"`` re-encodes legacy formats once (see the module docstring);
            ``"none"`` loads the file as it is.
        grammar_engine: ``gbnf`` (llama.cpp's own), ``xgrammar``, or ``auto`` (gbnf).
        requantize_dir: Folder for re-encoded files (None: the user cache folder).
    """

    n_ctx: int | None = None
    n_threads: int | None = None
    requantize: str = "q8_0"
    grammar_engine: str = "auto"
    requantize_dir: str | None = None


def default_threads() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/langchain-netgpt`` (default ``~/.cache/langchain-netgpt``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "langchain-netgpt"


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:
        raise MissingExtraError("llama-cpp-python", "llama") from exc
    native_log = logging.getLogger("llama-cpp-python")  # llama.cpp's own log lines go here
    if native_log.level == logging.NOTSET:
        native_log.setLevel(logging.ERROR)  # as Llama(verbose=False) does; users may lower it
    return llama_cpp


def _file_type(llama_cpp: Any, path: Path) -> int | None:
    # The vocabulary-only load reads the header without weights or a context.
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise EdgeModelError(f"llama.cpp cannot read the GGUF header of {path}")
    try:
        buffer = ctypes.create_string_buffer(64)
        size = llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buffer, 64)
        return int(buffer.value) if size > 0 else None
    finally:
        llama_cpp.llama_model_free(model)


def requantized_path(source: Path, target_dir: Path, kind: str = "q8_0") -> Path:
    """Where the re-encoded copy of ``source`` lives (named by its path, size and mtime)."""
    stat = source.stat()
    identity = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return target_dir / f"{source.stem}.{digest}.{kind}.gguf"


def prepare_gguf(source: Path, settings: LlamaCppSettings) -> tuple[Path, str | None]:
    """The file llama.cpp should load, re-encoding a legacy format once when asked.

    Returns:
        ``(path, note)``: the file to load, and what was done (None when loaded as it is).

    Raises:
        EdgeModelError: The re-encoding failed or its cache folder is not writable.
    """
    if settings.requantize == "none":
        return source, None
    llama_cpp = _import_llama_cpp()
    file_type = _file_type(llama_cpp, source)
    if file_type not in _SLOW_FILE_TYPES:
        return source, None
    folder = Path(settings.requantize_dir) if settings.requantize_dir else user_cache_dir() / "gguf"
    target = requantized_path(source, folder)
    note = f"{_SLOW_FILE_TYPES[file_type]} re-encoded to Q8_0 ({target})"
    if target.is_file():
        return target, note
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a crash never leaves a half file under its name.
        fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{_REQUANT_MARKER}-", suffix=".gguf")
        os.close(fd)
    except OSError as exc:
        raise EdgeModelError(
            f"cannot write the re-encoded GGUF to {folder}: {exc}; set requantize='none' or "
            "another cache folder"
        ) from exc
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    params.nthread = default_threads()
    started = time.perf_counter()
    code = llama_cpp.llama_model_quantize(
        str(source).encode(), partial.encode(), ctypes.byref(params)
    )
    if code != 0:
        Path(partial).unlink(missing_ok=True)
        raise EdgeModelError(f"llama.cpp could not re-encode {source} to Q8_0 (code {code})")
    os.replace(partial, target)
    seconds = time.perf_counter() - started
    logger.info("re-encoded %s to Q8_0 in %.1f s: %s", source, seconds, target)
    return target, note


@dataclass
class LlamaCppModel:
    """A GGUF loaded in llama.cpp, with the lock that serialises generation on it.

    Attributes:
        llm: The ``llama_cpp.Llama`` instance.
        model_name: Short name (``response_metadata["model_name"]``).
        loaded_from: The file actually loaded (and what was done to it).
        grammar_engine: ``gbnf`` or ``xgrammar``.
        backend: Always ``"llama_cpp"``.
        device: Always ``"cpu"``.
    """

    llm: Any
    model_name: str
    loaded_from: str
    grammar_engine: str
    backend: str = "llama_cpp"
    device: str = "cpu"
    tuner: ThreadTuner | None = None
    generate_lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: int = 0
    _engine: Any = None
    _template: Any = None
    _special: dict[str, str] = field(default_factory=dict)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock)
    _closers: list[int] | None = None

    @classmethod
    def load(cls, path: Path, model_name: str, settings: LlamaCppSettings) -> LlamaCppModel:
        """Load ``path`` (re-encoding it first when ``settings`` ask for it).

        Raises:
            MissingExtraError: ``llama-cpp-python`` is not built.
            EdgeModelError: The file cannot be loaded or has no chat template.
        """
        llama_cpp = _import_llama_cpp()
        target, note = prepare_gguf(path, settings)
        threads = settings.n_threads or default_threads()
        try:
            llm = llama_cpp.Llama(
                model_path=str(target),
                n_ctx=settings.n_ctx or 0,  # 0: the GGUF's <arch>.context_length
                n_batch=512,
                n_threads=threads,
                n_threads_batch=threads,
                flash_attn=True,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EdgeModelError(f"llama.cpp could not load {target}: {exc}") from exc
        engine = settings.grammar_engine if settings.grammar_engine != "auto" else "gbnf"
        loaded = cls(
            llm=llm,
            model_name=model_name,
            loaded_from=f"{path}" + (f" ({note})" if note else ""),
            grammar_engine=engine,
            # A fixed n_threads is the user's choice; otherwise follow the machine's load.
            tuner=ThreadTuner(threads) if settings.n_threads is None else None,
            _threads=threads,
        )
        loaded._init_template()
        return loaded

    # ------------------------------------------------------------------------------- prompt

    def _init_template(self) -> None:
        from langchain_netgpt.edge.prompt import compile_chat_template

        source = self.llm.metadata.get("tokenizer.chat_template")
        if not source:
            raise EdgeModelError(
                f"{self.loaded_from} carries no chat template (tokenizer.chat_template)"
            )
        self._template = compile_chat_template(source)
        self._special = {
            "bos_token": self._piece(self.llm.token_bos(), special=True).decode("utf-8", "replace"),
            "eos_token": self._piece(self.llm.token_eos(), special=True).decode("utf-8", "replace"),
        }

    def render_prompt(self, turns: list[dict[str, str]]) -> str:
        """The chat template applied to ``turns`` with the assistant generation prompt."""
        text = self._template.render(messages=turns, add_generation_prompt=True, **self._special)
        return str(text)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens parsed, no BOS added)."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as plain text (the routing engine's exact prompt count)."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    @property
    def context_window_tokens(self) -> int:
        """The context window llama.cpp was loaded with (prompt + answer must fit it)."""
        return int(self.llm.n_ctx())

    def closing_token_ids(self) -> list[int]:
        """Ids of the tokens made only of ``"``, ``}``, ``]`` (and spaces), for the wrap-up."""
        from langchain_netgpt.edge.wrap_up import is_closing_text

        with self._engine_lock:
            if self._closers is None:
                self._closers = [
                    token
                    for token in range(self.llm.n_vocab())
                    if is_closing_text(self._piece(token).decode("utf-8", "replace"))
                ]
            return self._closers

    def continuation_logprobs(
        self, turns: list[dict[str, str]], continuations: Sequence[str]
    ) -> list[float]:
        """Total log-probability of each continuation after the rendered ``turns``.

        One pre-fill of the prompt and the continuations' shared prefix (reusing the cached
        prefix of the previous call), then each continuation's remaining tokens one by one; the
        cache is rolled back to the shared prefix between continuations.
        """
        prompt = self.render_prompt(turns)
        base = self.tokenize(prompt)
        sequences = [self.tokenize(prompt + text) for text in continuations]
        shared = _shared_prefix(base, sequences)
        request = GenerationRequest(turns=turns, schema=None, use_grammar=False)
        with self.generate_lock:
            decoder = _Decoder(self, request, None, None, None)
            decoder._prefill(sequences[0][:shared])
            first = _log_softmax(decoder._logits())
            scores: list[float] = []
            for seq in sequences:
                rest = seq[shared:]
                total = float(first[rest[0]])
                for position, token in enumerate(rest[:-1]):
                    decoder._eval([token])
                    total += float(_log_softmax(decoder._logits())[rest[position + 1]])
                self.llm.n_tokens = shared  # back to the shared prefix for the next one
                scores.append(total)
        return scores

    def _piece(self, token: int, *, special: bool = False) -> bytes:
        import llama_cpp

        buffer = ctypes.create_string_buffer(256)
        size = llama_cpp.llama_token_to_piece(self.llm._model.vocab, token, buffer, 256, 0, special)
        return buffer.raw[: max(size, 0)]

    # ------------------------------------------------------------------------------- grammar

    def _grammar(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                from langchain_netgpt.edge.llama_grammar import GbnfEngine, XgrammarEngine

                vocab = self.llm._model.vocab
                if self.grammar_engine == "xgrammar":
                    pieces = [self._piece(i) for i in range(self.llm.n_vocab())]
                    self._engine = XgrammarEngine(pieces, self._stop_ids())
                else:
                    self._engine = GbnfEngine(vocab, self.llm.n_vocab())
            return self._engine

    def _stop_ids(self) -> list[int]:
        import llama_cpp

        vocab = self.llm._model.vocab
        return [t for t in range(self.llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)]

    # ------------------------------------------------------------------------------- generate

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> RawGeneration:
        """Generate for ``request`` (see :class:`~langchain_netgpt.edge.backend.EdgeRuntime`).

        Raises:
            EdgeModelError: The prompt does not fit the context window, or llama.cpp failed.
        """
        tokens = self.tokenize(self.render_prompt(request.turns))
        if not tokens:
            raise EdgeModelError("the chat template rendered an empty prompt")
        room = self.llm.n_ctx() - len(tokens)
        if room <= 0:
            raise EdgeModelError(
                f"the prompt has {len(tokens)} tokens, more than the context window "
                f"(n_ctx={self.llm.n_ctx()}); shorten the conversation or raise n_ctx"
            )
        guide = self._grammar().guide(request.schema) if request.use_grammar else None
        try:
            with self.generate_lock:
                return _Decoder(self, request, guide, on_text, cancel).run(tokens, room)
        finally:
            if guide is not None:
                guide.close()


class _Decoder:
    """One generation's decode loop (holds the model's lock while it runs)."""

    def __init__(
        self,
        model: LlamaCppModel,
        request: GenerationRequest,
        guide: Any,
        on_text: Callable[[str], None] | None,
        cancel: CancelToken | None,
    ) -> None:
        import llama_cpp
        import numpy as np

        self._llama_cpp = llama_cpp
        self._np = np
        self.model = model
        self.llm = model.llm
        self.request = request
        self.guide = guide
        self.on_text = on_text
        self.cancel = cancel
        self.vocab = self.llm._model.vocab
        self.n_vocab = self.llm.n_vocab()
        self.rng = np.random.default_rng()

    def run(self, tokens: list[int], room: int) -> RawGeneration:
        started = time.perf_counter()
        wrap_up = self.request.wrap_up_tokens if self.guide is not None else 0
        budget = min(self.request.max_new_tokens + wrap_up, room)
        closers = self._closer_array() if wrap_up else None
        if not self._prefill(tokens):
            return RawGeneration("", len(tokens), 0, "cancelled", time.perf_counter() - started)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, count, finish, first = "", 0, "length", None
        stops = [s for s in self.request.stop if s] if not self.request.use_grammar else []
        while count < budget:
            if self.cancel is not None and self.cancel.cancelled:
                finish = "cancelled"
                break
            token = self._pick(closers if count >= self.request.max_new_tokens else None)
            count += 1
            if first is None:
                first = time.perf_counter() - started
            if self._llama_cpp.llama_vocab_is_eog(self.vocab, token):
                finish = "stop"
                break
            piece = decoder.decode(self.model._piece(token))
            text += piece
            if piece and self.on_text is not None:
                self.on_text(piece)
            if stops and _ends_with_stop(text, piece, stops):
                finish = "stop"
                break
            if count < budget:
                self._decode_one(token)
        tail = decoder.decode(b"", final=True)
        if tail and self.on_text is not None:
            self.on_text(tail)
        seconds = time.perf_counter() - started
        return RawGeneration(text + tail, len(tokens), count, finish, seconds, first)

    def _use_threads(self, threads: int) -> None:
        if threads != self.model._threads:
            self._llama_cpp.llama_set_n_threads(self.llm._ctx.ctx, threads, threads)
            self.model._threads = threads

    def _decode_one(self, token: int) -> None:
        tuner = self.model.tuner
        if tuner is None:
            self._eval([token])
            return
        threads = tuner.choose()
        self._use_threads(threads)
        started = time.perf_counter()
        self._eval([token])
        tuner.observe(threads, time.perf_counter() - started)

    def _prefill(self, tokens: list[int]) -> bool:
        # Reuse the key/value cache of the longest common prefix with the previous call; at
        # least one token is decoded so that fresh logits exist.
        llm = self.llm
        shared = 0
        for cached, new in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
            if cached != new:
                break
            shared += 1
        shared = min(shared, len(tokens) - 1)
        llm.n_tokens = shared
        if self.model.tuner is not None:
            self._use_threads(self.model.tuner.best())
        batch = 512
        for start in range(shared, len(tokens), batch):
            if self.cancel is not None and self.cancel.cancelled:
                return False
            self._eval(tokens[start : start + batch])
        return True

    def _eval(self, tokens: list[int]) -> None:
        try:
            self.llm.eval(tokens)
        except RuntimeError as exc:
            self.llm.n_tokens = 0  # the cache is in an unknown state: start over next time
            raise EdgeModelError(f"llama.cpp decode failed: {exc}") from exc

    def _logits(self) -> Any:
        pointer = self._llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return self._np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def _closer_array(self) -> Any:
        return self._np.asarray(self.model.closing_token_ids(), dtype=self._np.int64)

    def _pick(self, closers: Any = None) -> int:
        logits = self._logits()
        if closers is not None and len(closers):
            # Past the budget: closing tokens favoured, the grammar's mask still has the last word
            # (the same wrap-up as the transformers runtime's logits processor).
            from langchain_netgpt.edge.wrap_up import WRAP_UP_BONUS

            logits = logits.copy()
            logits[closers] += WRAP_UP_BONUS
        token = self._choose(logits)
        if self.guide is None or self.guide.try_accept(token):
            return token
        masked = logits.copy()
        self.guide.mask(masked)
        if not self._np.isfinite(masked).any():
            raise EdgeModelError("the grammar allows no token here (the schema cannot be met)")
        token = self._choose(masked)
        self.guide.accept(token)
        return token

    def _choose(self, logits: Any) -> int:
        np = self._np
        if self.request.temperature <= 0:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / self.request.temperature
        scaled -= scaled.max()
        probs = np.exp(scaled)
        probs /= probs.sum()
        order = np.argsort(-probs)
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, self.request.top_p)) + 1]
        kept = probs[keep] / probs[keep].sum()
        return int(self.rng.choice(keep, p=kept))


def _shared_prefix(base: list[int], sequences: list[list[int]]) -> int:
    """Tokens every sequence shares with the prompt, then with each other (at least one left)."""
    shared = len(base)
    # Joint tokenisation may merge the prompt's last token with a continuation: back off.
    while shared > 0 and any(seq[:shared] != base[:shared] for seq in sequences):
        shared -= 1
    common = min(len(seq) for seq in sequences)
    while shared < common - 1 and len({seq[shared] for seq in sequences}) == 1:
        shared += 1
    return max(shared, 1)


def _log_softmax(logits: Any) -> Any:
    import numpy as np

    values = np.asarray(logits, dtype=np.float64)
    shifted = values - values.max()
    return shifted - np.log(np.exp(shifted).sum())


def _ends_with_stop(text: str, piece: str, stops: list[str]) -> bool:
    window = text[-(len(piece) + max(len(s) for s in stops)) :]
    return any(s in window for s in stops)
