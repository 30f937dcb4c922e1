"""The ``netgpt`` command line.

A thin layer over the library: each command validates its options (bad input exits non-zero with a
one-line reason on stderr), then calls the package. Importing this module is cheap: the commands
import what they need (fastapi, uvicorn, the edge model) when they run.

Commands: ``demo`` (the main job: a routed agent under a degrading network), ``serve``
(the OpenAI-compatible stand-in cloud behind an emulated WAN) and ``export`` (routed runs read
back from LangSmith into trace files).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from langchain_netgpt.export import ExportSummary, LangSmithExportSummary

__all__ = ["app"]

app = typer.Typer(
    name="netgpt",
    help="Network-aware edge/cloud routing for LangChain tool-calling agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(command: str, reason: str, code: int = 2) -> NoReturn:
    """Exit with ``code`` after printing ``netgpt <command>: error: <reason>`` on one line."""
    one_line = " ".join(reason.split())
    typer.echo(f"netgpt {command}: error: {one_line}", err=True)
    raise typer.Exit(code)


@app.callback()
def _main() -> None:
    """Network-aware edge/cloud routing for LangChain tool-calling agents."""


# --------------------------------------------------------------------------------------- serve


def _load_model(spec: str, device: str) -> BaseChatModel:
    """The model named by ``--model``: ``bundled`` or a local HuggingFace folder / GGUF file."""
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    if spec == "bundled":
        model = HuggingFaceEdgeModel.from_bundled(device=device)
    else:
        model = HuggingFaceEdgeModel.from_pretrained(spec, device=device)
    model.load()  # fail now, not on the first request
    return model


_SERVE_HELP = (
    "Serve a model as an OpenAI-compatible API (/v1/chat/completions) behind an emulated WAN.\n\n"
    "A stand-in for a real cloud endpoint: point ChatOpenAI (or NETGPT_CLOUD_BASE_URL) at "
    "http://HOST:PORT/v1. Each request waits RTT/2 plus its upload time and each response RTT/2 "
    "plus its download time, at a fixed bandwidth (--bandwidth-mbps) or replayed from a mahimahi "
    "trace (--trace, --trace-up)."
)


@app.command(help=_SERVE_HELP)
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8000,
    model: Annotated[
        str,
        typer.Option(help="'bundled' (SmolLM2-135M-Instruct) or a local HuggingFace model path."),
    ] = "bundled",
    model_name: Annotated[
        str | None,
        typer.Option(help="Name the server reports (default: netgpt-bundled or the folder name)."),
    ] = None,
    device: Annotated[str, typer.Option(help="'auto', 'cpu', 'cuda' or 'cuda:<index>'.")] = "auto",
    rtt_ms: Annotated[float, typer.Option(help="Emulated round-trip time, ms.")] = 0.0,
    bandwidth_mbps: Annotated[
        float | None, typer.Option(help="Emulated symmetric bandwidth, Mbit/s (default: no limit).")
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="Mahimahi trace for the downlink (and the uplink unless --trace-up)."),
    ] = None,
    trace_up: Annotated[Path | None, typer.Option(help="Mahimahi trace for the uplink.")] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Most model calls in flight at once (default: no limit).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="NETGPT_SERVE_API_KEY",
            help="Require 'Authorization: Bearer KEY' on every request but /health.",
            show_default=False,
        ),
    ] = None,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            help="Host header name to accept (repeat; '*' for any). Default: the loopback "
            "names when bound to loopback, any otherwise.",
        ),
    ] = None,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, MB.")] = 10.0,
) -> None:
    """Serve a model as an OpenAI-compatible API behind an emulated WAN (see ``_SERVE_HELP``)."""
    from pydantic import ValidationError

    from langchain_netgpt.errors import NetGPTError

    if not 0 <= port <= 65535:
        _fail("serve", f"--port must be in [0, 65535], got {port}")
    if max_concurrency is not None and max_concurrency < 1:
        _fail("serve", f"--max-concurrency must be >= 1, got {max_concurrency}")
    if not max_body_mb * 1_000_000 >= 1024:
        _fail("serve", f"--max-body-mb must be at least 0.001 (1024 bytes), got {max_body_mb}")
    for flag, path in (("--trace", trace), ("--trace-up", trace_up)):
        if path is not None and not path.is_file():
            _fail("serve", f"{flag} {path} is not a file")
    if model != "bundled" and not Path(model).exists():
        _fail(
            "serve",
            f"--model must be 'bundled' or an existing local model path; {model!r} does not exist",
        )
    from langchain_netgpt.cloud.local import serve as serve_app
    from langchain_netgpt.cloud.security import ServeSecurity
    from langchain_netgpt.cloud.wan import WanEmulator, WanProfile
    from langchain_netgpt.edge.bundled import validate_device

    try:
        security = ServeSecurity(
            api_key=api_key,
            allowed_hosts=tuple(allowed_hosts) if allowed_hosts else None,
            max_body_bytes=int(max_body_mb * 1_000_000),
        )
        validate_device(device)
        profile = WanProfile(
            rtt_ms=rtt_ms, bandwidth_mbps=bandwidth_mbps, trace_down=trace, trace_up=trace_up
        )
        emulator = None if profile.is_ideal else WanEmulator(profile)
    except ValidationError as exc:
        problem = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in problem["loc"])
        option = f"--{where.replace('_', '-')}: " if where else ""
        _fail("serve", f"{option}{problem['msg'].removeprefix('Value error, ')}")
    except NetGPTError as exc:
        _fail("serve", str(exc))
    name = model_name or ("netgpt-bundled" if model == "bundled" else Path(model).resolve().name)
    try:
        loaded = _load_model(model, device)
    except NetGPTError as exc:
        _fail("serve", f"cannot load model {model!r}: {exc}", code=1)
    except (OSError, ValueError) as exc:
        _fail("serve", f"cannot load model {model!r}: {type(exc).__name__}: {exc}", code=1)
    typer.echo(
        f"netgpt serve: {name} on http://{host}:{port}/v1 "
        f"(rtt {rtt_ms:g} ms, "
        + (
            f"trace {trace.name}"
            if trace
            else f"{bandwidth_mbps:g} Mbit/s"
            if bandwidth_mbps
            else "unlimited bandwidth"
        )
        + ("; API key required" if security.api_key else "; no API key")
        + ")",
        err=True,
    )
    try:
        serve_app(
            loaded,
            model_name=name,
            host=host,
            port=port,
            wan=emulator,
            max_concurrency=max_concurrency,
            log_level=log_level,
            security=security,
        )
    except NetGPTError as exc:
        _fail("serve", str(exc), code=1)


# --------------------------------------------------------------------------------------- demo


@app.command("demo")
def demo(
    out: Annotated[
        Path | None,
        typer.Option(help="Trace file to write (JSONL); default netgpt-runs/demo-<time>.jsonl."),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="Mahimahi downlink trace to replay instead of the scripted degradation."),
    ] = None,
    trace_up: Annotated[
        Path | None, typer.Option(help="Matching uplink trace (default: --trace).")
    ] = None,
    rtt_ms: Annotated[float, typer.Option(help="Base RTT of the scenario, ms.")] = 40.0,
    tasks: Annotated[int, typer.Option(help="How many of the scripted tasks to run (1-8).")] = 8,
    device: Annotated[str, typer.Option(help="Edge model device: auto, cpu, cuda.")] = "auto",
) -> None:
    """Run a LangGraph agent with real tools, routed edge/cloud while the network degrades.

    Without OPENAI_API_KEY the cloud is a loopback stand-in serving the same 135M model behind an
    emulated WAN: the demo shows routing, the network and the traces, not cloud quality.
    """
    from langchain_netgpt.demo.console import run_demo_command
    from langchain_netgpt.errors import NetGPTError

    for path in (trace, trace_up):
        if path is not None and not path.is_file():
            _fail("demo", f"trace file not found: {path}")
    if not 1 <= tasks <= 8:
        _fail("demo", f"--tasks must be between 1 and 8, got {tasks}")
    if not (rtt_ms >= 0 and rtt_ms < 60_000):
        _fail("demo", f"--rtt-ms must be in [0, 60000), got {rtt_ms}")
    try:
        run_demo_command(
            out=out, trace=trace, trace_up=trace_up, rtt_ms=rtt_ms, tasks=tasks, device=device
        )
    except NetGPTError as exc:
        _fail("demo", str(exc), code=1)


# -------------------------------------------------------------------------------------- bench

_BENCH_HELP = (
    "Replay routing policies over BFCL tasks and network traces from recorded edge outcomes.\n\n"
    "Defaults: every BFCL file in ../shared/data/bfcl, every trace in "
    "../shared/data/network-traces, the committed SmolLM2-135M outcomes. Writes report.md, "
    "report.json and two Pareto PNGs to --out. --record (re)records the edge outcomes instead "
    "(resumable; on a GPU when one is present). --pairs FILE replays a recorded model pair "
    "(pair-outcome format) instead: text-aware scorer, RouteLLM peers, economics; writes "
    "pairs-report.md and pairs-report.json."
)


@app.command("bench", help=_BENCH_HELP)
def bench(
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="BFCL task file (repeatable).")
    ] = None,
    trace: Annotated[
        list[Path] | None,
        typer.Option("--trace", help="Mahimahi trace file; X.down + X.up pair up (repeatable)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("bench-results"),
    edge_outcomes: Annotated[
        Path | None, typer.Option(help="Recorded edge outcomes (JSONL); default: the bundled one.")
    ] = None,
    cloud_outcomes: Annotated[
        Path | None,
        typer.Option(help="Recorded cloud outcomes (same format) instead of simulated ones."),
    ] = None,
    cloud_accuracy: Annotated[
        float, typer.Option(help="Accuracy of the simulated cloud (ground truth replay).")
    ] = 0.9,
    base_rtt_ms: Annotated[
        list[float] | None,
        typer.Option("--base-rtt-ms", help="Base RTT per trace, in order (repeatable)."),
    ] = None,
    test_fraction: Annotated[float, typer.Option(help="Held-out share per category.")] = 0.5,
    edge_speed: Annotated[
        str,
        typer.Option(
            help="Edge service time: gpu (recorded tokens on DEFAULT_EDGE, the GPU edge), cpu "
            "(recorded tokens on CPU_EDGE) or recorded (the recording's wall times)."
        ),
    ] = "gpu",
    seed: Annotated[int, typer.Option(help="Seed of the split, arrivals and draws.")] = 0,
    plots: Annotated[bool, typer.Option(help="Write the Pareto PNGs (needs matplotlib).")] = True,
    record: Annotated[
        bool, typer.Option("--record", help="Record the edge outcomes instead of replaying.")
    ] = False,
    device: Annotated[str, typer.Option(help="Device for --record: auto, cpu, cuda.")] = "auto",
    limit: Annotated[
        int | None, typer.Option(help="With --record: tasks per file (default all).")
    ] = None,
    pairs: Annotated[
        list[Path] | None,
        typer.Option("--pairs", help="Pair-outcome file (repeatable): the model-pair benchmark."),
    ] = None,
    pair_seeds: Annotated[int, typer.Option(help="With --pairs: splits seed .. seed+N-1.")] = 5,
    embedding_cache: Annotated[
        Path | None,
        typer.Option(help="With --pairs: MiniLM embedding cache (.npz), read and updated."),
    ] = None,
    text_embedder: Annotated[
        list[str] | None,
        typer.Option("--text-embedder", help="With --pairs: minilm and/or hashed (default both)."),
    ] = None,
    edge_profile: Annotated[
        str | None, typer.Option(help="With --pairs: edge speed profile name.")
    ] = None,
    cloud_profile: Annotated[
        str | None, typer.Option(help="With --pairs: cloud speed/price profile name.")
    ] = None,
) -> None:
    """Run the replay benchmark (or, with --record, refresh the recorded edge outcomes)."""
    from pydantic import ValidationError

    if pairs:
        from langchain_netgpt.bench.command import bench_pairs_command
        from langchain_netgpt.errors import NetGPTError

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
            _fail("bench", str(exc), code=1)
        except ValueError as exc:
            _fail("bench", str(exc))
        return

    from langchain_netgpt.bench.command import record_command, resolve_inputs, run_bench_command
    from langchain_netgpt.bench.replay import EDGE_SPEEDS, BenchConfig
    from langchain_netgpt.bench.report import default_edge_outcomes
    from langchain_netgpt.errors import NetGPTError

    data_files, trace_files = resolve_inputs(data or [], trace or [])
    if not data_files:
        _fail("bench", "no BFCL files: pass --data FILE (../shared/data/bfcl was not found)")
    for path in [*data_files, *trace_files, *([cloud_outcomes] if cloud_outcomes else [])]:
        if not path.is_file():
            _fail("bench", f"file not found: {path}")
    outcomes = edge_outcomes or default_edge_outcomes()
    if record:
        if limit is not None and limit < 1:
            _fail("bench", f"--limit must be >= 1, got {limit}")
        try:
            rows = record_command(data_files, outcomes, device=device, limit=limit)
        except (NetGPTError, ImportError) as exc:
            _fail("bench", str(exc), code=1)
        typer.echo(f"{outcomes}: {rows} recorded outcomes")
        return
    if not trace_files:
        _fail("bench", "no traces: pass --trace FILE (../shared/data/network-traces not found)")
    if not outcomes.is_file():
        _fail("bench", f"edge outcomes file not found: {outcomes} (record it with --record)")
    if edge_speed not in EDGE_SPEEDS:
        _fail("bench", f"--edge-speed must be one of {', '.join(EDGE_SPEEDS)}, got {edge_speed!r}")
    try:
        config = BenchConfig(
            seed=seed,
            cloud_accuracy=cloud_accuracy,
            test_fraction=test_fraction,
            edge_profile=EDGE_SPEEDS[edge_speed],
            **({"base_rtts_ms": base_rtt_ms} if base_rtt_ms else {}),
        )
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail("bench", f"bad option: {errors}")
    try:
        run_bench_command(
            data_files,
            trace_files,
            out,
            outcomes,
            config=config,
            cloud_outcomes=cloud_outcomes,
            plots=plots,
        )
    except (NetGPTError, ImportError) as exc:
        _fail("bench", str(exc), code=1)


# ------------------------------------------------------------------------------------- export

_HOSTED_LANGSMITH = "https://api.smith.langchain.com"


@app.command("export")
def export(
    from_langsmith: Annotated[
        str | None,
        typer.Option(
            "--from-langsmith",
            metavar="PROJECT",
            help="LangSmith project whose routed runs (tagged netgpt:edge / netgpt:cloud) to read.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(metavar="FILE.jsonl", help="Trace file to write (JSONL).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Most runs to export (default: all).")] = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add to an existing --out file instead of refusing.")
    ] = False,
    endpoint: Annotated[
        str,
        typer.Option(
            envvar=["LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"],
            help="LangSmith API URL.",
        ),
    ] = _HOSTED_LANGSMITH,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"],
            show_default=False,
            help="LangSmith API key (prefer the LANGSMITH_API_KEY variable to the option).",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            metavar="PATH|URL",
            help="TraceStore to build a dataset from: an SQLite file or a postgresql:// URL.",
        ),
    ] = None,
    traces: Annotated[
        Path | None,
        typer.Option(metavar="FILE.jsonl", help="JSONL trace file to build a dataset from."),
    ] = None,
    kind: Annotated[
        str, typer.Option(help="Dataset to build: router, sft, preferences or grpo.")
    ] = "router",
    format: Annotated[
        str, typer.Option("--format", help="jsonl, parquet or hf (Dataset.save_to_disk folder).")
    ] = "parquet",
    since: Annotated[
        str | None, typer.Option(help="Only traces created at/after (ISO 8601 or Unix seconds).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only traces created before (ISO 8601 or Unix seconds).")
    ] = None,
    route: Annotated[
        str | None, typer.Option(help="Only steps answered by this target (edge, cloud).")
    ] = None,
    session: Annotated[str | None, typer.Option(help="Only steps of this session id.")] = None,
    valid_only: Annotated[
        bool, typer.Option("--valid-only", help="Only steps whose tool calls were valid.")
    ] = False,
    value_usd: Annotated[
        float | None, typer.Option(help="Router reward: value of a correct step, USD.")
    ] = None,
    lambda_t: Annotated[
        float | None, typer.Option(help="Router reward: USD per second of latency.")
    ] = None,
    lambda_c: Annotated[
        float | None, typer.Option(help="Router reward: weight of one cloud dollar.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")
    ] = False,
) -> None:
    """Export routed steps: LangSmith runs to traces, or traces to training datasets.

    With --from-langsmith PROJECT: each routed model run becomes one RouteTrace line in --out;
    fields LangSmith does not hold (features, expected latencies, prices, bytes) stay at their
    defaults. With --store PATH or --traces FILE.jsonl: build a --kind dataset (router bandit
    data, SFT, DPO preference pairs, GRPO prompts) as JSONL, Parquet or an HF dataset folder.
    Secrets (API keys, Authorization headers, values of *_KEY / *_TOKEN variables) are scrubbed
    before writing.
    """
    sources = [s for s in (from_langsmith, store, traces) if s is not None]
    if len(sources) > 1:
        _fail("export", "give one source: --from-langsmith, --store or --traces")
    if store is not None or traces is not None:
        _export_dataset_command(
            source=_store_source(store) if store is not None else traces,  # type: ignore[arg-type]
            out=out,
            kind=kind,
            format=format,
            limit=limit,
            filters={"since": since, "until": until, "route": route, "session_id": session},
            valid_only=valid_only,
            reward={"value_usd": value_usd, "lambda_t": lambda_t, "lambda_c": lambda_c},
            overwrite=overwrite,
        )
        return
    if from_langsmith is None or not from_langsmith.strip():
        _fail("export", "a source is required: --from-langsmith PROJECT, --store or --traces")
    if out is None:
        _fail("export", "--out FILE.jsonl is required")
    if limit is not None and limit < 1:
        _fail("export", f"--limit must be >= 1, got {limit}")
    if out.is_dir():
        _fail("export", f"--out {out} is a folder, not a file")
    if out.exists() and out.stat().st_size > 0 and not append:
        _fail("export", f"--out {out} already exists; pass --append to add to it")
    if not endpoint.startswith(("http://", "https://")):
        _fail("export", f"--endpoint must be an http:// or https:// URL, got {endpoint!r}")
    if api_key is None and endpoint.rstrip("/") == _HOSTED_LANGSMITH:
        _fail("export", f"no API key for {endpoint}: set LANGSMITH_API_KEY")
    summary = _export_langsmith(from_langsmith, out, limit=limit, endpoint=endpoint, key=api_key)
    _print_export_summary(summary)


def _store_source(store: str) -> str | Path:
    """A ``--store`` value: a ``postgresql://`` URL stays a string, anything else is a path."""
    from langchain_netgpt._postgres import is_postgres_url

    return store if is_postgres_url(store) else Path(store)


