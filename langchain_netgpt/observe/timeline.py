"""The timeline of routed steps: RTT, tau and route per step (matplotlib; the ``bench`` extra).

The figure is built with matplotlib's object API (no ``pyplot``, no global backend), so it works
the same in a script, on a server and in a notebook.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_netgpt.errors import MissingExtraError
from langchain_netgpt.observe.routes import RoutesReport, StepPoint

__all__ = ["plot_timeline"]

_COLOURS = {"edge": "tab:orange", "cloud": "tab:blue"}


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "bench") from exc
    return Figure


def plot_timeline(
    steps: RoutesReport | Sequence[StepPoint],
    *,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    """Plot RTT, ``tau`` (with each step's score) and the route of every step, in time order.

    Args:
        steps: A :class:`RoutesReport` (its timeline) or its :class:`StepPoint` list.
        path: Where to save the figure (PNG, SVG, PDF by suffix); ``None``: do not save.
        title: Figure title.

    Returns:
        The ``matplotlib.figure.Figure`` (three panels sharing the step axis).

    Raises:
        ValueError: There are no steps.
        MissingExtraError: matplotlib is not installed (``langchain-netgpt[bench]``).
    """
    points = list(steps.timeline if isinstance(steps, RoutesReport) else steps)
    if not points:
        raise ValueError("no steps to plot: the trace source matched no traces")
    fig = _figure_class()(figsize=(10, 7), layout="constrained")
    rtt_ax, tau_ax, route_ax = fig.subplots(3, 1, sharex=True)
    xs = list(range(len(points)))

    rtt_ax.plot(xs, [p.rtt_ms for p in points], color="tab:red", label="RTT")
    rtt_ax.set_ylabel("RTT (ms)")
    up_ax = rtt_ax.twinx()
    up_ax.plot(xs, [p.bandwidth_up_mbps for p in points], color="tab:gray", ls=":", label="uplink")
    up_ax.set_ylabel("uplink (Mbit/s)")
    rtt_ax.legend(loc="upper left")
    up_ax.legend(loc="upper right")

    tau_ax.step(xs, [p.tau for p in points], where="mid", color="black", label="tau")
    for side, colour in _COLOURS.items():
        chosen = [(x, p.score) for x, p in zip(xs, points, strict=True) if p.decided == side]
        if chosen:
            tau_ax.scatter(*zip(*chosen, strict=True), s=14, color=colour, label=f"score ({side})")
    tau_ax.set(ylabel="score / tau", ylim=(-0.05, 1.05))
    tau_ax.legend(loc="upper right", fontsize="small")

    lanes = sorted({p.target or "none" for p in points} | {p.decided for p in points})
    lane = {name: i for i, name in enumerate(lanes)}
    for marker, label, keep in (
        ("o", "answered as decided", lambda p: not p.fallback and p.overridden_by is None),
        ("x", "fallback", lambda p: p.fallback),
        ("s", "overridden (budget, privacy)", lambda p: p.overridden_by is not None),
    ):
        chosen = [(x, lane[p.target or "none"]) for x, p in zip(xs, points, strict=True) if keep(p)]
        if chosen:
            route_ax.scatter(*zip(*chosen, strict=True), marker=marker, s=20, label=label)
    route_ax.set_yticks(range(len(lanes)), lanes)
    route_ax.xaxis.get_major_locator().set_params(integer=True)
    route_ax.set(xlabel="step (time order)", ylabel="answered by", ylim=(-0.5, len(lanes) - 0.5))
    route_ax.legend(loc="upper right", fontsize="small")
    fig.suptitle(title or f"netgpt routes: {len(points)} steps")
    if path is not None:
        fig.savefig(Path(path), dpi=100)
    return fig
