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

from langchain_netgpt.bench.pair_bench import PairBenchConfig
from langchain_netgpt.bench.replay import BenchConfig
from langchain_netgpt.bench.report import (
    TARGETS,
    BenchReport,
    default_data_files,
    default_trace_files,
    run_benchmark,
    target_verdict,
    write_report,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from langchain_netgpt.bench.pair_report import PairBenchReport

__all__ = [
    "bench_pairs_command",
    "pairs_config",
    "record_command",
    "resolve_inputs",
    "run_bench_command",
    "run_pairs_command",
]


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
        console.print(f"{TARGETS.get(name, name)}: {target_verdict(value['met'])}")
    written.append(_print_extension_rows(console, data, edge_outcomes, config, out, traces))
    console.print(f"wrote {', '.join(str(p) for p in written)} in {elapsed:.1f} s")
    return report


def _print_extension_rows(
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
    table = Table(
        "part", "result", title="Edge extensions: self-offload, prompt completion, several targets"
    )
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
    from langchain_netgpt.bench.record import record_bundled_edge_outcomes
    from langchain_netgpt.recorded.edge_outcomes import EdgeOutcome

    with _progress() as progress:
        bar = progress.add_task("recording edge outcomes", total=None)

        def on_row(outcome: EdgeOutcome, done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total, description=outcome.id)

        outcomes = record_bundled_edge_outcomes(
            data, out, device=device, limit=limit, on_row=on_row
        )
    return len(outcomes.rows)


def run_pairs_command(
    pair_files: Sequence[Path],
    traces: Sequence[Path],
    out: Path,
    *,
    config: PairBenchConfig,
    embedding_cache: Path | None = None,
) -> PairBenchReport:
    """Replay the pairs benchmark with a progress bar, write its report and print the criteria.

    ``embedding_cache`` (a ``.npz`` written by an earlier run or by
    ``benchmarks/pair_embeddings.py``) spares the MiniLM model; it is rewritten after the run
    only when the run embedded texts it did not hold.

    Raises:
        BenchmarkDataError: A pair file is bad.
        FileNotFoundError: A file does not exist.
        ImportError: A package the scorer or the tokenisers need is missing.
    """
    import json

    from rich.console import Console
    from rich.table import Table

    from langchain_netgpt.bench.pair_render import write_pair_report
    from langchain_netgpt.bench.pair_report import run_pair_benchmark
    from langchain_netgpt.routing.text_embedding import EmbeddingCache

    console = Console()
    cache = (
        EmbeddingCache.load(embedding_cache)
        if embedding_cache is not None and embedding_cache.is_file()
        else EmbeddingCache()
    )
    minilm_before = cache.count("minilm")
    started = time.perf_counter()
    with _progress() as progress:
        bar = progress.add_task("pairs: fitting and replaying", total=len(config.seeds))

        def on_progress(what: str, done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total, description=f"pairs: {what} done")

        report = run_pair_benchmark(
            pair_files, traces, config=config, cache=cache, on_progress=on_progress
        )
    elapsed = time.perf_counter() - started
    written = write_pair_report(report, out)
    if embedding_cache is not None and cache.count("minilm") > minilm_before:
        cache.save(embedding_cache, embedders=["minilm"])
    timing = out / "pairs-timing.json"
    timing.write_text(
        json.dumps({"seconds": round(elapsed, 2), "embedded_now": cache.misses}, indent=1) + "\n",
        encoding="utf-8",
    )
    q = report.quality_only["scorers"]
    table = Table("router", "APGR", "CPT(50%)", "CPT(80%)", title="Quality-only curves (test)")
    for name, s in q.items():
        table.add_row(name, f"{s['apgr']:.3f}", f"{s['cpt50']:.3f}", f"{s['cpt80']:.3f}")
    console.print(table)
    for value in report.criteria.values():
        console.print(f"{value['criterion']}: {target_verdict(value['met'])}")
    console.print(
        f"wrote {', '.join(str(p) for p in [*written, timing])} in {elapsed:.1f} s "
        f"({cache.misses} vectors computed now; the cache file keeps MiniLM vectors only)"
    )
    return report


def pairs_config(
    *,
    seed: int,
    seeds: int,
    test_fraction: float,
    base_rtts_ms: Sequence[float] | None,
    embedders: Sequence[str] | None,
    edge_profile: str | None,
    cloud_profile: str | None,
) -> PairBenchConfig:
    """The :class:`PairBenchConfig` of ``netgpt bench --pairs`` options.

    Raises:
        ValueError: An option is out of range (one line naming it).
    """
    from pydantic import ValidationError

    from langchain_netgpt.routing.text_embedding import EMBEDDER_NAMES

    if seeds < 1:
        raise ValueError(f"--pair-seeds must be >= 1, got {seeds}")
    for name in embedders or []:
        if name not in EMBEDDER_NAMES:
            raise ValueError(
                f"--text-embedder must be one of {', '.join(EMBEDDER_NAMES)}, got {name!r}"
            )
    options: dict[str, object] = {
        "seeds": list(range(seed, seed + seeds)),
        "test_fraction": test_fraction,
    }
    for key, value in (
        ("base_rtts_ms", list(base_rtts_ms or [])),
        ("embedders", list(embedders or [])),
        ("edge_profile", edge_profile),
        ("cloud_profile", cloud_profile),
    ):
        if value:
            options[key] = value
    try:
        return PairBenchConfig.model_validate(options)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from exc


def bench_pairs_command(
    pairs: Sequence[Path],
    traces: Sequence[Path],
    out: Path,
    *,
    seed: int,
    seeds: int,
    test_fraction: float,
    base_rtts_ms: Sequence[float] | None,
    embedding_cache: Path | None,
    embedders: Sequence[str] | None,
    edge_profile: str | None,
    cloud_profile: str | None,
) -> PairBenchReport:
    """``netgpt bench --pairs``: check the options and files, then :func:`run_pairs_command`.

    Raises:
        ValueError: A file is missing or an option is out of range (one line; exit code 2).
        BenchmarkDataError: A pair file is malformed.
        ImportError: A package the scorer or the tokenisers need is missing.
    """
    _, trace_files = resolve_inputs([], traces)
    for path in [*pairs, *trace_files]:
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
    if not trace_files:
        raise ValueError("no traces: pass --trace FILE (../shared/data/network-traces not found)")
    try:
        config = pairs_config(
            seed=seed,
            seeds=seeds,
            test_fraction=test_fraction,
            base_rtts_ms=base_rtts_ms,
            embedders=embedders,
            edge_profile=edge_profile,
            cloud_profile=cloud_profile,
        )
    except ValueError as exc:
        raise ValueError(f"bad option: {exc}") from exc
    return run_pairs_command(
        pairs, trace_files, out, config=config, embedding_cache=embedding_cache
    )
