"""One entry point over the four dataset exporters, by kind name (used by ``netgpt export``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from langchain_netgpt.export.grpo import export_grpo
from langchain_netgpt.export.preference import export_preferences
from langchain_netgpt.export.router_data import RewardParams, export_router_data
from langchain_netgpt.export.sft import export_sft
from langchain_netgpt.export.writers import ExportFormat, ExportSummary
from langchain_netgpt.tracing.scrub import SecretScrubber

__all__ = ["DATASET_KINDS", "DatasetKind", "export_dataset"]

DatasetKind = Literal["router", "sft", "preferences", "grpo"]
DATASET_KINDS: tuple[str, ...] = ("router", "sft", "preferences", "grpo")


def export_dataset(
    kind: DatasetKind,
    traces: Iterable[Any],
    out: str | Path,
    *,
    format: ExportFormat = "parquet",
    params: RewardParams | None = None,
    scrubber: SecretScrubber | None = None,
    overwrite: bool = False,
    on_trace: Callable[[Any], None] | None = None,
) -> ExportSummary:
    """Run the exporter named by ``kind`` (``params`` applies to router data only).

    ``traces`` holds :class:`~langchain_netgpt.RouteTrace` records; for ``router`` it may also
    hold :class:`~langchain_netgpt.export.router_data.RouterTraceFields` (the fast path).

    Raises:
        ValueError: ``kind`` is not one of :data:`DATASET_KINDS`, or ``params`` is given for
            another kind.
    """
    if kind not in DATASET_KINDS:
        raise ValueError(f"kind must be one of {DATASET_KINDS}, got {kind!r}")
    if params is not None and kind != "router":
        raise ValueError(f"reward params apply to router data only, not to kind {kind!r}")
    if kind == "router":
        return export_router_data(
            traces,
            out,
            format=format,
            params=params,
            scrubber=scrubber,
            overwrite=overwrite,
            on_trace=on_trace,
        )
    exporter = {"sft": export_sft, "preferences": export_preferences, "grpo": export_grpo}[kind]
    return exporter(
        traces, out, format=format, scrubber=scrubber, overwrite=overwrite, on_trace=on_trace
    )
