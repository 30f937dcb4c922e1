"""Router (contextual-bandit) data: one row per routed step, with its reward.

Each row holds the context the policy saw (network state and the scorer's features), the action it
took (``decided_target``) and the probability it took it (``propensity``, for off-policy
estimates), and the outcome: latency, price, quality and the reward
``value_usd * quality - lambda_t * latency_s - lambda_c * price_usd``. The reward parameters
travel with the file (JSONL header line, Parquet schema metadata, HF ``info.description``), and
:func:`read_router_data` reads any of the three back without numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.export.writers import (
    METADATA_KEY,
    ExportFormat,
    ExportSummary,
    _import,
    _load_hf_folder,
    write_dataset,
)
from langchain_netgpt.routing.features import FEATURE_NAMES, RequestFeatures
from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.policy import EDGE, NetGPTPolicy
from langchain_netgpt.tracing.scrub import SecretScrubber
from langchain_netgpt.tracing.sinks import read_jsonl_records

if TYPE_CHECKING:
    import pyarrow as pa

    from langchain_netgpt.tracing import RouteTrace

__all__ = [
    "ROUTER_COLUMNS",
    "ROUTER_DATA_KIND",
    "ROUTER_DATA_SCHEMA_VERSION",
    "RewardParams",
    "RouterData",
    "RouterTraceFields",
    "export_router_data",
    "read_router_data",
    "read_router_traces",
    "router_row",
]

ROUTER_DATA_KIND = "netgpt.router_data"
ROUTER_DATA_SCHEMA_VERSION = 1
"""Bumped when a router-data column changes meaning or is removed."""

_POLICY_FIELDS = NetGPTPolicy.model_fields


class RewardParams(BaseModel):
    """Weights of the router reward ``V * quality - lambda_t * latency_s - lambda_c * price_usd``.

    The defaults are :class:`~langchain_netgpt.NetGPTPolicy`'s, so the exported reward is the
    utility the policy maximises.

    Example:
        .. code-block:: python

            from langchain_netgpt.export import RewardParams

            params = RewardParams()
            assert params.reward(quality=1.0, latency_s=2.0, price_usd=0.0) == 0.002 - 0.0005 * 2
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    value_usd: float = Field(
        default=_POLICY_FIELDS["value_correct_usd"].default,
        gt=0,
        allow_inf_nan=False,
        description="V: value of a correct step in USD.",
    )
    lambda_t: float = Field(
        default=_POLICY_FIELDS["latency_usd_per_s"].default,
        ge=0,
        allow_inf_nan=False,
        description="Price of one second of latency in USD.",
    )
    lambda_c: float = Field(
        default=_POLICY_FIELDS["cloud_usd_weight"].default,
        ge=0,
        allow_inf_nan=False,
        description="Weight of one cloud dollar (1 = face value).",
    )

    def reward(self, *, quality: float, latency_s: float, price_usd: float) -> float:
        """The reward of one step."""
        return self.value_usd * quality - self.lambda_t * latency_s - self.lambda_c * price_usd


ROUTER_COLUMNS: tuple[str, ...] = (
    "trace_id",
    "created_at",
    "session_id",
    "action",
    "final_target",
    "propensity",
    "score",
    "threshold",
    "policy",
    "rtt_ms",
    "bandwidth_up_mbps",
    "bandwidth_down_mbps",
    "loss",
    *(f"f_{name}" for name in FEATURE_NAMES),
    "latency_s",
    "price_usd",
    "valid",
    "quality",
    "quality_source",
    "fallback",
    "escalated",
    "reward",
)
"""Columns of a router-data row, in order.

``action`` is the decided target, ``final_target`` the one whose answer was returned (differs on a
fallback; ``None`` when no side answered). ``f_<name>`` are the scorer's features
(:data:`~langchain_netgpt.routing.features.FEATURE_NAMES`, as :meth:`RequestFeatures.vector`
computes them for the edge; ``None`` when the trace holds no features, e.g. read back from
LangSmith).
``valid`` is whether the answer's tool calls matched the bound schemas (``None``: no tools).
``quality`` is the trace's feedback / ground truth when set (``quality_source == "feedback"``),
otherwise the validity proxy: 1.0 when a side answered without error and with valid tool calls,
else 0.0 (``quality_source == "validity"``). ``escalated`` marks a step the edge handed to the
cloud itself (self-offload). ``reward`` uses the file's :class:`RewardParams`.
"""


