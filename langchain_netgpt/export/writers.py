"""Streaming dataset writers (JSONL, Parquet, HuggingFace ``save_to_disk``) and the export loop.

Rows are buffered ``batch_rows`` at a time and flushed (one Parquet row group per batch), so
memory is bounded by one batch however many traces stream in. Files are written under a
temporary name and renamed at the end: an interrupted export leaves no half-written dataset.

The formats are :data:`ExportFormat`'s values, and :data:`EXPORT_FORMAT_SPECS` says how each is
written: a new format is one more ``Literal`` value and one more registry entry, both here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt._registry import literal_registry
from langchain_netgpt.errors import MissingExtraError

if TYPE_CHECKING:
    import pyarrow as pa

    from langchain_netgpt.tracing import RouteTrace

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_FORMAT_SPECS",
    "ExportFormat",
    "ExportFormatSpec",
    "ExportSummary",
    "RowBuilder",
    "export_format_spec",
    "load_export",
    "write_dataset",
]

ExportFormat = Literal["jsonl", "parquet", "hf"]
"""The dataset formats; :data:`EXPORT_FORMAT_SPECS` holds how each is written."""
METADATA_KEY = b"netgpt"
"""Parquet schema-metadata key holding the export header (JSON)."""

RowBuilder = Callable[["RouteTrace"], "dict[str, Any] | str"]
"""Turns one trace into one row, or into the reason it is skipped."""

_T = TypeVar("_T")


class ExportSummary(BaseModel):
    """What one export read, wrote and skipped.

    Attributes:
        kind: Dataset kind (``router``, ``sft``, ``preferences``, ``grpo``).
        format: ``jsonl``, ``parquet`` or ``hf``.
        path: Where the dataset was written.
        rows_read: Traces read.
        rows_written: Rows written.
        skipped: Traces not written, by reason.

    Example:
        .. code-block:: python

            from langchain_netgpt.export import ExportSummary

            summary = ExportSummary(kind="sft", format="jsonl", path="sft.jsonl", rows_read=3,
                                    rows_written=2, skipped={"served by the edge": 1})
            assert summary.rows_skipped == 1
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    format: str
    path: str
    rows_read: int = Field(ge=0)
    rows_written: int = Field(ge=0)
    skipped: dict[str, int] = Field(default_factory=dict)

    @property
    def rows_skipped(self) -> int:
        """Traces read but not written."""
        return sum(self.skipped.values())


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError(name.split(".")[0], "train") from exc


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


class _Writer(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class _JsonlWriter:
    def __init__(self, path: Path, header: dict[str, Any] | None) -> None:
        self._file = path.open("w", encoding="utf-8")
        if header is not None:
            self._file.write(_json_line(header))

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._file.write("".join(_json_line(row) for row in rows))

    def close(self) -> None:
        self._file.close()


class _ParquetWriter:
    def __init__(self, path: Path, schema: pa.Schema, header: dict[str, Any]) -> None:
        pq = _import("pyarrow.parquet")
        self._pa = _import("pyarrow")
        self._schema = schema.with_metadata({METADATA_KEY: json.dumps(header).encode()})
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, rows: list[dict[str, Any]]) -> None:
        # Column lists, then one Arrow array per column: faster than converting row dicts.
        columns = {name: [row[name] for row in rows] for name in self._schema.names}
        table = self._pa.Table.from_pydict(columns, schema=self._schema)
        self._writer.write_table(table, row_group_size=max(1, len(rows)))

    def close(self) -> None:
        self._writer.close()


