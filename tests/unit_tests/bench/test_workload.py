from __future__ import annotations

import random
import statistics

import pytest
from pydantic import ValidationError

from langchain_netgpt.bench.workload import BurstyArrivals, EdgeQueue, PoissonArrivals


def test_poisson_arrivals_come_at_the_configured_rate() -> None:
    times = PoissonArrivals(rate_per_s=2.0).times(5000, random.Random(3))
    assert times == sorted(times)
    assert len(times) / times[-1] == pytest.approx(2.0, rel=0.05)


def test_poisson_gaps_have_unit_coefficient_of_variation() -> None:
    times = PoissonArrivals(rate_per_s=1.0).times(5000, random.Random(4))
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.06)


def test_bursty_arrivals_keep_their_mean_rate_and_are_burstier_than_poisson() -> None:
    process = BurstyArrivals(on_rate_per_s=2.0, off_rate_per_s=0.1, mean_on_s=5, mean_off_s=20)
    times = process.times(8000, random.Random(5))
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert len(times) / times[-1] == pytest.approx(process.mean_rate_per_s, rel=0.1)
    assert statistics.stdev(gaps) / statistics.mean(gaps) > 1.5


def test_same_generator_seed_gives_the_same_arrivals() -> None:
    process = BurstyArrivals(on_rate_per_s=1.0)
    assert process.times(50, random.Random(9)) == process.times(50, random.Random(9))


def test_bursts_must_be_busier_than_gaps() -> None:
    with pytest.raises(ValidationError, match="must exceed off_rate_per_s"):
        BurstyArrivals(on_rate_per_s=0.1, off_rate_per_s=0.2)
    with pytest.raises(ValidationError, match="rate_per_s"):
        PoissonArrivals(rate_per_s=0)


def test_busy_edge_makes_later_steps_wait() -> None:
    queue = EdgeQueue()
    assert queue.serve(at_s=0.0, service_s=2.0) == 0.0
    assert queue.serve(at_s=0.5, service_s=2.0) == pytest.approx(1.5)
    assert queue.wait_s(1.0) == pytest.approx(3.0)
    assert queue.serve(at_s=10.0, service_s=1.0) == 0.0


def test_negative_service_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="service_s"):
        EdgeQueue().serve(at_s=0.0, service_s=-1.0)
