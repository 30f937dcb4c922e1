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
import threading
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
# llama.cpp's parser expands a bounded repetition itself and accepts up to this many copies.
_MAX_GBNF_REPETITION = 2000
_CONVERTER_LOCK = threading.Lock()
# xgrammar's string characters: no raw control characters; escapes only in unbounded strings
# (a string with a length bound takes plain characters only).
_JSON_CHAR = r'[^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
_BOUNDED_CHAR_RULE = r'bounded-char ::= [^"\\\x00-\x1F]'
_BOUNDED_CHAR = re.compile(r"(?<![\w-])char\{")


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
    module = _module("llama_cpp.llama_grammar")
    converter = module.SchemaConverter(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    target = schema if schema is not None else {"type": "object"}
    # The shipped converter spells `x{0,n}` as n nested optionals, which llama.cpp refuses past a
    # few hundred (a 2,000-character answer bound); upstream's current converter writes the
    # `{m,n}` operator instead, as _build_repetition does. Swapped in for this call only.
    with _CONVERTER_LOCK:
        original = module._build_repetition
        module._build_repetition = _build_repetition
        try:
            resolved = converter.resolve_refs(
                _any_for_untyped(json.loads(json.dumps(target))), "schema"
            )
            converter.visit(resolved, "")
        except Exception as exc:  # the converter raises bare Exceptions and KeyErrors
            raise EdgeModelError(
                f"llama.cpp's JSON-schema converter cannot express the output schema: {exc}; "
                "use grammar_engine='xgrammar'"
            ) from exc
        finally:
            module._build_repetition = original
    converter._rules["space"] = '""'  # compact JSON, as xgrammar's any_whitespace=False
    if "char" in converter._rules:  # JSON forbids raw control characters inside strings
        converter._rules["char"] = _JSON_CHAR
    grammar = str(converter.format_grammar())
    for pattern, separator in _SEPARATORS:
        grammar = pattern.sub(separator, grammar)
    if _BOUNDED_CHAR.search(grammar):
        grammar = _BOUNDED_CHAR.sub("bounded-char{", grammar).rstrip("\n")
        grammar += "\n" + _BOUNDED_CHAR_RULE + "\n"
    return grammar


# Keywords that say what a (sub)schema accepts; a node with none of them but with annotations
# (``{"description": ...}``, as BFCL's untyped parameters are) accepts any JSON value.
_STRUCTURAL = {
    "type",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "properties",
    "items",
    "prefixItems",
    "pattern",
    "additionalProperties",
    "required",
    "minLength",
    "maxLength",
}
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _any_for_untyped(schema: Any) -> Any:
    """``schema`` with annotation-only nodes made ``{"type": "value"}`` (any JSON value).

    llama.cpp's converter refuses such nodes ("Unrecognized schema") where xgrammar accepts any
    value; ``value`` is the converter's own any-JSON-value rule.
    """
    if not isinstance(schema, dict):
        return schema
    if schema and not (_STRUCTURAL & schema.keys()):
        return {"type": "value"}
    out = dict(schema)
    for key in _SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: _any_for_untyped(sub) for name, sub in out[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_any_for_untyped(sub) for sub in out[key]]
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _any_for_untyped(out[key])
    return out


def _build_repetition(
    item_rule: str,
    min_items: int,
    max_items: int | None,
    separator_rule: str | None = None,
    item_rule_is_literal: bool = False,
) -> str:
    """GBNF for ``min_items..max_items`` copies of ``item_rule`` (llama.cpp's current spelling)."""
    if max_items == 0:
        return ""
    if min_items == 0 and max_items == 1:
        return f"{item_rule}?"
    if not separator_rule:
        if min_items == 1 and max_items is None:
            return f"{item_rule}+"
        if min_items == 0 and max_items is None:
            return f"{item_rule}*"
        if max_items is not None and max_items > _MAX_GBNF_REPETITION:
            raise EdgeModelError(
                f"a bound of {max_items} repetitions exceeds llama.cpp's grammar limit "
                f"({_MAX_GBNF_REPETITION}); lower it or use grammar_engine='xgrammar'"
            )
        upper = "" if max_items is None else str(max_items)
        return f"{item_rule}{{{min_items},{upper}}}"
    rest = _build_repetition(
        f"({separator_rule} {item_rule})",
        max(min_items - 1, 0),
        None if max_items is None else max_items - 1,
    )
    result = f"{item_rule} {rest}".strip()
    return f"({result})?" if min_items == 0 else result


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
