"""The ``netgpt`` command line.

A thin layer over the library, one module per command, one pattern: the command module declares
the options (typer) and checks what needs no library knowledge; the work (and the checks that
need the library's types) lives in the library, in a ``command`` module beside the code it runs
(:mod:`langchain_netgpt.bench.command`, :mod:`langchain_netgpt.export.command`,
:mod:`langchain_netgpt.learn.command`, :mod:`langchain_netgpt.observe.command`). A bad option
exits 2 and a failure while running exits 1, each with one line ``netgpt <command>: error: ...``
on stderr (:func:`~langchain_netgpt.cli._common.fail`). Importing this package is cheap: the
commands import what they need (fastapi, uvicorn, the edge model) when they run.

A new command is a module ``cli/<name>_command.py`` holding the command function, plus one
registration line below.
"""

from __future__ import annotations

from typing import Annotated

import typer

from langchain_netgpt import __version__
from langchain_netgpt.cli import (
    bench_command,
    demo_command,
    export_command,
    finetune_edge_command,
    routes_command,
    serve_command,
    train_router_command,
)

__all__ = ["app"]

app = typer.Typer(
    name="netgpt",
    help="Network-aware edge/cloud routing for LangChain tool-calling agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"netgpt (langchain-netgpt) {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Network-aware edge/cloud routing for LangChain tool-calling agents."""


# The commands, in the order ``netgpt --help`` lists them: one line each.
app.command("serve", help=serve_command.HELP)(serve_command.serve)
app.command("demo")(demo_command.demo)
app.command("bench", help=bench_command.HELP)(bench_command.bench)
app.command("export")(export_command.export)
app.command("routes")(routes_command.routes)
app.command("finetune-edge")(finetune_edge_command.finetune_edge)
app.command("train-router")(train_router_command.train_router)
