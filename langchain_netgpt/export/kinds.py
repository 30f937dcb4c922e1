"""One entry point over the dataset exporters, by kind (used by ``netgpt export``).

The kinds are :data:`DatasetKind`'s values, and :data:`DATASET_KIND_SPECS` says what each one
builds: a new dataset kind is one more ``Literal`` value and one more registry entry, both here
(its exporter lives in a module of its own, like :mod:`~langchain_netgpt.export.sft`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_netgpt._registry import literal_registry
from langchain_netgpt.export.grpo import export_grpo
from langchain_netgpt.export.preference import export_preferences
from langchain_netgpt.export.router_data import RewardParams, export_router_data
from langchain_netgpt.export.sft import export_sft
from langchain_netgpt.export.writers import ExportFormat, ExportSummary
from langchain_netgpt.tracing.scrub import SecretScrubber

__all__ = [
    "DATASET_KINDS",
    "DATASET_KIND_SPECS",
    "DatasetKind",
    "DatasetKindSpec",
    "dataset_kind_spec",
    "export_dataset",
]

DatasetKind = Literal["router", "sft", "preferences", "grpo"]
"""The dataset kinds; :data:`DATASET_KIND_SPECS` holds what each one builds."""


@dataclass(frozen=True)
class DatasetKindSpec:
    """What one :data:`DatasetKind` builds, and how its exporter is called.

    Attributes:
        description: One line for help texts.
        export: The exporter: ``export(traces, out, *, format, scrubber, overwrite, on_trace)``,
            plus ``params`` when ``rewarded``.
        rewarded: The exporter takes :class:`~langchain_netgpt.export.RewardParams`.
        reads_router_fields: Its rows need only
            :class:`~langchain_netgpt.export.RouterTraceFields` (the fast JSONL read).
    """

    description: str
    export: Callable[..., ExportSummary]
    rewarded: bool = False
    reads_router_fields: bool = False


DATASET_KIND_SPECS: Mapping[DatasetKind, DatasetKindSpec] = literal_registry(
    DatasetKind,
    {
        "router": DatasetKindSpec(
            "bandit data: features, action, propensity, reward",
            export_router_data,
            rewarded=True,
            reads_router_fields=True,
        ),
        "sft": DatasetKindSpec("SFT chats of the cloud's answers", export_sft),
        "preferences": DatasetKindSpec("DPO preference pairs, cloud over edge", export_preferences),
        "grpo": DatasetKindSpec("GRPO prompts with their reference calls", export_grpo),
    },
)
"""Every dataset kind, keyed by :data:`DatasetKind`'s values (checked when loaded)."""
DATASET_KINDS: tuple[DatasetKind, ...] = tuple(DATASET_KIND_SPECS)
"""The kind names, in the ``Literal``'s order."""


def dataset_kind_spec(kind: str) -> DatasetKindSpec:
    """The registry entry of ``kind``.

    Raises:
        ValueError: ``kind`` is not one of :data:`DATASET_KINDS`.
    """
    try:
        return DATASET_KIND_SPECS[kind]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(f"kind must be one of {DATASET_KINDS}, got {kind!r}") from None


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

    ``traces`` holds :class:`~langchain_netgpt.tracing.RouteTrace` records; for ``router`` it may
    also hold :class:`~langchain_netgpt.export.router_data.RouterTraceFields` (the fast path).

    Raises:
        ValueError: ``kind`` is not one of :data:`DATASET_KINDS`, or ``params`` is given for
            another kind.
    """
    spec = dataset_kind_spec(kind)
    if params is not None and not spec.rewarded:
        raise ValueError(f"reward params apply to router data only, not to kind {kind!r}")
    extra: dict[str, Any] = {"params": params} if spec.rewarded else {}
    return spec.export(
        traces,
        out,
        format=format,
        scrubber=scrubber,
        overwrite=overwrite,
        on_trace=on_trace,
        **extra,
    )
