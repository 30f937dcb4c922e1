"""What every ``netgpt`` command shares: the one-line error exit and option-error wording."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["fail", "first_option_error"]


def fail(command: str, reason: str, code: int = 2) -> NoReturn:
    """Exit with ``code`` after printing ``netgpt <command>: error: <reason>`` on one line.

    Code 2 is a bad option (the user can fix the command line), code 1 a failure while running.
    """
    one_line = " ".join(reason.split())
    typer.echo(f"netgpt {command}: error: {one_line}", err=True)
    raise typer.Exit(code)


def first_option_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as ``--the-option: message`` (or just the message)."""
    problem = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in problem["loc"])
    option = f"--{where.replace('_', '-')}: " if where else ""
    return f"{option}{problem['msg'].removeprefix('Value error, ')}"
