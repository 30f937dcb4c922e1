"""``netgpt export``: traces to training datasets, or routed runs read back from LangSmith.

One command, two pipelines, chosen by the source option: ``--store`` / ``--traces`` build a
dataset (:func:`langchain_netgpt.export.command.export_dataset_command`), ``--from-langsmith``
reads runs back into a trace file
(:func:`~langchain_netgpt.export.command.export_langsmith_command`). Each option belongs to one
pipeline, and ``--help`` shows them in one panel per pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from langchain_netgpt.cli._common import fail, first_option_error
from langchain_netgpt.export.command import HOSTED_LANGSMITH
from langchain_netgpt.export.kinds import DATASET_KIND_SPECS
from langchain_netgpt.export.writers import EXPORT_FORMAT_SPECS

__all__ = ["export"]

_DATASET = "Dataset from traces (--store / --traces)"
_LANGSMITH = "Runs read back from LangSmith (--from-langsmith)"
_BOTH = "Output"

_KINDS = "; ".join(f"{name} ({spec.description})" for name, spec in DATASET_KIND_SPECS.items())
_FORMATS = "; ".join(f"{name} ({spec.description})" for name, spec in EXPORT_FORMAT_SPECS.items())

_FromLangsmith = Annotated[
    str | None,
    typer.Option(
        "--from-langsmith",
        metavar="PROJECT",
        help="LangSmith project whose routed runs (tagged netgpt:edge / netgpt:cloud) to read.",
        rich_help_panel=_LANGSMITH,
    ),
]
_Out = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE.jsonl",
        help="Trace file (LangSmith) or dataset (a file, or a folder for --format hf) to write.",
        rich_help_panel=_BOTH,
    ),
]
_Limit = Annotated[
    int | None,
    typer.Option(help="Most runs / traces to export (default: all).", rich_help_panel=_BOTH),
]
_Append = Annotated[
    bool,
    typer.Option(
        "--append",
        help="Add to an existing --out file instead of refusing.",
        rich_help_panel=_LANGSMITH,
    ),
]
_Endpoint = Annotated[
    str,
    typer.Option(
        envvar=["LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"],
        help="LangSmith API URL.",
        rich_help_panel=_LANGSMITH,
    ),
]
_ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar=["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"],
        show_default=False,
        help="LangSmith API key (prefer the LANGSMITH_API_KEY variable to the option).",
        rich_help_panel=_LANGSMITH,
    ),
]
_Store = Annotated[
    str | None,
    typer.Option(
        metavar="PATH|URL",
        help="TraceStore to build a dataset from: an SQLite file or a postgresql:// URL.",
        rich_help_panel=_DATASET,
    ),
]
_Traces = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE.jsonl",
        help="JSONL trace file to build a dataset from.",
        rich_help_panel=_DATASET,
    ),
]
_Kind = Annotated[str, typer.Option(help=f"Dataset to build: {_KINDS}.", rich_help_panel=_DATASET)]
_Format = Annotated[str, typer.Option("--format", help=f"{_FORMATS}.", rich_help_panel=_DATASET)]
_Since = Annotated[
    str | None,
    typer.Option(
        help="Only traces created at/after (ISO 8601 or Unix seconds).", rich_help_panel=_DATASET
    ),
]
_Until = Annotated[
    str | None,
    typer.Option(
        help="Only traces created before (ISO 8601 or Unix seconds).", rich_help_panel=_DATASET
    ),
]
_Route = Annotated[
    str | None,
    typer.Option(
        help="Only steps answered by this target (edge, cloud).", rich_help_panel=_DATASET
    ),
]
_Session = Annotated[
    str | None, typer.Option(help="Only steps of this session id.", rich_help_panel=_DATASET)
]
_ValidOnly = Annotated[
    bool,
    typer.Option(
        "--valid-only", help="Only steps whose tool calls were valid.", rich_help_panel=_DATASET
    ),
]
_ValueUsd = Annotated[
    float | None,
    typer.Option(help="Router reward: value of a correct step, USD.", rich_help_panel=_DATASET),
]
_LambdaT = Annotated[
    float | None,
    typer.Option(help="Router reward: USD per second of latency.", rich_help_panel=_DATASET),
]
_LambdaC = Annotated[
    float | None,
    typer.Option(help="Router reward: weight of one cloud dollar.", rich_help_panel=_DATASET),
]
_Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace an existing dataset at --out.", rich_help_panel=_DATASET
    ),
]


def export(
    out: _Out = None,
    limit: _Limit = None,
    from_langsmith: _FromLangsmith = None,
    append: _Append = False,
    endpoint: _Endpoint = HOSTED_LANGSMITH,
    api_key: _ApiKey = None,
    store: _Store = None,
    traces: _Traces = None,
    kind: _Kind = "router",
    format: _Format = "parquet",
    since: _Since = None,
    until: _Until = None,
    route: _Route = None,
    session: _Session = None,
    valid_only: _ValidOnly = False,
    value_usd: _ValueUsd = None,
    lambda_t: _LambdaT = None,
    lambda_c: _LambdaC = None,
    overwrite: _Overwrite = False,
) -> None:
    """Export routed steps: LangSmith runs to traces, or traces to training datasets.

    With --from-langsmith PROJECT: each routed model run becomes one RouteTrace line in --out;
    fields LangSmith does not hold (features, expected latencies, prices, bytes) stay at their
    defaults. With --store PATH or --traces FILE.jsonl: build a --kind dataset (router bandit
    data, SFT, DPO preference pairs, GRPO prompts) as JSONL, Parquet or an HF dataset folder.
    Secrets (API keys, Authorization headers, values of *_KEY / *_TOKEN variables) are scrubbed
    before writing.
    """
    from pydantic import ValidationError

    from langchain_netgpt.export.command import (
        ExportCommandError,
        export_dataset_command,
        export_langsmith_command,
        store_source,
    )

    if len([s for s in (from_langsmith, store, traces) if s is not None]) > 1:
        fail("export", "give one source: --from-langsmith, --store or --traces")
    try:
        if store is not None or traces is not None:
            export_dataset_command(
                store_source(store) if store is not None else traces,  # type: ignore[arg-type]
                out,
                kind=kind,
                format=format,
                limit=limit,
                filters={"since": since, "until": until, "route": route, "session_id": session},
                valid_only=valid_only,
                reward={"value_usd": value_usd, "lambda_t": lambda_t, "lambda_c": lambda_c},
                overwrite=overwrite,
            )
        elif from_langsmith is None or not from_langsmith.strip():
            fail("export", "a source is required: --from-langsmith PROJECT, --store or --traces")
        else:
            export_langsmith_command(
                from_langsmith, out, limit=limit, append=append, endpoint=endpoint, api_key=api_key
            )
    except ExportCommandError as exc:
        fail("export", str(exc), code=1)
    except ValidationError as exc:
        fail("export", first_option_error(exc))
    except ValueError as exc:
        fail("export", str(exc))
