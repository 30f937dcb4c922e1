"""``netgpt demo``: a routed LangGraph agent with real tools while the network degrades.

The options are declared and checked here; the run is
:func:`langchain_netgpt.demo.console.run_demo_command`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from langchain_netgpt.cli._common import fail

__all__ = ["demo"]


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
            fail("demo", f"trace file not found: {path}")
    if not 1 <= tasks <= 8:
        fail("demo", f"--tasks must be between 1 and 8, got {tasks}")
    if not (rtt_ms >= 0 and rtt_ms < 60_000):
        fail("demo", f"--rtt-ms must be in [0, 60000), got {rtt_ms}")
    try:
        run_demo_command(
            out=out, trace=trace, trace_up=trace_up, rtt_ms=rtt_ms, tasks=tasks, device=device
        )
    except NetGPTError as exc:
        fail("demo", str(exc), code=1)
