"""What ``netgpt export`` does: two pipelines, with progress bars and a summary table.

- :func:`export_dataset_command`: traces (a :class:`~langchain_netgpt.tracing.TraceStore` or a
  JSONL trace file) to a training dataset of one :data:`~langchain_netgpt.export.kinds.DatasetKind`
  in one :data:`~langchain_netgpt.export.writers.ExportFormat`.
- :func:`export_langsmith_command`: routed runs read back from a LangSmith project to a JSONL
  trace file.

Both check their options first (a bad one raises ``ValueError`` naming the option, and nothing
is written), then run; a failure while running raises :class:`ExportCommandError` with a one-line,
scrubbed reason.

Example:
    .. code-block:: python

        from pathlib import Path

        from langchain_netgpt.export.command import export_dataset_command

        # export_dataset_command(Path("traces.jsonl"), Path("sft.jsonl"), kind="sft")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_netgpt.errors import NetGPTError

if TYPE_CHECKING:
    from rich.progress import Progress

    from langchain_netgpt.export.langsmith_runs import LangSmithExportSummary
    from langchain_netgpt.export.sources import TraceFilter
    from langchain_netgpt.export.writers import ExportSummary

__all__ = [
    "HOSTED_LANGSMITH",
    "ExportCommandError",
    "export_dataset_command",
    "export_langsmith_command",
    "store_source",
]

HOSTED_LANGSMITH = "https://api.smith.langchain.com"
"""The hosted LangSmith API, which needs an API key."""


class ExportCommandError(NetGPTError):
    """An export failed while running; the message is one scrubbed line."""


def store_source(store: str) -> str | Path:
    """A ``--store`` value: a ``postgresql://`` URL stays a string, anything else is a path."""
    from langchain_netgpt._postgres import is_postgres_url

    return store if is_postgres_url(store) else Path(store)


