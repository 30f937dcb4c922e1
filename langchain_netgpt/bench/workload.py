"""Load for the replay benchmark: request arrival processes and the edge server's queue.

Arrivals are Poisson (a constant rate) or bursty (a two-state Markov-modulated Poisson process:
an "on" state with a high rate and an "off" state with a low one, each lasting an exponentially
distributed time). The edge is a single FIFO server: a step sent to it while it is busy waits.

Example:
    .. code-block:: python

        import random

        from langchain_netgpt.bench.workload import EdgeQueue, PoissonArrivals

        times = PoissonArrivals(rate_per_s=2.0).times(5, random.Random(0))
        queue = EdgeQueue()
        wait_s = queue.serve(at_s=times[0], service_s=1.5)
        assert wait_s == 0.0 and queue.wait_s(times[0] + 0.5) == 1.0
"""

from __future__ import annotations

import random
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ArrivalProcess", "BurstyArrivals", "EdgeQueue", "PoissonArrivals"]


class PoissonArrivals(BaseModel):
    """Requests arriving at a constant rate, with exponential gaps.

    Args:
        rate_per_s: Mean arrivals per second.

    Example:
        .. code-block:: python

            import random

            from langchain_netgpt.bench.workload import PoissonArrivals

            times = PoissonArrivals(rate_per_s=0.5).times(100, random.Random(1))
            assert len(times) == 100 and times == sorted(times)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["poisson"] = "poisson"
    rate_per_s: float = Field(gt=0, allow_inf_nan=False, description="Mean arrivals per second.")

    @property
    def mean_rate_per_s(self) -> float:
        """Long-run arrivals per second."""
        return self.rate_per_s

    def times(self, n: int, rng: random.Random) -> list[float]:
        """Arrival times (seconds from 0) of ``n`` requests, drawn from ``rng``."""
        _check_count(n)
        t = 0.0
        out: list[float] = []
        for _ in range(n):
            t += rng.expovariate(self.rate_per_s)
            out.append(t)
        return out


class BurstyArrivals(BaseModel):
    """Bursts of requests: a two-state (on/off) Markov-modulated Poisson process.

    Args:
        on_rate_per_s: Arrival rate during a burst.
        off_rate_per_s: Arrival rate between bursts (may be 0).
        mean_on_s: Mean length of a burst.
        mean_off_s: Mean gap between bursts.

    Example:
        .. code-block:: python

            import random

            from langchain_netgpt.bench.workload import BurstyArrivals

            bursty = BurstyArrivals(on_rate_per_s=1.0, off_rate_per_s=0.05)
            times = bursty.times(50, random.Random(2))
            assert len(times) == 50
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["bursty"] = "bursty"
    on_rate_per_s: float = Field(gt=0, allow_inf_nan=False, description="Rate in a burst.")
    off_rate_per_s: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Rate between bursts."
    )
    mean_on_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    mean_off_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _burst_is_busier(self) -> BurstyArrivals:
        if self.on_rate_per_s <= self.off_rate_per_s:
            raise ValueError(
                f"on_rate_per_s ({self.on_rate_per_s}) must exceed off_rate_per_s "
                f"({self.off_rate_per_s}) for arrivals to be bursty"
            )
        return self

    @property
    def mean_rate_per_s(self) -> float:
        """Long-run arrivals per second."""
        total = self.mean_on_s + self.mean_off_s
        return (self.on_rate_per_s * self.mean_on_s + self.off_rate_per_s * self.mean_off_s) / total

    def times(self, n: int, rng: random.Random) -> list[float]:
        """Arrival times (seconds from 0) of ``n`` requests, drawn from ``rng``.

        The process starts in a burst. Within a state arrivals are Poisson; since the exponential
        is memoryless, the next gap is redrawn whenever the state changes.
        """
        _check_count(n)
        out: list[float] = []
        t = 0.0
        on = True
        state_end = rng.expovariate(1 / self.mean_on_s)
        while len(out) < n:
            rate = self.on_rate_per_s if on else self.off_rate_per_s
            gap = rng.expovariate(rate) if rate > 0 else float("inf")
            if t + gap < state_end:
                t += gap
                out.append(t)
                continue
            t = state_end
            on = not on
            state_end = t + rng.expovariate(1 / (self.mean_on_s if on else self.mean_off_s))
        return out


ArrivalProcess = Annotated[PoissonArrivals | BurstyArrivals, Field(discriminator="kind")]
"""Either arrival process, chosen by its ``kind`` field in configuration."""


def _check_count(n: int) -> None:
    if n < 0:
        raise ValueError(f"the number of arrivals must be >= 0, got {n}")


class EdgeQueue:
    """A single FIFO edge server: a step waits until the steps before it are done.

    Example:
        .. code-block:: python

            from langchain_netgpt.bench.workload import EdgeQueue

            queue = EdgeQueue()
            queue.serve(at_s=0.0, service_s=2.0)
            assert queue.serve(at_s=1.0, service_s=2.0) == 1.0  # waited for the first
            assert queue.busy_until_s == 4.0
    """

    __slots__ = ("busy_until_s",)

    def __init__(self) -> None:
        self.busy_until_s = 0.0

    def wait_s(self, at_s: float) -> float:
        """How long a step arriving at ``at_s`` would wait before the edge starts it."""
        return max(0.0, self.busy_until_s - at_s)

    def serve(self, *, at_s: float, service_s: float) -> float:
        """Queue a step arriving at ``at_s`` that takes ``service_s``; return its waiting time.

        Raises:
            ValueError: ``service_s`` is negative.
        """
        if service_s < 0:
            raise ValueError(f"service_s must be >= 0, got {service_s!r}")
        wait = self.wait_s(at_s)
        self.busy_until_s = at_s + wait + service_s
        return wait
