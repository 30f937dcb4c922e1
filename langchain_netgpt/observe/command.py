"""``netgpt routes``: the routes report of a trace store or JSONL file, printed, plotted, saved."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from langchain_netgpt.observe.routes import GroupBy, build_routes_report, read_route_traces

__all__ = ["parse_window", "run_routes"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_window(text: str) -> float:
    """Seconds in a window length such as ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` or ``"600"``.

    Raises:
        ValueError: ``text`` is not a positive length.
    """
    raw = text.strip().lower()
    unit = _UNITS.get(raw[-1:], None)
    number = raw[:-1] if unit is not None else raw
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise ValueError(
            f"--window must be a positive length like 90s, 15m, 1h or 1d, got {text!r}"
        )
    return seconds


def run_routes(
    source: str,
    *,
    by: str = "session",
    window: str = "1h",
    session: str | None = None,
    since: str | None = None,
    until: str | None = None,
    policy: Path | None = None,
    plot: Path | None = None,
    json_out: Path | None = None,
    output: Literal["rich", "text"] = "rich",
) -> int:
    """Build the report and show it; return how many steps it covers.

    Raises:
        ValueError: A bad option (the message names it).
        FileNotFoundError: ``source`` or ``policy`` does not exist.
        NetGPTError: The store could not be read, or the policy file is not a policy.
    """
    from langchain_netgpt.export import parse_time
    from langchain_netgpt.routing.policy import NetGPTPolicy

    if by not in ("session", "window", "all"):
        raise ValueError(f"--by must be session, window or all, got {by!r}")
    window_s = parse_window(window)
    times: dict[str, float] = {}
    for name, value in (("since", since), ("until", until)):
        if value is not None:
            try:
                times[name] = parse_time(value)
            except ValueError as exc:
                raise ValueError(f"--{name}: {exc}") from None
    if policy is not None and not policy.is_file():
        raise FileNotFoundError(f"--policy {policy} is not a file")
    chosen = NetGPTPolicy.load(policy) if policy is not None else None
    traces = read_route_traces(source, session_id=session, **times)
    group_by: GroupBy = by  # type: ignore[assignment]
    report = build_routes_report(traces, group_by=group_by, window_s=window_s, policy=chosen)
    if not report.timeline:
        raise ValueError(f"no traces in {source} match the filters")
    if output == "rich":
        from rich.console import Console

        Console().print(report.to_rich())
    else:
        print(report.to_text())
    if plot is not None:
        from langchain_netgpt.observe.timeline import plot_timeline

        plot_timeline(report, path=plot)
        print(f"timeline: {plot}")
    if json_out is not None:
        json_out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"report: {json_out}")
    return len(report.timeline)
