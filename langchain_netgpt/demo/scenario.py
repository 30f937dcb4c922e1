"""The demo's network: one link, seen by the router's monitor and enforced on the stand-in cloud.

A :class:`ScenarioClock` is shared by the router's trace-replaying ``NetworkMonitor`` and the
stand-in server's ``WanEmulator``, so the state the router decides on and the delay the cloud
call really meets come from the same mahimahi trace at the same moment. The clock runs in real
time and can jump forward between tasks, so a short demo crosses a whole scripted degradation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PHASES", "Phase", "ScenarioClock", "write_scripted_degradation"]


class ScenarioClock:
    """Seconds of scenario time: explicit jumps, plus real time scaled by ``speed``.

    The demo jumps the clock to each task's start. Between jumps it advances at ``speed`` times
    real time, so a task whose CPU-bound model calls take many seconds stays in its phase of the
    scripted network instead of drifting into the next one. Delays the WAN emulator derives from
    the trace are still slept in real seconds.

    Args:
        speed: Scenario seconds per real second between jumps (> 0).

    Example:
        .. code-block:: python

            from langchain_netgpt.demo.scenario import ScenarioClock

            clock = ScenarioClock()
            clock.jump_to(30.0)
            assert clock() >= 30.0
    """

    def __init__(self, *, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._lock = threading.Lock()
        self._speed = speed
        self._real0 = time.monotonic()
        self._offset = 0.0

    def _now(self) -> float:
        return self._offset + (time.monotonic() - self._real0) * self._speed

    def __call__(self) -> float:
        """The scenario time now, in seconds."""
        with self._lock:
            return self._now()

    def jump_to(self, scenario_s: float) -> None:
        """Move the clock forward to ``scenario_s`` (never backwards)."""
        with self._lock:
            now = self._now()
            if scenario_s > now:
                self._offset += scenario_s - now


@dataclass(frozen=True)
class Phase:
    """One stretch of the scripted link.

    Attributes:
        name: What a user would call it.
        start_s: Scenario time the phase starts.
        duration_s: How long it lasts.
        packets_per_ms: Delivery opportunities per millisecond while the link is up
            (1 packet/ms = 12 Mbit/s).
        on_ms: Milliseconds the link delivers in each cycle.
        off_ms: Milliseconds of outage in each cycle (0: always up).
    """

    name: str
    start_s: float
    duration_s: float
    packets_per_ms: float
    on_ms: int = 1000
    off_ms: int = 0


PHASES: tuple[Phase, ...] = (
    Phase("LTE, good signal", 0, 20, packets_per_ms=2.0),
    Phase("congested cell", 20, 20, packets_per_ms=0.2, on_ms=600, off_ms=400),
    Phase("edge of coverage", 40, 20, packets_per_ms=0.05, on_ms=300, off_ms=2700),
    Phase("recovered", 60, 20, packets_per_ms=1.0),
)
"""A scripted degradation: good LTE, a congested cell, near-outage, recovery (80 s in all)."""


def _phase_timestamps(phase: Phase) -> list[int]:
    stamps: list[int] = []
    start_ms = int(phase.start_s * 1000)
    end_ms = start_ms + int(phase.duration_s * 1000)
    cycle = phase.on_ms + phase.off_ms
    credit = 0.0
    for t in range(start_ms, end_ms):
        if (t - start_ms) % cycle >= phase.on_ms:
            continue
        credit += phase.packets_per_ms
        while credit >= 1.0:
            stamps.append(t + 1)  # mahimahi timestamps count from 1 ms
            credit -= 1.0
    return stamps


def write_scripted_degradation(
    folder: Path, phases: tuple[Phase, ...] = PHASES
) -> tuple[Path, Path]:
    """Write the phases as mahimahi downlink and uplink traces (uplink: a third of the capacity).

    Args:
        folder: Where to write ``scripted.down`` and ``scripted.up``.
        phases: The phases, in time order and back to back.

    Returns:
        The downlink and uplink trace paths.

    Raises:
        ValueError: The phases overlap, leave gaps, or never deliver a packet.
    """
    expected = 0.0
    for phase in phases:
        if abs(phase.start_s - expected) > 1e-9:
            raise ValueError(f"phase {phase.name!r} starts at {phase.start_s}, expected {expected}")
        expected += phase.duration_s
    down = [t for phase in phases for t in _phase_timestamps(phase)]
    up_phases = tuple(
        Phase(p.name, p.start_s, p.duration_s, p.packets_per_ms / 3, p.on_ms, p.off_ms)
        for p in phases
    )
    up = [t for phase in up_phases for t in _phase_timestamps(phase)]
    if not down or not up:
        raise ValueError("the scripted phases deliver no packet")
    end_ms = int(expected * 1000)
    folder.mkdir(parents=True, exist_ok=True)
    down_path, up_path = folder / "scripted.down", folder / "scripted.up"
    for path, stamps in ((down_path, down), (up_path, up)):
        if stamps[-1] < end_ms:
            stamps.append(end_ms)  # the trace's period is its last timestamp
        path.write_text("\n".join(map(str, stamps)) + "\n", encoding="ascii")
    return down_path, up_path


def phase_at(scenario_s: float, phases: tuple[Phase, ...] = PHASES) -> Phase:
    """The phase in force at a scenario time (the trace loops after the last phase)."""
    total = sum(p.duration_s for p in phases)
    t = scenario_s % total
    for phase in phases:
        if phase.start_s <= t < phase.start_s + phase.duration_s:
            return phase
    return phases[-1]
