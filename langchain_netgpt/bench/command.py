"""What ``netgpt bench`` does, with rich progress bars; the CLI only parses and validates options.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.command import resolve_inputs

        data, traces = resolve_inputs([], [])  # ../shared/data when present, else empty
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_netgpt.bench.replay import BenchConfig
from langchain_netgpt.bench.report import (
    BenchReport,
    default_data_files,
    default_trace_files,
    run_benchmark,
    write_report,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["record_command", "resolve_inputs", "run_bench_command"]


def resolve_inputs(data: Sequence[Path], traces: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The given files, or the defaults from ``../shared/data`` for whichever list is empty."""
    return (list(data) or default_data_files(), list(traces) or default_trace_files())


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


def run_bench_command(
    data: Sequence[Path],
    traces: Sequence[Path],
    out: Path,
    edge_outcomes: Path,
    *,
    config: BenchConfig,
    cloud_outcomes: Path | None = None,
    plots: bool = True,
) -> BenchReport:
    """Replay the benchmark with a progress bar, write the report to ``out`` and print a summary.

    Raises:
        BenchmarkDataError: A data or outcomes file is bad.
        FileNotFoundError: A trace file does not exist.
    """
    from rich.console import Console

    console = Console()
    started = time.perf_counter()
    with _progress() as progress:
        bar = progress.add_task("replaying scenarios", total=None)

        def on_scenario(name: str, done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total, description=name)

        report = run_benchmark(
            data,
            traces,
            edge_outcomes,
            config=config,
            cloud_outcomes=cloud_outcomes,
            on_scenario=on_scenario,
        )
    written = write_report(report, out, plots=plots)
    elapsed = time.perf_counter() - started
    e = report.edge_outcomes
    console.print(
        f"{e['tasks_covered']}/{e['tasks_in_files']} tasks covered by {e['file']}; "
        f"cloud: {report.cloud_mode}"
    )
    for name, value in report.criteria.items():
        console.print(f"{name}: {'met' if value['met'] else 'NOT met'}")
    written.append(_print_issue8_rows(console, data, edge_outcomes, config, out, traces))
    console.print(f"wrote {', '.join(str(p) for p in written)} in {elapsed:.1f} s")
    return report


def _print_issue8_rows(
    console: Console,
    data: Sequence[Path],
    edge_outcomes: Path,
    config: BenchConfig,
    out: Path,
    traces: Sequence[Path] = (),
) -> Path:
    """Self-offload, prompt-completion and multi-target rows: a table, and ``extensions.json``."""
    import json

    from rich.table import Table

    from langchain_netgpt.bench.completion_eval import completion_bench_row
    from langchain_netgpt.bench.multi_target import MultiTargetConfig, multi_target_bench_row
    from langchain_netgpt.bench.offload_eval import offload_bench_row

    rows = [offload_bench_row(data, edge_outcomes, config=config), completion_bench_row()]
    rows.append(
        multi_target_bench_row(data, edge_outcomes, traces, MultiTargetConfig(seed=config.seed))
    )
    table = Table("part", "result", title="Edge extensions (issue 8)")
    for row in rows:
        table.add_row(row["part"], row["result"])
    console.print(table)
    path = out / "extensions.json"
    payload = {r["part"]: json.loads(r["json"]) if "json" in r else r["result"] for r in rows}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def record_command(
    data: Sequence[Path], out: Path, *, device: str = "auto", limit: int | None = None
) -> int:
    """Record (or resume recording) the bundled edge model's outcomes into ``out``.

    Returns:
        Rows the file holds afterwards.

    Raises:
        ImportError: The ``edge`` extra is missing.
        BenchmarkDataError: A file is bad or ``out`` was recorded with other settings.
    """
    from langchain_netgpt.bench.record import EdgeOutcome, record_bundled_edge_outcomes

    with _progress() as progress:
        bar = progress.add_task("recording edge outcomes", total=None)

        def on_row(outcome: EdgeOutcome, done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total, description=outcome.id)

        outcomes = record_bundled_edge_outcomes(
            data, out, device=device, limit=limit, on_row=on_row
        )
    return len(outcomes.rows)
