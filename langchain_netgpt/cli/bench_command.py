"""``netgpt bench``: the replay benchmark (BFCL tasks x network traces), or a recorded model pair.

The options are declared and checked here; the work is in :mod:`langchain_netgpt.bench.command`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from langchain_netgpt.cli._common import fail

__all__ = ["HELP", "bench"]

HELP = (
    "Replay routing policies over BFCL tasks and network traces from recorded edge outcomes.\n\n"
    "Defaults: every BFCL file in ../shared/data/bfcl, every trace in "
    "../shared/data/network-traces, the committed SmolLM2-135M outcomes. Writes report.md, "
    "report.json and two Pareto PNGs to --out. --record (re)records the edge outcomes instead "
    "(resumable; on a GPU when one is present). --pairs FILE replays a recorded model pair "
    "(pair-outcome format) instead: text-aware scorer, RouteLLM peers, economics; writes "
    "pairs-report.md and pairs-report.json."
)

_Data = Annotated[list[Path] | None, typer.Option("--data", help="BFCL task file (repeatable).")]
_Trace = Annotated[
    list[Path] | None,
    typer.Option("--trace", help="Mahimahi trace file; X.down + X.up pair up (repeatable)."),
]
_Out = Annotated[Path, typer.Option(help="Output folder.")]
_EdgeOutcomes = Annotated[
    Path | None, typer.Option(help="Recorded edge outcomes (JSONL); default: the bundled one.")
]
_CloudOutcomes = Annotated[
    Path | None,
    typer.Option(help="Recorded cloud outcomes (same format) instead of simulated ones."),
]
_CloudAccuracy = Annotated[
    float, typer.Option(help="Accuracy of the simulated cloud (ground truth replay).")
]
_BaseRtt = Annotated[
    list[float] | None,
    typer.Option("--base-rtt-ms", help="Base RTT per trace, in order (repeatable)."),
]
_TestFraction = Annotated[float, typer.Option(help="Held-out share per category.")]
_EdgeSpeed = Annotated[
    str,
    typer.Option(
        help="Edge service time: gpu (recorded tokens on DEFAULT_EDGE, the GPU edge), cpu "
        "(recorded tokens on CPU_EDGE) or recorded (the recording's wall times)."
    ),
]
_Seed = Annotated[int, typer.Option(help="Seed of the split, arrivals and draws.")]
_Plots = Annotated[bool, typer.Option(help="Write the Pareto PNGs (needs matplotlib).")]
_Record = Annotated[
    bool, typer.Option("--record", help="Record the edge outcomes instead of replaying.")
]
_Device = Annotated[str, typer.Option(help="Device for --record: auto, cpu, cuda.")]
_Limit = Annotated[int | None, typer.Option(help="With --record: tasks per file (default all).")]
_Pairs = Annotated[
    list[Path] | None,
    typer.Option("--pairs", help="Pair-outcome file (repeatable): the model-pair benchmark."),
]
_PairSeeds = Annotated[int, typer.Option(help="With --pairs: splits seed .. seed+N-1.")]
_EmbeddingCache = Annotated[
    Path | None,
    typer.Option(help="With --pairs: MiniLM embedding cache (.npz), read and updated."),
]
_TextEmbedder = Annotated[
    list[str] | None,
    typer.Option("--text-embedder", help="With --pairs: minilm and/or hashed (default both)."),
]
_EdgeProfile = Annotated[str | None, typer.Option(help="With --pairs: edge speed profile name.")]
_CloudProfile = Annotated[
    str | None, typer.Option(help="With --pairs: cloud speed/price profile name.")
]


def bench(
    data: _Data = None,
    trace: _Trace = None,
    out: _Out = Path("bench-results"),
    edge_outcomes: _EdgeOutcomes = None,
    cloud_outcomes: _CloudOutcomes = None,
    cloud_accuracy: _CloudAccuracy = 0.9,
    base_rtt_ms: _BaseRtt = None,
    test_fraction: _TestFraction = 0.5,
    edge_speed: _EdgeSpeed = "gpu",
    seed: _Seed = 0,
    plots: _Plots = True,
    record: _Record = False,
    device: _Device = "auto",
    limit: _Limit = None,
    pairs: _Pairs = None,
    pair_seeds: _PairSeeds = 5,
    embedding_cache: _EmbeddingCache = None,
    text_embedder: _TextEmbedder = None,
    edge_profile: _EdgeProfile = None,
    cloud_profile: _CloudProfile = None,
) -> None:
    """Run the replay benchmark (or, with --record, refresh the recorded edge outcomes)."""
    from langchain_netgpt.errors import NetGPTError

    if pairs:
        from langchain_netgpt.bench.command import bench_pairs_command

        try:
            bench_pairs_command(
                pairs,
                trace or [],
                out,
                seed=seed,
                seeds=pair_seeds,
                test_fraction=test_fraction,
                base_rtts_ms=base_rtt_ms,
                embedding_cache=embedding_cache,
                embedders=text_embedder,
                edge_profile=edge_profile,
                cloud_profile=cloud_profile,
            )
        except (NetGPTError, ImportError, OSError) as exc:
            fail("bench", str(exc), code=1)
        except ValueError as exc:
            fail("bench", str(exc))
        return
    from langchain_netgpt.bench.command import resolve_inputs

    data_files, trace_files = resolve_inputs(data or [], trace or [])
    if not data_files:
        fail("bench", "no BFCL files: pass --data FILE (../shared/data/bfcl was not found)")
    for path in [*data_files, *trace_files, *([cloud_outcomes] if cloud_outcomes else [])]:
        if not path.is_file():
            fail("bench", f"file not found: {path}")
    if record:
        _record(data_files, edge_outcomes, device=device, limit=limit)
        return
    _replay(
        data_files,
        trace_files,
        out,
        edge_outcomes,
        cloud_outcomes=cloud_outcomes,
        edge_speed=edge_speed,
        plots=plots,
        config={"seed": seed, "cloud_accuracy": cloud_accuracy, "test_fraction": test_fraction}
        | ({"base_rtts_ms": base_rtt_ms} if base_rtt_ms else {}),
    )


def _record(
    data_files: list[Path], outcomes: Path | None, *, device: str, limit: int | None
) -> None:
    """``--record``: (re)record the edge outcomes of ``data_files`` into ``outcomes``."""
    from langchain_netgpt.bench.command import record_command
    from langchain_netgpt.bench.report import default_edge_outcomes
    from langchain_netgpt.errors import NetGPTError

    outcomes = outcomes or default_edge_outcomes()
    if limit is not None and limit < 1:
        fail("bench", f"--limit must be >= 1, got {limit}")
    try:
        rows = record_command(data_files, outcomes, device=device, limit=limit)
    except (NetGPTError, ImportError) as exc:
        fail("bench", str(exc), code=1)
    typer.echo(f"{outcomes}: {rows} recorded outcomes")


def _replay(
    data_files: list[Path],
    trace_files: list[Path],
    out: Path,
    outcomes: Path | None,
    *,
    cloud_outcomes: Path | None,
    edge_speed: str,
    plots: bool,
    config: dict[str, object],
) -> None:
    """The replay benchmark: check the remaining options, then run it."""
    from pydantic import ValidationError

    from langchain_netgpt.bench.command import run_bench_command
    from langchain_netgpt.bench.replay import EDGE_SPEEDS, BenchConfig
    from langchain_netgpt.bench.report import default_edge_outcomes
    from langchain_netgpt.errors import NetGPTError

    outcomes = outcomes or default_edge_outcomes()
    if not trace_files:
        fail("bench", "no traces: pass --trace FILE (../shared/data/network-traces not found)")
    if not outcomes.is_file():
        fail("bench", f"edge outcomes file not found: {outcomes} (record it with --record)")
    if edge_speed not in EDGE_SPEEDS:
        fail("bench", f"--edge-speed must be one of {', '.join(EDGE_SPEEDS)}, got {edge_speed!r}")
    try:
        bench_config = BenchConfig.model_validate(
            {**config, "edge_profile": EDGE_SPEEDS[edge_speed]}
        )
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail("bench", f"bad option: {errors}")
    try:
        run_bench_command(
            data_files,
            trace_files,
            out,
            outcomes,
            config=bench_config,
            cloud_outcomes=cloud_outcomes,
            plots=plots,
        )
    except (NetGPTError, ImportError) as exc:
        fail("bench", str(exc), code=1)
