"""``netgpt routes``: where steps went and why, read from a trace store or a JSONL file.

The options are declared here; the report is :func:`langchain_netgpt.observe.command.run_routes`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from langchain_netgpt.cli._common import fail

__all__ = ["routes"]


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
        fail("routes", f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else str(exc))