class RouterTraceFields(BaseModel):
    """The fields of a :class:`~langchain_netgpt.RouteTrace` that router data reads, and no more.

    Parsing a trace line into this model skips building its messages (most of the cost of
    ``RouteTrace.from_json``); the fields it keeps are validated exactly as in ``RouteTrace``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    trace_id: str
    created_at: float
    session_id: str | None = None
    decided_target: str
    final_target: str | None = None
    propensity: float = 1.0
    score: float
    threshold: float
    policy: str
    network: NetworkState
    features: dict[str, Any]
    latency_s: float = 0.0
    cloud_price_usd: float = 0.0
    tool_calls_valid: bool | None = None
    quality: float | None = Field(default=None, ge=0, le=1)
    error: str | None = None
    fallback: bool = False
    escalated: bool = False


def read_router_traces(path: str | Path) -> Iterator[RouterTraceFields]:
    """Stream a JSONL trace file as :class:`RouterTraceFields` (the fast path for router data).

    Like :func:`~langchain_netgpt.tracing.read_jsonl_traces`: a torn line (a partial write)
    is skipped with a warning; a line that is valid JSON but not a trace, or of an unknown
    ``schema_version``, raises.

    Raises:
        TraceFileError: A line is valid JSON but not a trace, or of an unknown schema version.
    """
    return read_jsonl_records(path, RouterTraceFields.model_validate_json)


def _quality(trace: RouteTrace | RouterTraceFields) -> tuple[float, str]:
    if trace.quality is not None:
        return float(trace.quality), "feedback"
    ok = (
        trace.final_target is not None
        and trace.error is None
        and trace.tool_calls_valid is not False
    )
    return (1.0 if ok else 0.0), "validity"


def _feature_vector(features: dict[str, Any]) -> tuple[float, ...] | None:
    if not features:
        return None
    try:
        return RequestFeatures.from_dict(features).vector(target=EDGE)
    except (ValueError, TypeError):
        return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


_FEATURE_COLUMNS = tuple(f"f_{name}" for name in FEATURE_NAMES)
_NO_FEATURES = (None,) * len(FEATURE_NAMES)


class _CachedScrubber(SecretScrubber):
    """A scrubber that remembers its last few thousand answers (session ids repeat a lot)."""

    def __init__(self, inner: SecretScrubber, size: int = 4096) -> None:
        super().__init__()
        self._inner = inner
        self._size = size
        self._seen: dict[str, str] = {}

    def scrub_text(self, text: str) -> str:
        clean = self._seen.get(text)
        if clean is None:
            if len(self._seen) >= self._size:
                self._seen.clear()
            clean = self._seen[text] = self._inner.scrub_text(text)
        return clean


def router_row(
    trace: RouteTrace | RouterTraceFields,
    params: RewardParams,
    scrubber: SecretScrubber | None = None,
) -> dict[str, Any]:
    """One trace as a router-data row (keys :data:`ROUTER_COLUMNS`)."""
    network = trace.network
    quality, source = _quality(trace)
    session = trace.session_id
    if session is not None and scrubber is not None:
        session = scrubber.scrub_text(session)
    row: dict[str, Any] = {
        "trace_id": trace.trace_id,
        "created_at": trace.created_at,
        "session_id": session,
        "action": trace.decided_target,
        "final_target": trace.final_target,
        "propensity": trace.propensity,
        "score": trace.score,
        "threshold": _finite(trace.threshold),
        "policy": trace.policy,
        "rtt_ms": _finite(network.rtt_ms),
        "bandwidth_up_mbps": _finite(network.bandwidth_up_mbps),
        "bandwidth_down_mbps": _finite(network.bandwidth_down_mbps),
        "loss": network.loss,
    }
    vector = _feature_vector(trace.features)
    row.update(zip(_FEATURE_COLUMNS, vector or _NO_FEATURES, strict=True))
    row["latency_s"] = trace.latency_s
    row["price_usd"] = trace.cloud_price_usd
    row["valid"] = trace.tool_calls_valid
    row["quality"] = quality
    row["quality_source"] = source
    row["fallback"] = trace.fallback
    row["escalated"] = trace.escalated
    row["reward"] = params.reward(
        quality=quality, latency_s=trace.latency_s, price_usd=trace.cloud_price_usd
    )
    return row


def router_schema() -> pa.Schema:
    """The Arrow schema of router data (requires pyarrow)."""
    pa = _import("pyarrow")
    types = {
        "trace_id": pa.string(),
        "created_at": pa.float64(),
        "session_id": pa.string(),
        "action": pa.string(),
        "final_target": pa.string(),
        "policy": pa.string(),
        "valid": pa.bool_(),
        "quality_source": pa.string(),
        "fallback": pa.bool_(),
        "escalated": pa.bool_(),
    }
    return pa.schema([(name, types.get(name, pa.float64())) for name in ROUTER_COLUMNS])


def _header(params: RewardParams) -> dict[str, Any]:
    return {
        "kind": ROUTER_DATA_KIND,
        "schema_version": ROUTER_DATA_SCHEMA_VERSION,
        "params": params.model_dump(),
        "columns": list(ROUTER_COLUMNS),
    }


def export_router_data(
    traces: Iterable[RouteTrace | RouterTraceFields],
    out: str | Path,
    *,
    format: ExportFormat = "parquet",
    params: RewardParams | None = None,
    scrubber: SecretScrubber | None = None,
    batch_rows: int = 10_000,
    overwrite: bool = False,
    on_trace: Callable[[RouteTrace | RouterTraceFields], None] | None = None,
) -> ExportSummary:
    """Write one router-data row per trace (bounded memory: ``batch_rows`` rows at a time).

    Args:
        traces: Any iterable of traces (``TraceStore.query()``, ``read_jsonl_traces()``, a list),
            or of :class:`RouterTraceFields` (:func:`read_router_traces`, the fast path).
        out: Output file (``jsonl``, ``parquet``) or folder (``hf``).
        format: ``jsonl`` (first line: header with the reward params), ``parquet`` (params in the
            schema metadata) or ``hf`` (``Dataset.save_to_disk``, params in ``info.description``).
        params: Reward weights (default: the NetGPT policy's).
        scrubber: Applied to the free-text column (``session_id``); default: the environment's
            secrets (:meth:`SecretScrubber.from_environ`).
        batch_rows: Rows buffered per flush.
        overwrite: Replace an existing ``out``.
        on_trace: Called after each trace is read.

    Returns:
        Rows read and written.
    """
    params = params or RewardParams()
    scrub = _CachedScrubber(scrubber or SecretScrubber.from_environ())
    return write_dataset(
        traces,
        lambda trace: router_row(trace, params, scrub),
        kind="router",
        schema=router_schema,
        out=out,
        format=format,
        header=_header(params),
        jsonl_header=True,
        batch_rows=batch_rows,
        overwrite=overwrite,
        on_trace=on_trace,
    )


@dataclass(frozen=True)
class RouterData:
    """Router data read back: the reward weights it was written with and its rows.

    Attributes:
        params: The reward weights of the ``reward`` column.
        rows: One dict per step, keys :data:`ROUTER_COLUMNS` (plain Python values, no numpy).
        schema_version: The file's router-data schema version.
    """

    params: RewardParams
    rows: list[dict[str, Any]]
    schema_version: int = ROUTER_DATA_SCHEMA_VERSION


def _check_header(header: Any, path: Path) -> RewardParams:
    if not isinstance(header, dict) or header.get("kind") != ROUTER_DATA_KIND:
        raise ValueError(f"{path} is not router data: expected a {ROUTER_DATA_KIND!r} header")
    version = header.get("schema_version")
    if version != ROUTER_DATA_SCHEMA_VERSION:
        raise ValueError(
            f"{path} has router-data schema version {version!r}; this version reads "
            f"{ROUTER_DATA_SCHEMA_VERSION}"
        )
    return RewardParams.model_validate(header.get("params", {}))


def _read_jsonl(path: Path) -> RouterData:
    with path.open("rb") as file:
        first = file.readline()
        try:
            header = json.loads(first) if first.strip() else None
        except json.JSONDecodeError:
            header = None
        params = _check_header(header, path)
        rows: list[dict[str, Any]] = []
        for lineno, line in enumerate(file, start=2):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not a JSON row: {exc}") from exc
    return RouterData(params=params, rows=rows)


def read_router_data(path: str | Path) -> RouterData:
    """Read router data written by :func:`export_router_data` in any of its formats.

    Stable API (``netgpt train-router`` builds on it): the format is told by the path (a folder
    is an HF dataset, ``*.parquet`` is Parquet, anything else JSONL); the rows are plain dicts
    with the keys of :data:`ROUTER_COLUMNS`.

    Args:
        path: The exported file or folder.

    Returns:
        The reward params and all rows.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not router data, or of another schema version.
        MissingExtraError: Reading Parquet needs pyarrow, an HF folder needs datasets.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no router data at {path}")
    if path.is_dir():
        dataset = _load_hf_folder(_import("datasets"), path)
        try:
            header = json.loads(dataset.info.description or "")
        except json.JSONDecodeError:
            header = None
        params = _check_header(header, path)
        rows = [dict(row) for batch in dataset.iter(batch_size=10_000) for row in _unbatch(batch)]
        return RouterData(params=params, rows=rows)
    if path.suffix == ".parquet":
        pq = _import("pyarrow.parquet")
        parquet = pq.ParquetFile(str(path))
        raw = (parquet.schema_arrow.metadata or {}).get(METADATA_KEY)
        params = _check_header(json.loads(raw) if raw else None, path)
        rows = [
            row for batch in parquet.iter_batches(batch_size=10_000) for row in batch.to_pylist()
        ]
        return RouterData(params=params, rows=rows)
    return _read_jsonl(path)


def _unbatch(batch: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    names = list(batch)
    for values in zip(*(batch[name] for name in names), strict=True):
        yield dict(zip(names, values, strict=True))