def _export_dataset_command(
    *,
    source: str | Path,
    out: Path | None,
    kind: str,
    format: str,
    limit: int | None,
    filters: dict[str, str | None],
    valid_only: bool,
    reward: dict[str, float | None],
    overwrite: bool,
) -> None:
    """``netgpt export --store/--traces``: validate, then stream the dataset with a progress bar."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from langchain_netgpt.errors import NetGPTError
    from langchain_netgpt.export import (
        EXPORT_FORMATS,
        RewardParams,
        TraceFilter,
        parse_time,
        read_traces,
    )
    from langchain_netgpt.export.kinds import DATASET_KINDS, export_dataset

    if kind not in DATASET_KINDS:
        _fail("export", f"--kind must be one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    if format not in EXPORT_FORMATS:
        _fail("export", f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    if out is None:
        _fail("export", "--out is required (a file, or a folder for --format hf)")
    if isinstance(source, Path) and not source.is_file():
        _fail("export", f"trace source {source} is not a file")
    if out.exists() and not overwrite:
        _fail("export", f"--out {out} already exists; pass --overwrite to replace it")
    if limit is not None and limit < 1:
        _fail("export", f"--limit must be >= 1, got {limit}")
    given = {name: value for name, value in reward.items() if value is not None}
    if given and kind != "router":
        _fail("export", f"--value-usd/--lambda-t/--lambda-c apply to --kind router, not {kind}")
    try:
        times = {
            name: parse_time(value)
            for name, value in filters.items()
            if name in ("since", "until") and value is not None
        }
        where = TraceFilter(
            route=filters["route"],
            session_id=filters["session_id"],
            valid=True if valid_only else None,
            limit=limit,
            **times,
        )
        params = RewardParams(**given) if kind == "router" else None
    except ValidationError as exc:
        problem = exc.errors(include_url=False, include_input=False)[0]
        where_ = ".".join(str(part) for part in problem["loc"])
        _fail("export", f"--{where_.replace('_', '-')}: {problem['msg']}")
    except ValueError as exc:
        _fail("export", str(exc))
    total = None
    if not isinstance(source, Path) or source.suffix != ".jsonl":
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
            _fail("export", str(exc), code=1)
        total = min(total, limit) if limit is not None else total
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    try:
        with progress:
            name = source.name if isinstance(source, Path) else "the store"
            task = progress.add_task(f"{kind} from {name}", total=total)
            summary = export_dataset(
                kind,  # type: ignore[arg-type]
                read_traces(source, where, router_fields=kind == "router"),
                out,
                format=format,  # type: ignore[arg-type]
                params=params,
                overwrite=overwrite,
                on_trace=lambda _trace: progress.advance(task),
            )
    except (NetGPTError, OSError, ValueError) as exc:
        _fail("export", f"{type(exc).__name__}: {exc}", code=1)
    _print_dataset_summary(summary)


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


def _export_langsmith(
    project: str, out: Path, *, limit: int | None, endpoint: str, key: str | None
) -> LangSmithExportSummary:
    """Run the export with a progress bar on stderr; exit 1 with one line if LangSmith fails."""
    from langsmith import Client
    from langsmith.utils import (
        LangSmithAuthError,
        LangSmithConnectionError,
        LangSmithError,
        LangSmithNotFoundError,
    )
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from langchain_netgpt.export import (
        SecretScrubber,
        export_langsmith_routes,
        routes_from_langsmith,
    )

    scrubber = SecretScrubber.from_environ(extra=[key] if key else [])
    client = Client(api_url=endpoint, api_key=key, auto_batch_tracing=False)
    console = Console(stderr=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # no bar (and no stray blank line) in pipes and logs
    )
    try:
        with progress:
            task = progress.add_task(f"reading {project}", total=limit)
            return export_langsmith_routes(
                routes_from_langsmith(client, project, limit=limit, scrubber=scrubber),
                out,
                on_trace=lambda _trace: progress.advance(task),
            )
    except LangSmithNotFoundError:
        _fail("export", f"LangSmith project {project!r} not found at {endpoint}", code=1)
    except LangSmithConnectionError:
        _fail("export", f"cannot reach LangSmith at {endpoint} (connection failed)", code=1)
    except LangSmithAuthError:
        _fail("export", f"LangSmith at {endpoint} refused the API key", code=1)
    except LangSmithError as exc:
        first = scrubber.scrub_text(str(exc)).splitlines()[0][:300] if str(exc) else ""
        _fail("export", f"LangSmith request failed: {type(exc).__name__}: {first}", code=1)
    except (OSError, ValueError) as exc:
        _fail("export", f"{type(exc).__name__}: {scrubber.scrub_text(str(exc))}", code=1)
    finally:
        client.close()


def _print_export_summary(summary: LangSmithExportSummary) -> None:
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


# ------------------------------------------------------------------------------------- routes


@app.command("routes")
def routes(
    source: Annotated[
        str,
        typer.Argument(metavar="SOURCE", help="TraceStore (path or postgresql:// URL) or JSONL."),
    ],
    by: Annotated[str, typer.Option(help="Group per session, window or all.")] = "session",
    window: Annotated[
        str, typer.Option(help="Window length for --by window (15m, 1h, 1d).")
    ] = "1h",
    session: Annotated[str | None, typer.Option(help="Only this session id.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only steps at/after (ISO 8601 or Unix s).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only steps before (ISO 8601 or Unix s).")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="NetGPTPolicy JSON that routed (for the tau breakdown).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the timeline plot here (PNG).")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON.")
    ] = None,
) -> None:
    """Where steps went and why: routes, tau terms, latency and dollars vs all-cloud, a timeline."""
    from langchain_netgpt.errors import NetGPTError
    from langchain_netgpt.observe.command import run_routes

    try:
        run_routes(source, by=by, window=window, session=session, since=since, until=until,
                   policy=policy, plot=plot, json_out=json_out)  # fmt: skip
    except (NetGPTError, OSError, ValueError) as exc:
        _fail("routes", f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else str(exc))


# ------------------------------------------------------------------------------ finetune-edge


@app.command("finetune-edge")
def finetune_edge_command(
    data: Annotated[
        Path, typer.Option(help="Exported SFT/GRPO rows: .jsonl, .parquet or a datasets folder.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the LoRA adapter and its manifest.")],
    method: Annotated[
        str, typer.Option(help="sft (cloud answers) or grpo (edge rewards).")
    ] = "sft",
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 100,
    model: Annotated[
        str, typer.Option(help="'bundled' (SmolLM2-135M-Instruct) or a local model folder.")
    ] = "bundled",
    kl_beta: Annotated[float, typer.Option(help="KL penalty towards the frozen base.")] = 0.0,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Examples (GRPO: completions) per step.")] = 4,
    max_length: Annotated[int, typer.Option(help="Longest prompt+completion (tokens).")] = 1024,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    num_generations: Annotated[int, typer.Option(help="GRPO completions per prompt.")] = 4,
    max_completion_length: Annotated[int, typer.Option(help="GRPO generation budget.")] = 96,
    max_examples: Annotated[int | None, typer.Option(help="Use only the first N rows.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "auto",
) -> None:
    """Fine-tune the edge model with LoRA (TRL) on exported traces; save the adapter.

    Serve the result with HuggingFaceEdgeModel.from_bundled(adapter_path=OUT).
    """
    from pydantic import ValidationError

    from langchain_netgpt.errors import NetGPTError
    from langchain_netgpt.learn.edge import EdgeFinetuneConfig, finetune_edge

    try:
        config = EdgeFinetuneConfig(
            base_model=model,
            data_path=data,
            output_dir=out,
            method=method,
            steps=steps,
            kl_beta=kl_beta,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_length=max_length,
            lora_r=lora_r,
            num_generations=num_generations,
            max_completion_length=max_completion_length,
            max_examples=max_examples,
            seed=seed,
            device=device,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "options"
        _fail("finetune-edge", f"{where}: {error['msg']} (got {error.get('input')!r})")
    try:
        result = finetune_edge(config, show_progress=True)
    except NetGPTError as exc:
        _fail("finetune-edge", str(exc), code=1)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"netgpt finetune-edge ({result.method})")
    for column in ("steps", "examples", "first loss", "last loss", "seconds", "adapter"):
        table.add_column(column, justify="left" if column == "adapter" else "right")
    first = f"{result.mean_loss(first=True):.4f}" if result.losses else "-"
    last = f"{result.mean_loss(first=False):.4f}" if result.losses else "-"
    table.add_row(
        str(result.steps),
        f"{result.examples} ({result.skipped} skipped)",
        first,
        last,
        f"{result.seconds:.1f}",
        str(result.adapter_path),
    )
    Console().print(table)


# ------------------------------------------------------------------------------- train-router


@app.command("train-router")
def train_router_command(
    out: Annotated[
        Path,
        typer.Option(metavar="POLICY.json", help="Policy (with --pairs: scorer) file to write."),
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            metavar="ROUTER_DATA", help="Router data from export (.jsonl, .parquet or a folder)."
        ),
    ] = None,
    pairs: Annotated[
        list[Path] | None,
        typer.Option(
            "--pairs", help="Instead of --data: fit the text-aware scorer on pair outcomes."
        ),
    ] = None,
    text_embedder: Annotated[
        list[str] | None,
        typer.Option("--text-embedder", help="With --pairs: minilm and/or hashed."),
    ] = None,
    estimator: Annotated[str, typer.Option(help="Headline estimator: dr, ips or snips.")] = "dr",
    seed: Annotated[int, typer.Option(help="Seed of the split, the fit and the bootstrap.")] = 0,
    test_fraction: Annotated[
        float, typer.Option(help="Share of steps held out for the estimates, in (0, 1).")
    ] = 0.3,
) -> None:
    """Learn the router (scorer + network-dependent threshold) from logged steps.

    Fits on a training split, then estimates on the held-out split (IPS, SNIPS, doubly robust,
    95% bootstrap intervals) the value of the learned policy, of the logging policy's rule and
    the logging policy's own mean reward. Load the result with
    langchain_netgpt.learn.load_policy / load_policy_scorer.
    """
    if estimator not in ("dr", "ips", "snips"):
        _fail("train-router", f"--estimator must be dr, ips or snips, got {estimator!r}")
    if not 0 < test_fraction < 1:
        _fail("train-router", f"--test-fraction must lie in (0, 1), got {test_fraction}")
    if pairs:
        from langchain_netgpt.errors import NetGPTError
        from langchain_netgpt.learn.text_scorer_fitting import train_text_scorer_command

        try:
            train_text_scorer_command(pairs, out, text_embedder, seed, test_fraction)
        except (NetGPTError, ImportError, OSError) as exc:
            _fail("train-router", str(exc), code=1)
        except ValueError as exc:
            _fail("train-router", str(exc))
        return
    if data is None:
        _fail("train-router", "pass --data ROUTER_DATA (or --pairs FILE for the text scorer)")
    if not data.exists():
        _fail("train-router", f"--data {data} does not exist")
    if out.is_dir():
        _fail("train-router", f"--out {out} is a folder, not a file")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from langchain_netgpt.errors import NetGPTError
    from langchain_netgpt.learn.router_fitting import train_router

    with Progress(
        TextColumn("fitting the threshold"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("fit", total=None)
        try:
            fit = train_router(
                data,
                out,
                estimator=estimator,  # type: ignore[arg-type]
                seed=seed,
                test_fraction=test_fraction,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except (ValueError, NetGPTError, OSError) as exc:
            _fail("train-router", str(exc), code=1)
    table = Table(title=f"netgpt train-router: held-out value per step (USD), n={fit.n_test}")
    for column in ("policy", "estimator", "value", "95% CI", "n"):
        table.add_column(column, justify="left" if column in ("policy", "estimator") else "right")
    for policy, est in fit.estimates:
        table.add_row(
            policy,
            est.estimator,
            f"{est.value:.6f}",
            f"[{est.ci_low:.6f}, {est.ci_high:.6f}]",
            str(est.n),
        )
    console = Console()
    console.print(table)
    taus = ", ".join(f"{tau:.2f} @ {rtt:.0f} ms" for rtt, tau in fit.tau_by_rtt)
    console.print(f"learned threshold by RTT: {taus}")
    for note in fit.notes:
        console.print(f"note: {note}")
    console.print(f"policy written to {out}")