def _temporary_sibling(out: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    return Path(name)


def _save_hf(parquet: Path, out: Path, header: dict[str, Any]) -> None:
    datasets = _import("datasets")
    with tempfile.TemporaryDirectory(prefix=".netgpt-hf-cache-", dir=out.parent) as cache:
        dataset = _dataset_from_parquet(datasets, parquet, cache)
        dataset.info.description = json.dumps(header)
        staging = out.parent / f".{out.name}.saving"
        if staging.exists():
            shutil.rmtree(staging)
        dataset.save_to_disk(str(staging))
        del dataset
    staging.rename(out)


def _dataset_from_parquet(datasets: Any, path: Path, cache_dir: str | None = None) -> Any:
    """``Dataset.from_parquet``, which refuses a file without rows: that one is built empty."""
    pq = _import("pyarrow.parquet")
    parquet = pq.ParquetFile(str(path))
    if parquet.metadata.num_rows == 0:
        table = parquet.schema_arrow.empty_table()
        return datasets.Dataset(table.replace_schema_metadata(None))
    return datasets.Dataset.from_parquet(str(path), cache_dir=cache_dir)


@dataclass(frozen=True)
class ExportFormatSpec:
    """How one :data:`ExportFormat` is written: rows go to a staged file, published at the end.

    Attributes:
        description: One line for help texts.
        staging_suffix: Suffix of the staged file (next to ``out``, hidden).
        open_writer: ``open_writer(staged, schema, header, jsonl_header)``: the row writer.
        publish: ``publish(staged, out, header)``: turn the closed staged file into ``out``.
    """

    description: str
    staging_suffix: str
    open_writer: Callable[[Path, Callable[[], pa.Schema], dict[str, Any], bool], _Writer]
    publish: Callable[[Path, Path, dict[str, Any]], None]


def _open_jsonl(
    staged: Path, schema: Callable[[], pa.Schema], header: dict[str, Any], jsonl_header: bool
) -> _Writer:
    return _JsonlWriter(staged, header if jsonl_header else None)


def _open_parquet(
    staged: Path, schema: Callable[[], pa.Schema], header: dict[str, Any], jsonl_header: bool
) -> _Writer:
    return _ParquetWriter(staged, schema(), header)


def _publish_file(staged: Path, out: Path, header: dict[str, Any]) -> None:
    staged.replace(_replace_target(out))


def _publish_hf(staged: Path, out: Path, header: dict[str, Any]) -> None:
    _save_hf(staged, _replace_target(out), header)
    staged.unlink()


EXPORT_FORMAT_SPECS: Mapping[ExportFormat, ExportFormatSpec] = literal_registry(
    ExportFormat,
    {
        "jsonl": ExportFormatSpec("JSON lines", ".jsonl", _open_jsonl, _publish_file),
        "parquet": ExportFormatSpec("Parquet, zstd", ".parquet", _open_parquet, _publish_file),
        "hf": ExportFormatSpec(
            "HuggingFace Dataset.save_to_disk folder", ".parquet", _open_parquet, _publish_hf
        ),
    },
)
"""Every export format, keyed by :data:`ExportFormat`'s values (checked when loaded)."""
EXPORT_FORMATS: tuple[ExportFormat, ...] = tuple(EXPORT_FORMAT_SPECS)
"""The format names, in the ``Literal``'s order."""


def write_dataset(
    traces: Iterable[_T],
    build: Callable[[_T], dict[str, Any] | str],
    *,
    kind: str,
    schema: Callable[[], pa.Schema],
    out: str | Path,
    format: ExportFormat = "parquet",
    header: dict[str, Any],
    jsonl_header: bool = False,
    batch_rows: int = 10_000,
    overwrite: bool = False,
    on_trace: Callable[[_T], None] | None = None,
) -> ExportSummary:
    """Stream traces through ``build`` into a dataset file; the loop every exporter shares.

    Args:
        traces: Any iterable of traces (a store query, :func:`read_jsonl_traces`, a list).
        build: One trace to one row, or to the reason it is skipped.
        kind: Dataset kind, for the header and the summary.
        schema: The Arrow schema of a row (called only for Parquet and HF output).
        out: The file (``jsonl``, ``parquet``) or folder (``hf``) to write.
        format: ``jsonl``, ``parquet`` or ``hf`` (``datasets.Dataset.save_to_disk``).
        header: Export metadata: Parquet schema metadata, the HF dataset's ``info.description``
            and, with ``jsonl_header``, the first JSONL line.
        jsonl_header: Write ``header`` as the first line of a JSONL file.
        batch_rows: Rows buffered before a flush (one Parquet row group each).
        overwrite: Replace an existing ``out``.
        on_trace: Called after each trace is read (progress bars).

    Returns:
        The counts.

    Raises:
        ValueError: Bad ``format`` or ``batch_rows``.
        FileExistsError: ``out`` exists and ``overwrite`` is false.
        MissingExtraError: pyarrow / datasets are not installed (Parquet / HF output).
    """
    spec = export_format_spec(format)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ValueError(f"batch_rows must be a positive int, got {batch_rows!r}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = _temporary_sibling(out, spec.staging_suffix)
    try:
        writer = spec.open_writer(staged, schema, header, jsonl_header)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    try:
        read, written, skipped = _stream_rows(traces, build, writer, batch_rows, on_trace)
        writer.close()
        spec.publish(staged, out, header)
    except BaseException:
        writer.close()
        staged.unlink(missing_ok=True)
        raise
    return ExportSummary(
        kind=kind,
        format=format,
        path=str(out),
        rows_read=read,
        rows_written=written,
        skipped=dict(skipped),
    )


def export_format_spec(format: str) -> ExportFormatSpec:
    """The registry entry of ``format``.

    Raises:
        ValueError: ``format`` is not one of :data:`EXPORT_FORMATS`.
    """
    try:
        return EXPORT_FORMAT_SPECS[format]  # type: ignore[index]  # any str: KeyError if unknown
    except (KeyError, TypeError):
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}") from None


def _stream_rows(
    traces: Iterable[_T],
    build: Callable[[_T], dict[str, Any] | str],
    writer: _Writer,
    batch_rows: int,
    on_trace: Callable[[_T], None] | None,
) -> tuple[int, int, Counter[str]]:
    """Build and write every row, ``batch_rows`` at a time; (read, written, skipped by reason)."""
    read = written = 0
    skipped: Counter[str] = Counter()
    batch: list[dict[str, Any]] = []
    for trace in traces:
        read += 1
        row = build(trace)
        if isinstance(row, str):
            skipped[row] += 1
        else:
            batch.append(row)
            if len(batch) >= batch_rows:
                writer.write(batch)
                written += len(batch)
                batch = []
        if on_trace is not None:
            on_trace(trace)
    if batch:
        writer.write(batch)
        written += len(batch)
    return read, written, skipped


def _replace_target(out: Path) -> Path:
    """Clear ``out`` for an overwrite (a folder for HF output, a file otherwise)."""
    if out.is_dir():
        shutil.rmtree(out)
    return out


def load_export(path: str | Path) -> Any:
    """Load an exported dataset (Parquet file, JSONL file or HF folder) as a ``datasets.Dataset``.

    A router-data JSONL file's header line is skipped (it is in ``info.description``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        MissingExtraError: ``datasets`` is not installed.
    """
    datasets = _import("datasets")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no exported dataset at {path}")
    if path.is_dir():
        return _load_hf_folder(datasets, path)
    if path.suffix == ".parquet":
        return _dataset_from_parquet(datasets, path)
    with path.open("rb") as file:
        first = file.readline()
    if first.startswith(b'{"kind":"netgpt.'):
        # Streams the file into a generator-built dataset without its header line.
        def rows() -> Any:
            with path.open("rb") as file:
                file.readline()
                for line in file:
                    if line.strip():
                        yield json.loads(line)

        dataset = datasets.Dataset.from_generator(rows)
        dataset.info.description = first.decode().strip()
        return dataset
    return datasets.Dataset.from_json(str(path))


def _load_hf_folder(datasets: Any, path: Path) -> Any:
    state = path / "state.json"
    if state.is_file() and not json.loads(state.read_text()).get("_data_files", True):
        # datasets cannot load_from_disk a folder saved with no rows: rebuild it empty.
        info = datasets.DatasetInfo.from_directory(str(path))
        return datasets.Dataset.from_dict(
            {name: [] for name in info.features}, features=info.features, info=info
        )
    return datasets.load_from_disk(str(path))
