"""What ``netgpt finetune-edge`` and ``netgpt train-router`` do, with progress and result tables.

The CLI only declares and checks options; these functions run the library and print what it did
(rich tables on stdout, progress on stderr).

Example:
    .. code-block:: python

        from pathlib import Path

        from langchain_netgpt.learn.command import train_router_command

        # fit = train_router_command(Path("router.parquet"), Path("policy.json"))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_netgpt.learn.edge import EdgeFinetuneConfig, EdgeFinetuneResult
    from langchain_netgpt.learn.off_policy import Estimator
    from langchain_netgpt.learn.router_fitting import RouterFit
    from langchain_netgpt.learn.text_scorer_fitting import TextScorerFit

__all__ = ["finetune_edge_command", "train_router_command", "train_text_scorer_command"]


def finetune_edge_command(config: EdgeFinetuneConfig) -> EdgeFinetuneResult:
    """Fine-tune with a progress bar, then print the run's table.

    Raises:
        NetGPTError: Training failed (bad data, missing extra, model not found).
    """
    from rich.console import Console
    from rich.table import Table

    from langchain_netgpt.learn.edge import finetune_edge

    result = finetune_edge(config, show_progress=True)
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
    return result


def train_router_command(
    data: Path, out: Path, *, estimator: Estimator = "dr", seed: int = 0, test_fraction: float = 0.3
) -> RouterFit:
    """Fit the router with a progress bar, then print the held-out estimates and the thresholds.

    Raises:
        ValueError: ``data`` is not router data or holds too little to fit.
        NetGPTError: The data could not be read.
        OSError: A file could not be read or written.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from langchain_netgpt.learn.router_fitting import train_router

    with Progress(
        TextColumn("fitting the threshold"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("fit", total=None)
        fit = train_router(
            data,
            out,
            estimator=estimator,
            seed=seed,
            test_fraction=test_fraction,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
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
    return fit


def train_text_scorer_command(
    pairs: Sequence[Path],
    out: Path,
    embedders: Sequence[str] | None,
    seed: int,
    test_fraction: float,
) -> TextScorerFit:
    """``netgpt train-router --pairs``: check the options, fit, print the held-out curves.

    Raises:
        ValueError: A file is missing or an option is bad (one line; exit code 2).
        BenchmarkDataError: A pair file is malformed.
        ImportError: scikit-learn or an embedder's packages are missing.
    """
    from rich.console import Console

    from langchain_netgpt.learn.text_scorer_fitting import train_text_scorer
    from langchain_netgpt.routing.text_embedding import EMBEDDER_NAMES

    for path in pairs:
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder, not a file")
    for name in embedders or []:
        if name not in EMBEDDER_NAMES:
            raise ValueError(
                f"--text-embedder must be one of {', '.join(EMBEDDER_NAMES)}, got {name!r}"
            )
    fit = train_text_scorer(
        pairs,
        out,
        embedders=list(embedders or ["minilm", "hashed"]),
        seed=seed,
        test_fraction=test_fraction,
    )
    console = Console()
    console.print(f"held-out routing curves ({fit.n_test} rows; trained on {fit.n_train}):")
    for name, curve in fit.held_out.items():
        console.print(
            f"  {name}: APGR {curve['apgr']:.3f}, CPT(50%) {curve['cpt50']:.3f}, "
            f"CPT(80%) {curve['cpt80']:.3f}"
        )
    for note in fit.notes:
        console.print(f"note: {note}")
    console.print(
        f"scorer written to {out} (load with langchain_netgpt.routing.scoring.load_scorer)"
    )
    return fit
