"""Read exported training rows (JSONL, Parquet or a ``datasets`` folder) and hash them.

JSON Lines are read line by line with :mod:`json`: each row keeps exactly the structure it was
written with (Arrow would unify the tool schemas of all rows into one struct type). Parquet files
and ``save_to_disk`` folders go through ``datasets`` (``pip install 'langchain-netgpt[train]'``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from langchain_netgpt.errors import ConfigurationError, MissingExtraError

__all__ = ["file_sha256", "read_rows"]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Return the rows stored at ``path``.

    Args:
        path: A ``.jsonl``/``.json`` file (one JSON object per line), a ``.parquet`` file, or a
            folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (its
            ``train`` split).

    Raises:
        ConfigurationError: The path is missing, of an unknown kind, or holds a bad line (the
            message names the line).
        MissingExtraError: ``datasets`` is needed and not installed.
    """
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        rows: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigurationError(
                        f"{path}:{number} is not valid JSON: {exc}",
                        field="data_path",
                        value=str(path),
                    ) from exc
                if not isinstance(row, dict):
                    raise ConfigurationError(
                        f"{path}:{number} is not a JSON object", field="data_path", value=str(path)
                    )
                rows.append(row)
        return rows
    if not (path.is_dir() or (path.is_file() and path.suffix == ".parquet")):
        raise ConfigurationError(
            f"data_path={str(path)!r} must be a .jsonl/.json or .parquet file or a datasets "
            "save_to_disk folder",
            field="data_path",
            value=str(path),
        )
    try:
        import datasets
    except ImportError as exc:
        raise MissingExtraError("datasets", "train") from exc
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if "train" not in loaded:
                raise ConfigurationError(
                    f"{path} holds splits {sorted(loaded)}; expected a 'train' split",
                    field="data_path",
                    value=str(path),
                )
            loaded = loaded["train"]
    else:
        loaded = datasets.Dataset.from_parquet(str(path))
    return [dict(row) for row in loaded]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (sorted by relative path, names included)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
