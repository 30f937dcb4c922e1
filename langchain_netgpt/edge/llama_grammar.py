"""Grammar-constrained decoding for the llama.cpp runtime: llama.cpp GBNF or xgrammar.

Both engines constrain the same JSON language as the transformers runtime (xgrammar,
``any_whitespace=False``): no whitespace except Python's ``", "`` and ``": "`` separators, the
properties of an object in schema order, no properties beyond the schema's. The GBNF text comes
from llama.cpp's own JSON-schema converter (as shipped in ``llama-cpp-python``) with its optional
spaces replaced by those separators.

Each engine gives a *guide* for one generation. The decode loop asks the guide whether the
token the model prefers is allowed (cheap) and masks the whole vocabulary only when it is not;
for greedy decoding this picks exactly the token a full mask would, and for sampling it draws
from the same masked distribution.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np

from langchain_netgpt.errors import EdgeModelError

GrammarEngine = Literal["auto", "gbnf", "xgrammar"]
GRAMMAR_ENGINES: tuple[str, ...] = ("auto", "gbnf", "xgrammar")
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
_SEPARATORS = ((re.compile(r'":" space'), '": "'), (re.compile(r'"," space'), '", "'))
_GBNF_CACHE_SIZE = 64


class Guide(Protocol):
    """The grammar state of one generation."""

    def try_accept(self, token: int) -> bool:
        """Advance with ``token`` if the grammar allows it; say whether it did."""
        ...

    def mask(self, logits: np.ndarray) -> None:
        """Set the logits of every token the grammar forbids now to ``-inf`` (in place)."""
        ...

    def accept(self, token: int) -> None:
        """Advance with a token already known to be allowed."""
        ...

    def close(self) -> None:
        """Free native resources."""
        ...


def _module(name: str) -> Any:
    # llama_cpp ships type hints that do not cover its grammar converter or ctypes arrays.
    return importlib.import_module(name)


def schema_to_gbnf(schema: dict[str, Any] | None) -> str:
    """The GBNF grammar of JSON documents matching ``schema`` (any JSON object when None).

    Raises:
        EdgeModelError: The converter does not support something in the schema.
    """
    converter_class = _module("llama_cpp.llama_grammar").SchemaConverter
    converter = converter_class(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    target = schema if schema is not None else {"type": "object"}
    try:
        resolved = converter.resolve_refs(json.loads(json.dumps(target)), "schema")
        converter.visit(resolved, "")
    except Exception as exc:  # the converter raises bare Exceptions and KeyErrors
        raise EdgeModelError(
            f"llama.cpp's JSON-schema converter cannot express the output schema: {exc}; "
            "use grammar_engine='xgrammar'"
        ) from exc
    converter._rules["space"] = '""'  # compact JSON, as xgrammar's any_whitespace=False
    grammar = str(converter.format_grammar())
    for pattern, separator in _SEPARATORS:
        grammar = pattern.sub(separator, grammar)
    return grammar


class GbnfEngine:
    """llama.cpp's grammar sampler over a model's vocabulary; GBNF texts cached by schema."""

    name = "gbnf"

    def __init__(self, vocab: Any, n_vocab: int) -> None:
        self._vocab = vocab
        self._n_vocab = n_vocab
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._ids = np.arange(n_vocab, dtype=np.int32)

    def guide(self, schema: dict[str, Any] | None) -> Guide:
        """A fresh guide for one generation.

        Raises:
            EdgeModelError: The schema cannot be converted, or llama.cpp rejects the grammar.
        """
        llama_cpp = _module("llama_cpp")
        key = json.dumps(schema, sort_keys=True)
        text = self._texts.get(key)
        if text is None:
            text = schema_to_gbnf(schema)
            self._texts[key] = text
            if len(self._texts) > _GBNF_CACHE_SIZE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        sampler = llama_cpp.llama_sampler_init_grammar(self._vocab, text.encode(), b"root")
        if not sampler:
            raise EdgeModelError("llama.cpp rejected the GBNF grammar built from the schema")
        return _GbnfGuide(sampler, self._ids)


class _GbnfGuide:
    def __init__(self, sampler: Any, ids: np.ndarray) -> None:
        llama_cpp = _module("llama_cpp")
        self._llama = llama_cpp
        self._sampler = sampler
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = (llama_cpp.llama_token_data * len(ids))()
        self._all_view = np.frombuffer(memoryview(self._all), dtype=_TOKEN_DATA)
        self._ids = ids

    def _apply(self, data: Any, size: int) -> None:
        array = self._llama.llama_token_data_array(data=data, size=size, selected=-1, sorted=False)
        self._llama.llama_sampler_apply(self._sampler, ctypes.byref(array))

    def try_accept(self, token: int) -> bool:
        self._one[0].id = token
        self._one[0].logit = 0.0
        self._apply(self._one, 1)
        if not np.isfinite(self._one[0].logit):
            return False
        self.accept(token)
        return True

    def mask(self, logits: np.ndarray) -> None:
        view = self._all_view
        view["id"] = self._ids
        view["logit"] = 0.0
        self._apply(self._all, len(self._ids))
        logits[~np.isfinite(view["logit"])] = -np.inf

    def accept(self, token: int) -> None:
        self._llama.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler is not None:
            self._llama.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self) -> None:
        self.close()


class XgrammarEngine:
    """xgrammar over a llama.cpp vocabulary (imports torch and transformers: ~250 MB more)."""

    name = "xgrammar"

    def __init__(self, pieces: Sequence[bytes], stop_token_ids: Sequence[int]) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:
            from langchain_netgpt.errors import MissingExtraError

            raise MissingExtraError("xgrammar", "edge") from exc
        self._xgr = xgr
        info = xgr.TokenizerInfo(
            list(pieces),
            vocab_type=xgr.VocabType.RAW,
            vocab_size=len(pieces),
            stop_token_ids=list(stop_token_ids),
        )
        self._n_vocab = len(pieces)
        self._compiler = xgr.GrammarCompiler(info, max_threads=2, cache_enabled=True)

    def guide(self, schema: dict[str, Any] | None) -> Guide:
        """A fresh guide for one generation.

        Raises:
            EdgeModelError: xgrammar rejects the schema.
        """
        try:
            if schema is None:
                compiled = self._compiler.compile_builtin_json_grammar()
            else:
                compiled = self._compiler.compile_json_schema(
                    json.dumps(schema), any_whitespace=False, strict_mode=True
                )
        except Exception as exc:
            raise EdgeModelError(f"xgrammar could not compile the output schema: {exc}") from exc
        return _XgrammarGuide(self._xgr, compiled, self._n_vocab)


class _XgrammarGuide:
    def __init__(self, xgr: Any, compiled: Any, n_vocab: int) -> None:
        self._matcher = xgr.GrammarMatcher(compiled)
        self._bitmask = xgr.allocate_token_bitmask(1, n_vocab)
        self._n_vocab = n_vocab

    def try_accept(self, token: int) -> bool:
        return bool(self._matcher.accept_token(token))

    def mask(self, logits: np.ndarray) -> None:
        self._matcher.fill_next_token_bitmask(self._bitmask)
        words = self._bitmask.numpy().view(np.uint8)
        allowed = np.unpackbits(words, bitorder="little")[: self._n_vocab].astype(bool)
        logits[~allowed] = -np.inf

    def accept(self, token: int) -> None:
        if not self._matcher.accept_token(token):
            raise EdgeModelError(f"xgrammar refused token {token} it had allowed")

    def close(self) -> None:
        """Nothing native to free by hand (xgrammar objects are reference counted)."""
