"""Network monitors that replay mahimahi traces on a clock: an oracle and a causal forecast.

Both answer :meth:`~TraceReplayMonitor.state` from a recorded uplink and downlink (see
:class:`~langchain_netgpt.routing.link_trace.LinkTrace`) at a replay time: bandwidth over a sliding
window (0, "down", only after ``outage_after_s`` without any delivery) and the base RTT plus a wait.
:class:`OracleTraceMonitor` reads the trace ahead of the clock (the wait a payload will really
meet); :class:`CausalTraceMonitor` answers from the past alone, as a deployed router must. Build
them directly or with :meth:`NetworkMonitor.from_trace
<langchain_netgpt.routing.network.NetworkMonitor.from_trace>`; both implement
:class:`~langchain_netgpt.routing.network.NetworkEstimator`.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.link_trace import (
    PACKET_BYTES,
    LinkTrace,
    bytes_time_s,
    check_positive,
)
from langchain_netgpt.routing.network import (
    TRACE_FORECASTS,
    NetworkObservation,
    NetworkState,
    TraceForecast,
    check_measurements,
)

__all__ = ["CausalTraceMonitor", "OracleTraceMonitor", "TraceReplayMonitor", "replay_monitor"]


def _check_settings(base_rtt_ms: float, window_s: float, speed: float, outage: float) -> None:
    check_measurements({"rtt_ms": base_rtt_ms})
    for name, value in (("window_s", window_s), ("speed", speed), ("outage_after_s", outage)):
        check_positive(name, value)


class TraceReplayMonitor(ABC):
    """Base of the replay monitors: the two links, the replay clock and the explicit loss.

    Observations of real calls are checked and ignored (the trace is the network); :meth:`update`
    sets the state whose ``loss`` the replayed states carry.

    Args:
        down: Downlink trace.
        up: Uplink trace (the downlink's when ``None``).
        base_rtt_ms: Propagation RTT of the scenario (traces carry capacity only).
        window_s: Sliding window over which bandwidth is averaged.
        clock: Seconds source used when :meth:`state` is called without ``at_s``; defaults to
            ``time.monotonic`` started at construction.
        speed: Replay speed when the clock is used (2.0 plays the trace twice as fast).
        outage_after_s: Seconds without any delivery opportunity after which the link is down.

    Raises:
        InvalidNetworkStateError: ``base_rtt_ms`` is negative or not finite.
        ConfigurationError: ``window_s``, ``speed`` or ``outage_after_s`` is not > 0.
    """

    forecast: TraceForecast
    """How this monitor forecasts the link."""

    def __init__(
        self,
        down: LinkTrace,
        up: LinkTrace | None = None,
        *,
        base_rtt_ms: float = 40.0,
        window_s: float = 1.0,
        clock: Callable[[], float] | None = None,
        speed: float = 1.0,
        outage_after_s: float = 5.0,
    ) -> None:
        _check_settings(base_rtt_ms, window_s, speed, outage_after_s)
        self.down = down
        self.up = up if up is not None else down
        self.base_rtt_ms = base_rtt_ms
        self.window_s = window_s
        self.outage_after_s = outage_after_s
        self._explicit = NetworkState(
            bandwidth_up_mbps=self.up.mean_mbps,
            bandwidth_down_mbps=self.down.mean_mbps,
            rtt_ms=base_rtt_ms,
        )
        self._lock = threading.Lock()
        base_clock = clock or time.monotonic
        t0 = base_clock()
        self._clock: Callable[[], float] = lambda: (base_clock() - t0) * speed

    @property
    def observations(self) -> int:
        """Always 0: a replayed link does not learn from calls."""
        return 0

    def now_s(self) -> float:
        """Current replay time in seconds."""
        return self._clock()

    def state(
        self, *, at_s: float | None = None, payload_bytes: int = PACKET_BYTES
    ) -> NetworkState:
        """The network state at replay time ``at_s`` (default: the replay clock).

        Args:
            at_s: Replay time in seconds.
            payload_bytes: Size of the request about to be sent (the oracle adds the wait it
                would meet beyond its ideal transfer time to the RTT).

        Raises:
            ConfigurationError: ``at_s`` is negative or not finite.
        """
        t = self.now_s() if at_s is None else at_s
        if not math.isfinite(t) or t < 0:
            raise ConfigurationError(f"at_s must be >= 0, got {t!r}", field="at_s", value=t)
        with self._lock:
            loss = self._explicit.loss
        return self._state_at(t, payload_bytes, loss)

    @abstractmethod
    def _state_at(self, t: float, payload_bytes: int, loss: float) -> NetworkState:
        """The replayed state at ``t`` for a payload, carrying the explicit ``loss``."""

    def update(self, state: NetworkState) -> None:
        """Set the explicit state (its ``loss`` is carried by the replayed states).

        Raises:
            TypeError: ``state`` is not a :class:`NetworkState`.
        """
        checked = NetworkState.checked(state)
        with self._lock:
            self._explicit = checked

    def observe(
        self,
        *,
        bytes_sent: int,
        bytes_received: int,
        total_s: float,
        ttfb_s: float | None = None,
        server_s: float = 0.0,
    ) -> NetworkState:
        """Check an observation and return the replayed state (the trace is the network)."""
        NetworkObservation(bytes_sent, bytes_received, total_s, ttfb_s, server_s)
        return self.state()


class OracleTraceMonitor(TraceReplayMonitor):
    """Replays a trace reading ahead of the clock (an upper bound on network forecasting).

    A silent window's bandwidth is stretched to the next delivery
    (:meth:`LinkTrace.capacity_mbps`) and ``rtt_ms`` holds the wait the payload will actually meet
    behind an outage, which no deployed router can know; a faithful emulator for demos.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.link_trace import LinkTrace
            from langchain_netgpt.routing.network_replay import OracleTraceMonitor

            link = LinkTrace([1, 2, 3, 4, 2000], name="gap")
            monitor = OracleTraceMonitor(link, base_rtt_ms=30)
            assert monitor.state(at_s=0.01).rtt_ms > 1000  # the payload waits for the gap's end
    """

    forecast: TraceForecast = "oracle"

    def _state_at(self, t: float, payload_bytes: int, loss: float) -> NetworkState:
        w, outage = self.window_s, self.outage_after_s
        up_mbps = self.up.capacity_mbps(at_s=t, window_s=w, outage_after_s=outage)
        down_mbps = self.down.capacity_mbps(at_s=t, window_s=w, outage_after_s=outage)
        delivery = self.up.delivery_time_s(start_s=t, nbytes=payload_bytes)
        ideal = bytes_time_s(payload_bytes, self.up.mean_mbps)
        queueing_ms = max(0.0, delivery - ideal) * 1000
        return NetworkState(
            bandwidth_up_mbps=up_mbps,
            bandwidth_down_mbps=down_mbps,
            rtt_ms=self.base_rtt_ms + queueing_ms,
            loss=loss,
        )


class CausalTraceMonitor(TraceReplayMonitor):
    """Replays a trace from the past alone, as a deployed router must (the replay benchmark's).

    Bandwidth over the window (the trace's long-run mean when the window is silent but the link is
    not yet down) and ``rtt_ms`` = base RTT + the wait :meth:`LinkTrace.expected_wait_s` forecasts
    from the uplink's silence so far and the silences it showed before.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.link_trace import LinkTrace
            from langchain_netgpt.routing.network_replay import CausalTraceMonitor

            link = LinkTrace([1, 2, 3, 4, 2000], name="gap")
            monitor = CausalTraceMonitor(link, base_rtt_ms=30)
            assert monitor.state(at_s=0.01).rtt_ms < 1000  # it cannot know the gap is long
    """

    forecast: TraceForecast = "causal"

    def _state_at(self, t: float, payload_bytes: int, loss: float) -> NetworkState:
        w, outage = self.window_s, self.outage_after_s
        wait_s = self.up.expected_wait_s(at_s=t)

        def rate(link: LinkTrace) -> float:
            if link.silence_s(at_s=t) >= outage:
                return 0.0
            mbps = link.bandwidth_mbps(at_s=t, window_s=w)
            return mbps if mbps > 0 else link.mean_mbps

        return NetworkState(
            bandwidth_up_mbps=rate(self.up),
            bandwidth_down_mbps=rate(self.down),
            rtt_ms=self.base_rtt_ms + wait_s * 1000,
            loss=loss,
        )


_MONITORS: dict[str, type[TraceReplayMonitor]] = {
    "oracle": OracleTraceMonitor,
    "causal": CausalTraceMonitor,
}


def replay_monitor(
    down_path: str | Path,
    up_path: str | Path | None = None,
    *,
    base_rtt_ms: float = 40.0,
    window_s: float = 1.0,
    clock: Callable[[], float] | None = None,
    speed: float = 1.0,
    outage_after_s: float = 5.0,
    forecast: TraceForecast = "oracle",
) -> TraceReplayMonitor:
    """The replay monitor of ``forecast`` over trace files (see ``NetworkMonitor.from_trace``).

    Raises:
        InvalidNetworkStateError: ``base_rtt_ms`` is negative or not finite.
        ConfigurationError: ``window_s``, ``speed`` or ``outage_after_s`` is not > 0, or
            ``forecast`` is not one of :data:`~langchain_netgpt.routing.network.TRACE_FORECASTS`.
        TraceFormatError: A trace file is malformed.
    """
    # Checked before the files are read, so a bad setting is reported first.
    _check_settings(base_rtt_ms, window_s, speed, outage_after_s)
    if forecast not in TRACE_FORECASTS:
        raise ConfigurationError(
            f"forecast must be one of {list(TRACE_FORECASTS)}, got {forecast!r}",
            field="forecast",
            value=forecast,
        )
    down = LinkTrace.from_file(down_path)
    up = LinkTrace.from_file(up_path) if up_path is not None else down
    return _MONITORS[forecast](
        down,
        up,
        base_rtt_ms=base_rtt_ms,
        window_s=window_s,
        clock=clock,
        speed=speed,
        outage_after_s=outage_after_s,
    )