def _progress(*, spinner: bool = False) -> Progress:
    """A transient progress bar on stderr; none (and no stray blank line) in pipes and logs."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    columns: list[ProgressColumn] = [SpinnerColumn()] if spinner else []
    columns += [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


# ------------------------------------------------------------------------ traces to datasets


def export_dataset_command(
    source: str | Path,
    out: Path | None,
    *,
    kind: str = "router",
    format: str = "parquet",
    limit: int | None = None,
    filters: Mapping[str, str | None] | None = None,
    valid_only: bool = False,
    reward: Mapping[str, float | None] | None = None,
    overwrite: bool = False,
) -> ExportSummary:
    """``netgpt export --store/--traces``: check, then stream the dataset with a progress bar.

    Args:
        source: A trace file (``.jsonl``), an SQLite store file, or a ``postgresql://`` URL.
        out: The dataset file (a folder for ``hf``).
        kind: A :data:`~langchain_netgpt.export.kinds.DatasetKind`.
        format: An :data:`~langchain_netgpt.export.writers.ExportFormat`.
        limit: Most traces to read.
        filters: ``since`` / ``until`` (ISO 8601 or Unix seconds), ``route``, ``session_id``.
        valid_only: Only steps whose tool calls were valid.
        reward: ``value_usd`` / ``lambda_t`` / ``lambda_c`` (router data only; ``None`` = default).
        overwrite: Replace an existing ``out``.

    Raises:
        ValueError: A bad option (``pydantic.ValidationError`` for a bad filter or reward value).
        ExportCommandError: Reading the traces or writing the dataset failed.
    """
    from langchain_netgpt.export.kinds import DATASET_KINDS, dataset_kind_spec, export_dataset
    from langchain_netgpt.export.router_data import RewardParams
    from langchain_netgpt.export.sources import read_traces
    from langchain_netgpt.export.writers import EXPORT_FORMATS

    if kind not in DATASET_KINDS:
        raise ValueError(f"--kind must be one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    if format not in EXPORT_FORMATS:
        raise ValueError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    spec = dataset_kind_spec(kind)
    if out is None:
        raise ValueError("--out is required (a file, or a folder for --format hf)")
    if isinstance(source, Path) and not source.is_file():
        raise ValueError(f"trace source {source} is not a file")
    if out.exists() and not overwrite:
        raise ValueError(f"--out {out} already exists; pass --overwrite to replace it")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    given = {name: value for name, value in (reward or {}).items() if value is not None}
    if given and not spec.rewarded:
        raise ValueError(f"--value-usd/--lambda-t/--lambda-c apply to --kind router, not {kind}")
    where = _trace_filter(filters or {}, valid_only=valid_only, limit=limit)
    params = RewardParams(**given) if spec.rewarded else None
    total = _count(source, where)
    name = source.name if isinstance(source, Path) else "the store"
    try:
        with _progress() as progress:
            task = progress.add_task(f"{kind} from {name}", total=total)
            summary = export_dataset(
                kind,
                read_traces(source, where, router_fields=spec.reads_router_fields),
                out,
                format=format,
                params=params,
                overwrite=overwrite,
                on_trace=lambda _trace: progress.advance(task),
            )
    except (NetGPTError, OSError, ValueError) as exc:
        raise ExportCommandError(f"{type(exc).__name__}: {exc}") from exc
    _print_dataset_summary(summary)
    return summary


def _trace_filter(
    filters: Mapping[str, str | None], *, valid_only: bool, limit: int | None
) -> TraceFilter:
    """The :class:`TraceFilter` of the options (``ValueError`` for a bad time)."""
    from langchain_netgpt.export.sources import TraceFilter, parse_time

    times = {
        name: parse_time(value)
        for name, value in filters.items()
        if name in ("since", "until") and value is not None
    }
    return TraceFilter(
        route=filters.get("route"),
        session_id=filters.get("session_id"),
        valid=True if valid_only else None,
        limit=limit,
        **times,
    )


def _count(source: str | Path, where: TraceFilter) -> int | None:
    """How many traces a store holds under ``where`` (``None`` for a JSONL file: unknown)."""
    if isinstance(source, Path) and source.suffix == ".jsonl":
        return None
    from langchain_netgpt.tracing.store import TraceStore

    try:
        with TraceStore(source) as counter:
            total = counter.count(
                since=where.since,
                until=where.until,
                route=where.route,
                session_id=where.session_id,
                valid=where.valid,
            )
    except NetGPTError as exc:
        raise ExportCommandError(str(exc)) from exc
    return min(total, where.limit) if where.limit is not None else total


def _print_dataset_summary(summary: ExportSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"netgpt export --kind {summary.kind}: {summary.path} ({summary.format})")
    table.add_column("", justify="left")
    table.add_column("rows", justify="right")
    table.add_row("read", str(summary.rows_read))
    table.add_row("written", str(summary.rows_written))
    for reason, count in sorted(summary.skipped.items(), key=lambda item: -item[1]):
        table.add_row(f"skipped: {reason}", str(count))
    Console().print(table)


# ---------------------------------------------------------------------- LangSmith read-back


def export_langsmith_command(
    project: str,
    out: Path | None,
    *,
    limit: int | None = None,
    append: bool = False,
    endpoint: str = HOSTED_LANGSMITH,
    api_key: str | None = None,
) -> LangSmithExportSummary:
    """``netgpt export --from-langsmith``: check, then read the project's routed runs to ``out``.

    Args:
        project: The LangSmith project whose routed runs (tagged ``netgpt:edge`` /
            ``netgpt:cloud``) to read.
        out: The JSONL trace file to write.
        limit: Most runs to export.
        append: Add to an existing ``out`` instead of refusing.
        endpoint: The LangSmith API URL.
        api_key: The LangSmith API key (scrubbed from everything written or printed).

    Raises:
        ValueError: A bad option.
        ExportCommandError: LangSmith could not be read, or ``out`` not written.
    """
    if out is None:
        raise ValueError("--out FILE.jsonl is required")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder, not a file")
    if out.exists() and out.stat().st_size > 0 and not append:
        raise ValueError(f"--out {out} already exists; pass --append to add to it")
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"--endpoint must be an http:// or https:// URL, got {endpoint!r}")
    if api_key is None and endpoint.rstrip("/") == HOSTED_LANGSMITH:
        raise ValueError(f"no API key for {endpoint}: set LANGSMITH_API_KEY")
    summary = _read_langsmith(project, out, limit=limit, endpoint=endpoint, key=api_key)
    _print_langsmith_summary(summary)
    return summary


def _read_langsmith(
    project: str, out: Path, *, limit: int | None, endpoint: str, key: str | None
) -> LangSmithExportSummary:
    """Run the export with a progress bar; LangSmith's failures become one scrubbed line."""
    from langsmith import Client
    from langsmith.utils import (
        LangSmithAuthError,
        LangSmithConnectionError,
        LangSmithError,
        LangSmithNotFoundError,
    )

    from langchain_netgpt.export.langsmith_runs import (
        export_langsmith_routes,
        routes_from_langsmith,
    )
    from langchain_netgpt.tracing.scrub import SecretScrubber

    scrubber = SecretScrubber.from_environ(extra=[key] if key else [])
    client = Client(api_url=endpoint, api_key=key, auto_batch_tracing=False)
    reason: str
    try:
        with _progress(spinner=True) as progress:
            task = progress.add_task(f"reading {project}", total=limit)
            return export_langsmith_routes(
                routes_from_langsmith(client, project, limit=limit, scrubber=scrubber),
                out,
                on_trace=lambda _trace: progress.advance(task),
            )
    except LangSmithNotFoundError:
        reason = f"LangSmith project {project!r} not found at {endpoint}"
    except LangSmithConnectionError:
        reason = f"cannot reach LangSmith at {endpoint} (connection failed)"
    except LangSmithAuthError:
        reason = f"LangSmith at {endpoint} refused the API key"
    except LangSmithError as exc:
        first = scrubber.scrub_text(str(exc)).splitlines()[0][:300] if str(exc) else ""
        reason = f"LangSmith request failed: {type(exc).__name__}: {first}"
    except (OSError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {scrubber.scrub_text(str(exc))}"
    finally:
        client.close()
    raise ExportCommandError(reason)


def _print_langsmith_summary(summary: LangSmithExportSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    from langchain_netgpt.routing.policy import CLOUD, EDGE

    table = Table(title=f"netgpt export: {summary.path}")
    table.add_column("runs", justify="right")
    table.add_column(EDGE, justify="right")
    table.add_column(CLOUD, justify="right")
    table.add_column("fallbacks", justify="right")
    table.add_column("failed tries", justify="right")
    table.add_row(
        str(summary.runs),
        str(summary.by_target.get(EDGE, 0)),
        str(summary.by_target.get(CLOUD, 0)),
        str(summary.fallbacks),
        str(summary.errors),
    )
    Console().print(table)
