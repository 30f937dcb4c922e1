"""The demo's terminal output: a progress bar, a row per routed step, and a summary."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from langchain_netgpt.demo.run import DEMO_TASKS, DemoTask, run_demo
from langchain_netgpt.demo.scenario import phase_at
from langchain_netgpt.tracing import RouteTrace

__all__ = ["run_demo_command", "step_rows"]

_COLUMNS = (
    "task",
    "network",
    "step",
    "route",
    "s",
    "tau",
    "RTT ms",
    "up/down Mb/s",
    "lat. s",
    "valid",
    "note",
)


_SCRIPTED = "scripted degradation (good LTE -> congested -> near-outage -> recovered)"


def _step_kind(trace: RouteTrace) -> str:
    if trace.tools:
        calls = trace.output.tool_calls if trace.output is not None else []  # type: ignore[union-attr]
        return "call " + ",".join(c["name"] for c in calls) if calls else "call (none)"
    return "answer"


def step_rows(task_index: int, network: str, traces: list[RouteTrace]) -> list[tuple[str, ...]]:
    """One printable row per routed step of a task."""
    rows: list[tuple[str, ...]] = []
    for trace in traces:
        net = trace.network
        valid = (
            "-" if trace.tool_calls_valid is None else ("yes" if trace.tool_calls_valid else "NO")
        )
        note = ""
        if trace.overridden_by:
            note = f"{trace.overridden_by} override"
        if trace.fallback:
            note = f"fallback ({trace.fallback_reason or ''})"[:48]
        rows.append(
            (
                str(task_index + 1),
                network,
                _step_kind(trace),
                (trace.final_target or "failed") + ("" if not trace.fallback else "*"),
                f"{trace.score:.2f}",
                f"{trace.threshold:.2f}",
                f"{net.rtt_ms:.0f}",
                f"{net.bandwidth_up_mbps:.2f}/{net.bandwidth_down_mbps:.2f}",
                f"{trace.latency_s:.2f}",
                valid,
                note,
            )
        )
    return rows


def _summary(traces: list[RouteTrace], elapsed_s: float) -> str:
    n = len(traces)
    cloud = sum(t.final_target == "cloud" for t in traces)
    valid = [t.tool_calls_valid for t in traces if t.tool_calls_valid is not None]
    by_route: dict[str, list[float]] = {}
    for t in traces:
        by_route.setdefault(t.final_target or "failed", []).append(t.latency_s)
    means = ", ".join(
        f"{route} {sum(v) / len(v):.2f} s" for route, v in sorted(by_route.items()) if v
    )
    price = sum(t.cloud_price_usd for t in traces)
    return (
        f"{n} routed steps in {elapsed_s:.0f} s: {cloud} cloud ({cloud / max(n, 1):.0%}), "
        f"{n - cloud} edge; {sum(t.fallback for t in traces)} fallbacks; tool calls valid "
        f"{sum(valid)}/{len(valid)}; mean latency {means}; cloud price ${price:.6f}"
    )


def run_demo_command(
    *,
    out: Path | None,
    trace: Path | None,
    trace_up: Path | None,
    rtt_ms: float,
    tasks: int,
    device: str,
    console: Console | None = None,
) -> None:
    """Run the demo with a progress bar and print a row per routed step."""
    console = console or Console(width=None if Console().is_terminal else 140)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = out or Path("netgpt-runs") / f"demo-{stamp}.jsonl"
    chosen: list[DemoTask] = list(DEMO_TASKS[:tasks])
    scripted = trace is None
    cloud = (
        "real cloud (OPENAI_API_KEY)"
        if os.environ.get("OPENAI_API_KEY")
        else ("loopback stand-in serving the same 135M model behind an emulated WAN")
    )
    console.print(
        f"[bold]netgpt demo[/bold]: edge = bundled SmolLM2-135M (in-process); cloud = {cloud}.\n"
        f"Network: {_SCRIPTED if scripted else trace} "
        f"with base RTT {rtt_ms:g} ms; the router's monitor and the cloud link replay the same "
        "trace on one clock. Loading the edge model (about 15-30 s)..."
    )
    table = Table(title="Routed steps (* = fallback)")
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    seen = 0
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task("tasks", total=len(chosen))

        def on_step(index: int, task: DemoTask, answer: str, traces: list[RouteTrace]) -> None:
            nonlocal seen
            network = phase_at(task.at_s).name if scripted else f"trace t={task.at_s:g}s"
            for row in step_rows(index, network, traces[seen:]):
                table.add_row(*row)
                progress.console.print(
                    f"  task {row[0]} [{row[1]}] {row[2]}: {row[3]} "
                    f"(s={row[4]} tau={row[5]} rtt={row[6]} ms, {row[8]} s)"
                )
            seen = len(traces)
            short = " ".join(answer.split())[:90]
            progress.console.print(f"  -> {task.prompt!r}: {short!r}")
            progress.advance(bar)

        result = run_demo(
            out=out,
            tasks=chosen,
            trace_down=trace,
            trace_up=trace_up,
            base_rtt_ms=rtt_ms,
            device=device,
            on_step=on_step,
        )
    console.print(table)
    console.print(_summary(result.traces, result.elapsed_s))
    console.print(
        f"Traces written to [bold]{result.trace_file}[/bold] ({len(result.traces)} lines)."
    )
