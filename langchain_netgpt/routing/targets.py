"""Routing targets beyond edge-or-cloud: what each target is, and how loaded it is right now.

A :class:`TargetSpec` describes one target a :class:`~langchain_netgpt.NetGPTRouter` may send a
step to (an edge expert or a cloud): its model, its kind, its latency SLO, how it estimates the
quality of its answers, how many requests it serves at once and how much one more concurrent
request slows the others (``interference``). A :class:`LoadTracker` counts the requests in flight
on every target (thread and async safe: one lock, no awaits inside) and keeps an EWMA of their
service times; the router starts and finishes every call through it, and the
:class:`~langchain_netgpt.routing.qos.QoSPolicy` reads a :class:`LoadSnapshot` per target at
decision time.

Interference model (documented, configurable, fitted by the benchmark): with ``k`` requests
running at once on a target, each takes ``S * (1 + interference * (k - 1))`` where ``S`` is its
service time alone (a batch-slowdown factor per extra concurrent request). The tracker measures
``elapsed / (1 + interference * (k - 1))`` so that its EWMA estimates ``S``, not the slowed time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.latency import SideProfile
from langchain_netgpt.routing.scoring import EdgeScorer

__all__ = ["LoadSnapshot", "LoadTracker", "TargetKind", "TargetSpec"]

TargetKind = Literal["edge", "cloud"]
"""An edge expert (local, free, limited concurrency) or a cloud (network, price)."""


class TargetSpec(BaseModel):
    """One routing target: an edge expert or a cloud.

    Args:
        model: The chat model that answers (``None`` only for policy-only use, e.g. simulation).
        kind: ``"edge"`` or ``"cloud"``; a cloud pays the network and a price and is what a
            :class:`~langchain_netgpt.CloudBudget` limits.
        slo_s: Latency SLO of a step on this target (``None``: no SLO). An expected violation is
            penalised by the policy; an actual one is recorded in the trace (``slo_violated``).
        quality: Fixed probability that this target answers a step well (overrides ``scorer``).
        scorer: Per-request quality estimate for this target. With neither ``quality`` nor
            ``scorer``, an edge uses the router's scorer and a cloud the policy's
            ``cloud_quality``.
        concurrency: Requests served at once; more wait in a queue. ``None``: no limit (default
            for a cloud; an edge defaults to 1).
        interference: Batch slowdown per extra concurrent request (0.3: each running request
            takes 30% longer per other request running beside it).
        service_s: Prior mean service time of a step alone, used until calls are measured
            (``None``: from ``profile`` and the request's tokens).
        profile: Speed (and, for a cloud, token prices) of this target; ``None``: the policy's
            latency model for its kind.

    Raises:
        pydantic.ValidationError: A value is out of range (the message names the field).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.targets import TargetSpec

            fast = TargetSpec(kind="edge", slo_s=2.0, concurrency=2, interference=0.3)
            assert fast.concurrency == 2 and fast.model is None
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: BaseChatModel | None = Field(default=None, description="The chat model that answers.")
    kind: TargetKind = Field(description="'edge' or 'cloud'.")
    slo_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    quality: float | None = Field(default=None, ge=0, le=1)
    scorer: EdgeScorer | None = None
    concurrency: int | None = Field(default=None, ge=1)
    interference: float = Field(default=0.0, ge=0, le=10, allow_inf_nan=False)
    service_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    profile: SideProfile | None = None

    @model_validator(mode="before")
    @classmethod
    def _edge_serves_one_by_default(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("kind") == "edge"
            and data.get("concurrency") is None
        ):
            return {**data, "concurrency": 1}
        return data


@dataclass(frozen=True, slots=True)
class LoadSnapshot:
    """A target's load at one moment.

    Attributes:
        in_flight: Requests started and not finished (running or queued).
        queued: Requests beyond the target's concurrency (waiting for a slot).
        service_s: EWMA of measured service times alone (``None`` before the first call).
        completed: Calls finished so far.
        slo_violations: Finished calls slower than the target's SLO.
    """

    in_flight: int
    queued: int
    service_s: float | None
    completed: int = 0
    slo_violations: int = 0

    @property
    def service_rate_per_s(self) -> float | None:
        """Measured service rate of one slot (``1 / service_s``), or ``None``."""
        return None if not self.service_s else 1.0 / self.service_s

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready dict (for traces)."""
        return {
            "in_flight": self.in_flight,
            "queued": self.queued,
            "service_s": self.service_s,
            "completed": self.completed,
            "slo_violations": self.slo_violations,
        }


class _Counter:
    __slots__ = ("completed", "in_flight", "service_s", "violations")

    def __init__(self) -> None:
        self.in_flight = 0
        self.completed = 0
        self.violations = 0
        self.service_s: float | None = None


class LoadTracker:
    """Live load of every target: in-flight count, EWMA service time, SLO violations.

    Thread and async safe (one lock held for a few arithmetic operations, never across an await).

    Args:
        targets: The targets by name.
        ewma_alpha: Weight of the newest service time in the EWMA.

    Raises:
        ConfigurationError: ``targets`` is empty or ``ewma_alpha`` is not in ``(0, 1]``.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.targets import LoadTracker, TargetSpec

            tracker = LoadTracker({"edge": TargetSpec(kind="edge", slo_s=1.0)})
            started = tracker.start("edge")
            assert tracker.snapshot()["edge"].in_flight == 1
            violated = tracker.finish("edge", elapsed_s=1.5, concurrent=started)
            assert violated and tracker.snapshot()["edge"].slo_violations == 1
    """

    def __init__(self, targets: Mapping[str, TargetSpec], *, ewma_alpha: float = 0.2) -> None:
        if not targets:
            raise ConfigurationError("LoadTracker needs at least one target", field="targets")
        if not 0.0 < ewma_alpha <= 1.0:
            raise ConfigurationError(
                f"ewma_alpha must be in (0, 1], got {ewma_alpha!r}",
                field="ewma_alpha",
                value=ewma_alpha,
            )
        self._specs = dict(targets)
        self._alpha = ewma_alpha
        self._lock = threading.Lock()
        self._counters = {name: _Counter() for name in targets}

    def _counter(self, name: str) -> _Counter:
        counter = self._counters.get(name)
        if counter is None:
            raise ValueError(f"unknown target {name!r}; configured: {sorted(self._counters)}")
        return counter

    def start(self, name: str) -> int:
        """Count a call starting on ``name``.

        Returns:
            Requests running on the target with this one (for :meth:`finish`).

        Raises:
            ValueError: ``name`` is not a configured target.
        """
        with self._lock:
            counter = self._counter(name)
            counter.in_flight += 1
            limit = self._specs[name].concurrency
            return counter.in_flight if limit is None else min(counter.in_flight, limit)

    def finish(self, name: str, *, elapsed_s: float, concurrent: int = 1, ok: bool = True) -> bool:
        """Count a call finishing on ``name``; a successful one updates the service-time EWMA.

        Args:
            name: The target.
            elapsed_s: Wall time of the call.
            concurrent: What :meth:`start` returned (requests running beside it, itself included).
            ok: Whether the call answered (failures do not teach the service time).

        Returns:
            Whether the call broke the target's SLO.

        Raises:
            ValueError: ``name`` is not a configured target.
        """
        spec = self._specs.get(name)
        if spec is None:
            raise ValueError(f"unknown target {name!r}; configured: {sorted(self._counters)}")
        alone_s = elapsed_s / (1.0 + spec.interference * max(0, concurrent - 1))
        violated = spec.slo_s is not None and elapsed_s > spec.slo_s
        with self._lock:
            counter = self._counters[name]
            counter.in_flight = max(0, counter.in_flight - 1)
            counter.completed += 1
            counter.violations += violated
            if ok:
                prev = counter.service_s
                counter.service_s = (
                    alone_s if prev is None else prev + self._alpha * (alone_s - prev)
                )
        return violated

    def snapshot(self) -> dict[str, LoadSnapshot]:
        """The load of every target now."""
        with self._lock:
            out: dict[str, LoadSnapshot] = {}
            for name, counter in self._counters.items():
                limit = self._specs[name].concurrency
                queued = 0 if limit is None else max(0, counter.in_flight - limit)
                out[name] = LoadSnapshot(
                    counter.in_flight,
                    queued,
                    counter.service_s,
                    counter.completed,
                    counter.violations,
                )
            return out
