"""``netgpt train-router``: learn the router from exported router data (or pair outcomes).

The options are declared and checked here; the fits are
:func:`langchain_netgpt.learn.command.train_router_command` and
:func:`~langchain_netgpt.learn.command.train_text_scorer_command`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

import typer

from langchain_netgpt.cli._common import fail

__all__ = ["train_router"]


def train_router(
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
    from langchain_netgpt.errors import NetGPTError
    from langchain_netgpt.learn import command
    from langchain_netgpt.learn.off_policy import Estimator

    if estimator not in get_args(Estimator):
        fail("train-router", f"--estimator must be dr, ips or snips, got {estimator!r}")
    if not 0 < test_fraction < 1:
        fail("train-router", f"--test-fraction must lie in (0, 1), got {test_fraction}")
    if pairs:
        try:
            command.train_text_scorer_command(pairs, out, text_embedder, seed, test_fraction)
        except (NetGPTError, ImportError, OSError) as exc:
            fail("train-router", str(exc), code=1)
        except ValueError as exc:
            fail("train-router", str(exc))
        return
    if data is None:
        fail("train-router", "pass --data ROUTER_DATA (or --pairs FILE for the text scorer)")
    if not data.exists():
        fail("train-router", f"--data {data} does not exist")
    if out.is_dir():
        fail("train-router", f"--out {out} is a folder, not a file")
    try:
        command.train_router_command(
            data,
            out,
            estimator=estimator,  # type: ignore[arg-type]  # checked against Estimator above
            seed=seed,
            test_fraction=test_fraction,
        )
    except (ValueError, NetGPTError, OSError) as exc:
        fail("train-router", str(exc), code=1)
