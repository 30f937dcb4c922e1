"""Network state, live estimation from observed calls, and mahimahi trace replay.

The router treats the network as a first-class signal: :class:`NetworkState` is what the policy
sees, :class:`NetworkMonitor` produces it, either from the calls the router makes (an EWMA of
observed round trips and transfer rates) or from a recorded cellular trace replayed on a clock.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.errors import ConfigurationError, InvalidNetworkStateError, TraceFormatError

__all__ = [
    "TRACE_FORECASTS",
    "LinkTrace",
    "NetworkMonitor",
    "NetworkObservation",
    "NetworkState",
    "TraceForecast",
]

PACKET_BYTES = 1500
"""Bytes delivered per line of a mahimahi trace (one MTU-sized packet)."""

_NETWORK_FIELDS = ("bandwidth_up_mbps", "bandwidth_down_mbps", "rtt_ms", "loss")

_LONG_GAP_MS = 20
"""Silences shorter than this (cellular scheduling) forecast no wait in causal mode."""

TraceForecast = Literal["oracle", "causal"]
"""How a trace monitor forecasts the link (see :meth:`NetworkMonitor.from_trace`)."""

TRACE_FORECASTS: tuple[str, ...] = get_args(TraceForecast)
"""The values :data:`TraceForecast` takes."""


def _check_measurements(data: Mapping[str, Any]) -> None:
    for name in _NETWORK_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidNetworkStateError(
                f"NetworkState.{name} must be a number, got {value!r}", field=name, value=value
            )
        if math.isnan(value) or math.isinf(value):
            raise InvalidNetworkStateError(
                f"NetworkState.{name} must be finite, got {value!r}", field=name, value=value
            )
        if value < 0:
            raise InvalidNetworkStateError(
                f"NetworkState.{name} must be >= 0, got {value!r}", field=name, value=value
            )
    loss = data.get("loss", 0.0)
    if isinstance(loss, int | float) and loss >= 1.0:
        raise InvalidNetworkStateError(
            f"NetworkState.loss is a fraction in [0, 1), got {loss!r}", field="loss", value=loss
        )


class NetworkState(BaseModel):
    """A snapshot of the link between the user and the cloud.

    A bandwidth of 0 means the link is down at that moment (a cellular outage); the cloud's transfer
    time is then infinite and any policy keeps the step on the edge.

    Args:
        bandwidth_up_mbps: Uplink capacity in megabits per second.
        bandwidth_down_mbps: Downlink capacity in megabits per second.
        rtt_ms: Round-trip time in milliseconds (including queueing delay).
        loss: Packet loss as a fraction in ``[0, 1)``.

    Raises:
        InvalidNetworkStateError: A value is negative, NaN, infinite, or ``loss >= 1``.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetworkState

            lte = NetworkState(bandwidth_up_mbps=5, bandwidth_down_mbps=20, rtt_ms=60)
            assert lte.transfer_s(up_bytes=125_000, down_bytes=0) == 0.2
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bandwidth_up_mbps: float = Field(ge=0, description="Uplink capacity, Mbit/s.")
    bandwidth_down_mbps: float = Field(ge=0, description="Downlink capacity, Mbit/s.")
    rtt_ms: float = Field(ge=0, description="Round-trip time, ms.")
    loss: float = Field(default=0.0, ge=0, lt=1, description="Packet loss fraction in [0, 1).")

    def __init__(self, **data: Any) -> None:
        _check_measurements(data)
        super().__init__(**data)

    def transfer_s(self, *, up_bytes: int, down_bytes: int) -> float:
        """Seconds to push ``up_bytes`` up and ``down_bytes`` down at this state's bandwidths.

        Loss inflates the transfer by ``1 / (1 - loss)`` (retransmissions).

        Args:
            up_bytes: Bytes sent to the cloud.
            down_bytes: Bytes received from the cloud.

        Returns:
            Transfer time in seconds; ``inf`` when bytes must cross a link of zero bandwidth.
        """
        total = _bytes_time_s(up_bytes, self.bandwidth_up_mbps) + _bytes_time_s(
            down_bytes, self.bandwidth_down_mbps
        )
        return total / (1.0 - self.loss)


def _bytes_time_s(nbytes: int, mbps: float) -> float:
    if nbytes <= 0:
        return 0.0
    if mbps <= 0:
        return math.inf
    return nbytes * 8 / (mbps * 1e6)


@dataclass(frozen=True, slots=True)
class NetworkObservation:
    """What one real cloud call revealed about the link.

    Attributes:
        bytes_sent: Request bytes on the wire.
        bytes_received: Response bytes on the wire.
        total_s: Wall time of the whole call.
        ttfb_s: Time to first byte of the response, when streaming made it observable.
        server_s: Time the server spent computing (subtracted from the round trip), if known.
    """

    bytes_sent: int
    bytes_received: int
    total_s: float
    ttfb_s: float | None = None
    server_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("bytes_sent", "bytes_received", "total_s", "server_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InvalidNetworkStateError(
                    f"NetworkObservation.{name} must be finite and >= 0, got {value!r}",
                    field=name,
                    value=value,
                )
        if self.ttfb_s is not None and (
            not math.isfinite(self.ttfb_s) or not 0 <= self.ttfb_s <= self.total_s
        ):
            raise InvalidNetworkStateError(
                f"NetworkObservation.ttfb_s must lie in [0, total_s={self.total_s}], "
                f"got {self.ttfb_s!r}",
                field="ttfb_s",
                value=self.ttfb_s,
            )


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(
            f"{name} must be a finite number > 0, got {value!r}", field=name, value=value
        )


class LinkTrace:
    """One direction of a mahimahi packet-delivery trace.

    Each line of the file is a millisecond timestamp at which one 1500-byte packet may be
    delivered; the trace repeats with a period equal to its last timestamp, as mahimahi replays it.

    Args:
        timestamps_ms: Delivery opportunities in ms, non-decreasing, the last one > 0.
        name: A label (usually the file name).

    Raises:
        TraceFormatError: The timestamps are empty, decreasing, negative or all zero.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.network import LinkTrace

            link = LinkTrace([1, 1, 2, 3, 4], name="toy")  # 5 packets every 4 ms
            assert round(link.bandwidth_mbps(at_s=0.004, window_s=0.004)) == 15
    """

    def __init__(self, timestamps_ms: list[int], *, name: str = "trace") -> None:
        if not timestamps_ms:
            raise TraceFormatError(f"trace {name!r} has no delivery opportunities", path=name)
        previous = 0
        for index, ts in enumerate(timestamps_ms):
            if ts < previous:
                raise TraceFormatError(
                    f"trace {name!r}: timestamps must be non-decreasing and >= 0, "
                    f"line {index + 1} has {ts} after {previous}",
                    path=name,
                    line=index + 1,
                )
            previous = ts
        if timestamps_ms[-1] <= 0:
            raise TraceFormatError(f"trace {name!r}: the last timestamp must be > 0", path=name)
        self.name = name
        self.period_ms: int = timestamps_ms[-1]
        # Mahimahi replays the file in a loop: an opportunity at t recurs at t + k * period, so one
        # at exactly `period` is the same as one at 0 of the next loop.
        self._ts = sorted(ts % self.period_ms for ts in timestamps_ms)
        self._gaps_cache: list[tuple[float, float]] | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> LinkTrace:
        """Read a mahimahi trace file (one integer millisecond timestamp per line).

        Args:
            path: The trace file.

        Returns:
            The parsed trace.

        Raises:
            TraceFormatError: A line is not a non-negative integer, or the file is empty.
            FileNotFoundError: The file does not exist.
        """
        p = Path(path)
        timestamps: list[int] = []
        with p.open("r", encoding="ascii", errors="replace") as fh:
            for lineno, raw in enumerate(fh, start=1):
                text = raw.strip()
                if not text:
                    continue
                try:
                    value = int(text)
                except ValueError:
                    raise TraceFormatError(
                        f"{p}: line {lineno} is not an integer millisecond timestamp: "
                        f"{text[:40]!r}",
                        path=str(p),
                        line=lineno,
                    ) from None
                timestamps.append(value)
        if not timestamps:
            raise TraceFormatError(f"{p}: the trace file is empty", path=str(p))
        return cls(timestamps, name=str(p))

    @property
    def mean_mbps(self) -> float:
        """Average capacity over one period, Mbit/s."""
        return len(self._ts) * PACKET_BYTES * 8 / (self.period_ms / 1000) / 1e6

    def _count_before(self, t_ms: float) -> int:
        """Opportunities at times in ``[0, t_ms)`` of the unrolled (looping) trace."""
        if t_ms <= 0:
            return 0
        periods, rest = divmod(t_ms, self.period_ms)
        return int(periods) * len(self._ts) + bisect.bisect_left(self._ts, rest)

    def packets_between(self, start_s: float, end_s: float) -> int:
        """Delivery opportunities in the interval ``[start_s, end_s)`` of replay time."""
        return self._count_before(end_s * 1000) - self._count_before(start_s * 1000)

    def bandwidth_mbps(self, *, at_s: float, window_s: float = 1.0) -> float:
        """Capacity over the sliding window ``[at_s - window_s, at_s)``, Mbit/s.

        Before ``window_s`` has elapsed the window keeps its length, anchored at 0.
        """
        if not (math.isfinite(window_s) and window_s > 0):
            raise ConfigurationError(
                f"window_s must be a finite number > 0, got {window_s!r}",
                field="window_s",
                value=window_s,
            )
        start = at_s - window_s
        if start < 0:
            start, at_s = 0.0, window_s
        packets = self.packets_between(start, at_s)
        return packets * PACKET_BYTES * 8 / window_s / 1e6

    def _opportunity_s(self, index: int) -> float:
        """Time of the ``index``-th opportunity of the unrolled (looping) trace, seconds."""
        periods, i = divmod(index, len(self._ts))
        return (periods * self.period_ms + self._ts[i]) / 1000

    def silence_s(self, *, at_s: float) -> float:
        """Seconds since the last delivery opportunity before ``at_s`` (since 0 if none)."""
        before = self._count_before(at_s * 1000)
        last = self._opportunity_s(before - 1) if before > 0 else 0.0
        return max(0.0, at_s - last)

    def _long_gaps(self) -> list[tuple[float, float]]:
        """``(end_s, length_s)`` of each silence of at least 20 ms in one period, by end time."""
        cached = self._gaps_cache
        if cached is None:
            ts = self._ts
            cached = [
                (b / 1000, (b - a) / 1000)
                for a, b in zip(ts, [*ts[1:], ts[0] + self.period_ms], strict=True)
                if b - a >= _LONG_GAP_MS
            ]
            cached.sort()
            self._gaps_cache = cached
        return cached

    def expected_wait_s(self, *, at_s: float) -> float:
        """Forecast of the wait until the next delivery, from the trace before ``at_s`` alone.

        The silence so far (:meth:`silence_s`) is matched against the silences of at least
        20 ms the link has shown before ``at_s`` (all of one period once the trace has looped):
        the forecast is their mean residual life, ``mean(g - e for g > e)`` for a silence of
        ``e`` seconds. A silence shorter than 20 ms forecasts no wait; one longer than any seen
        forecasts as long again as it has lasted.

        Args:
            at_s: Replay time in seconds.
        """
        elapsed = self.silence_s(at_s=at_s)
        if elapsed * 1000 < _LONG_GAP_MS:
            return 0.0
        gaps = self._long_gaps()
        if at_s * 1000 < self.period_ms:
            seen = [g for end, g in gaps if end <= at_s and g > elapsed]
        else:
            seen = [g for _, g in gaps if g > elapsed]
        if not seen:
            return elapsed
        return sum(seen) / len(seen) - elapsed

    def capacity_mbps(
        self, *, at_s: float, window_s: float = 1.0, outage_after_s: float = 5.0
    ) -> float:
        """Capacity the link offers at ``at_s``, telling a short silence from an outage.

        Like :meth:`bandwidth_mbps`, except when the window ``[at_s - window_s, at_s)`` holds no
        delivery opportunity. Such a silence (a cellular scheduling gap, a handover) is reported
        as the low bandwidth of the window stretched forward to the end of the next opportunity,
        so a transfer started now is neither free nor impossible. Only after ``outage_after_s``
        seconds without any opportunity is the link reported down (``0.0``).

        Args:
            at_s: Replay time in seconds.
            window_s: Averaging window, seconds.
            outage_after_s: Silence after which the link counts as down, seconds.

        Raises:
            ConfigurationError: ``window_s`` or ``outage_after_s`` is not a finite number > 0.
        """
        _check_positive("outage_after_s", outage_after_s)
        mbps = self.bandwidth_mbps(at_s=at_s, window_s=window_s)
        if mbps > 0:
            return mbps
        if self.silence_s(at_s=at_s) >= outage_after_s:
            return 0.0
        start = max(0.0, at_s - window_s)
        end = self._opportunity_s(self._count_before(at_s * 1000)) + 0.001
        packets = self.packets_between(start, end)
        return packets * PACKET_BYTES * 8 / (end - start) / 1e6

    def delivery_time_s(self, *, start_s: float, nbytes: int) -> float:
        """Seconds from ``start_s`` until ``nbytes`` have crossed the link.

        Each opportunity carries one 1500-byte packet; the bytes take the next
        ``ceil(nbytes / 1500)`` opportunities at or after ``start_s``.

        Args:
            start_s: Replay time at which the bytes are handed to the link.
            nbytes: Bytes to deliver.

        Returns:
            Delivery time in seconds (0 for no bytes).
        """
        if nbytes <= 0:
            return 0.0
        first = self._count_before(start_s * 1000)
        last = first + math.ceil(nbytes / PACKET_BYTES) - 1
        periods, index = divmod(last, len(self._ts))
        done_ms = periods * self.period_ms + self._ts[index] + 1  # delivered by the end of that ms
        return max(0.0, done_ms / 1000 - start_s)


class NetworkMonitor:
    """Estimates the current :class:`NetworkState`, live or from a replayed trace.

    Live mode keeps an exponentially weighted moving average (EWMA) of what real cloud calls
    reveal (round trip and transfer rates, see :meth:`observe`); :meth:`update` sets a state
    explicitly (from an active probe or an OS API). Trace mode (:meth:`from_trace`) answers from a
    mahimahi trace on a replay clock: bandwidth over a sliding window (a silent window stretched
    to the next delivery; 0, "down", only after ``outage_after_s`` without any), and the base RTT
    plus the queueing delay a payload would meet at that moment. That ``"oracle"`` forecast reads
    the trace ahead of the clock; ``forecast="causal"`` answers from the past alone, as a deployed
    router must.

    Args:
        initial: The state assumed before anything is observed.
        alpha: EWMA weight of a new observation, in ``(0, 1]``.
        min_transfer_bytes: Transfers smaller than this do not update bandwidth estimates
            (tool-calling payloads of a few KB say little about capacity).

    Example:
        .. code-block:: python

            from langchain_netgpt import NetworkMonitor, NetworkState

            monitor = NetworkMonitor(
                initial=NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=40)
            )
            monitor.observe(bytes_sent=2_000, bytes_received=500, total_s=0.4, server_s=0.2)
            assert monitor.state().rtt_ms > 40
    """

    DEFAULT_INITIAL = NetworkState(bandwidth_up_mbps=10.0, bandwidth_down_mbps=40.0, rtt_ms=50.0)
    """Typical LTE link assumed before any observation."""

    def __init__(
        self,
        *,
        initial: NetworkState | None = None,
        alpha: float = 0.3,
        min_transfer_bytes: int = 32_000,
    ) -> None:
        if not 0 < alpha <= 1:
            raise ConfigurationError(
                f"alpha must be in (0, 1], got {alpha!r}", field="alpha", value=alpha
            )
        if min_transfer_bytes < 0:
            raise ConfigurationError(
                f"min_transfer_bytes must be >= 0, got {min_transfer_bytes!r}",
                field="min_transfer_bytes",
                value=min_transfer_bytes,
            )
        self._state = initial or self.DEFAULT_INITIAL
        self._alpha = alpha
        self._min_transfer_bytes = min_transfer_bytes
        self._lock = threading.Lock()
        self._observations = 0
        # Trace mode.
        self._down: LinkTrace | None = None
        self._up: LinkTrace | None = None
        self._base_rtt_ms = 0.0
        self._window_s = 1.0
        self._outage_after_s = 5.0
        self._forecast: TraceForecast = "oracle"
        self._clock: Callable[[], float] | None = None
        self._t0 = 0.0

    @classmethod
    def from_trace(
        cls,
        down_path: str | Path,
        up_path: str | Path | None = None,
        *,
        base_rtt_ms: float = 40.0,
        window_s: float = 1.0,
        clock: Callable[[], float] | None = None,
        speed: float = 1.0,
        outage_after_s: float = 5.0,
        forecast: TraceForecast = "oracle",
    ) -> NetworkMonitor:
        """A monitor that replays mahimahi traces.

        Args:
            down_path: Downlink trace file.
            up_path: Uplink trace file; defaults to the downlink trace.
            base_rtt_ms: Propagation RTT of the scenario (traces carry capacity only).
            window_s: Sliding window over which bandwidth is averaged.
            clock: Seconds source used when :meth:`state` is called without ``at_s``;
                defaults to ``time.monotonic`` started at construction.
            speed: Replay speed when the clock is used (2.0 plays the trace twice as fast).
            outage_after_s: Seconds without any delivery opportunity after which the link is
                reported down (bandwidth 0). A shorter silence (cellular traces have many gaps
                of a few hundred ms) is reported as the low bandwidth of the window stretched to
                the next delivery, see :meth:`LinkTrace.capacity_mbps`; the wait it imposes is
                in the state's ``rtt_ms`` either way.
            forecast: ``"oracle"`` (the default) reads the trace ahead of the clock: a silent
                window's bandwidth is stretched to the next delivery and ``rtt_ms`` holds the
                wait the payload will actually meet, which no deployed router can know (an
                upper bound on network forecasting, and a faithful emulator for demos).
                ``"causal"`` uses only the trace up to the clock: bandwidth over the window (the
                trace's long-run mean when the window is silent but the link is not yet down)
                and ``rtt_ms`` = base RTT + the wait :meth:`LinkTrace.expected_wait_s` forecasts
                from the uplink's silence so far and the silences it showed before (for the
                replay benchmark).

        Returns:
            A monitor in trace mode.

        Raises:
            InvalidNetworkStateError: ``base_rtt_ms`` is negative or not finite.
            ConfigurationError: ``window_s``, ``speed`` or ``outage_after_s`` is not > 0, or
                ``forecast`` is not one of :data:`TRACE_FORECASTS`.
        """
        _check_measurements({"rtt_ms": base_rtt_ms})
        for name, value in (
            ("window_s", window_s),
            ("speed", speed),
            ("outage_after_s", outage_after_s),
        ):
            _check_positive(name, value)
        if forecast not in TRACE_FORECASTS:
            raise ConfigurationError(
                f"forecast must be one of {list(TRACE_FORECASTS)}, got {forecast!r}",
                field="forecast",
                value=forecast,
            )
        down = LinkTrace.from_file(down_path)
        up = LinkTrace.from_file(up_path) if up_path is not None else down
        monitor = cls(
            initial=NetworkState(
                bandwidth_up_mbps=up.mean_mbps,
                bandwidth_down_mbps=down.mean_mbps,
                rtt_ms=base_rtt_ms,
            )
        )
        monitor._down, monitor._up = down, up
        monitor._base_rtt_ms = base_rtt_ms
        monitor._window_s = window_s
        monitor._outage_after_s = outage_after_s
        monitor._forecast = forecast
        base_clock = clock or time.monotonic
        t0 = base_clock()
        monitor._clock = lambda: (base_clock() - t0) * speed
        return monitor

    @property
    def is_replay(self) -> bool:
        """Whether this monitor replays a trace."""
        return self._down is not None

    @property
    def forecast(self) -> TraceForecast:
        """How a trace monitor forecasts the link (``"oracle"`` for live monitors too)."""
        return self._forecast

    @property
    def observations(self) -> int:
        """How many observations the live estimate has absorbed."""
        return self._observations

    def now_s(self) -> float:
        """Current replay time (trace mode) in seconds.

        Raises:
            ConfigurationError: The monitor is not replaying a trace.
        """
        if self._clock is None:
            raise ConfigurationError("now_s() needs a monitor built with from_trace()")
        return self._clock()

    def state(
        self, *, at_s: float | None = None, payload_bytes: int = PACKET_BYTES
    ) -> NetworkState:
        """The network state the policy should use now.

        Args:
            at_s: Replay time in seconds (trace mode). Defaults to the replay clock.
            payload_bytes: Size of the request about to be sent; in trace mode with the
                ``"oracle"`` forecast the wait it would meet beyond its ideal transfer time
                (queueing behind an outage) is added to the RTT.

        Returns:
            The estimated state.

        Raises:
            ConfigurationError: ``at_s`` was given to a live (non-trace) monitor, or is negative.
        """
        if self._down is None or self._up is None:
            if at_s is not None:
                raise ConfigurationError(
                    "at_s is only meaningful for a monitor built with from_trace()",
                    field="at_s",
                    value=at_s,
                )
            with self._lock:
                return self._state
        t = self.now_s() if at_s is None else at_s
        if not math.isfinite(t) or t < 0:
            raise ConfigurationError(f"at_s must be >= 0, got {t!r}", field="at_s", value=t)
        if self._forecast == "causal":
            return self._causal_state(t)
        w, outage = self._window_s, self._outage_after_s
        up_mbps = self._up.capacity_mbps(at_s=t, window_s=w, outage_after_s=outage)
        down_mbps = self._down.capacity_mbps(at_s=t, window_s=w, outage_after_s=outage)
        delivery = self._up.delivery_time_s(start_s=t, nbytes=payload_bytes)
        ideal = _bytes_time_s(payload_bytes, self._up.mean_mbps)
        queueing_ms = max(0.0, delivery - ideal) * 1000
        with self._lock:
            explicit = self._state
        return NetworkState(
            bandwidth_up_mbps=up_mbps,
            bandwidth_down_mbps=down_mbps,
            rtt_ms=self._base_rtt_ms + queueing_ms,
            loss=explicit.loss,
        )

    def _causal_state(self, t: float) -> NetworkState:
        """The state at ``t`` from the trace before ``t`` alone (see :meth:`from_trace`)."""
        assert self._up is not None and self._down is not None
        w, outage = self._window_s, self._outage_after_s
        wait_s = self._up.expected_wait_s(at_s=t)

        def rate(link: LinkTrace) -> float:
            if link.silence_s(at_s=t) >= outage:
                return 0.0
            mbps = link.bandwidth_mbps(at_s=t, window_s=w)
            return mbps if mbps > 0 else link.mean_mbps

        with self._lock:
            explicit = self._state
        return NetworkState(
            bandwidth_up_mbps=rate(self._up),
            bandwidth_down_mbps=rate(self._down),
            rtt_ms=self._base_rtt_ms + wait_s * 1000,
            loss=explicit.loss,
        )

    def update(self, state: NetworkState) -> None:
        """Set the live state explicitly (an active probe, an OS signal, a test).

        Raises:
            TypeError: ``state`` is not a :class:`NetworkState`.
        """
        if not isinstance(state, NetworkState):
            raise TypeError(f"update() expects a NetworkState, got {type(state).__name__}")
        with self._lock:
            self._state = state

    def observe(
        self,
        *,
        bytes_sent: int,
        bytes_received: int,
        total_s: float,
        ttfb_s: float | None = None,
        server_s: float = 0.0,
    ) -> NetworkState:
        """Fold one real call's measurements into the live estimate.

        The round trip is what remains of the time to first byte (or of the total time when
        streaming did not expose it) after the server's compute and the transfers at the current
        bandwidth estimate. Bandwidth is updated only from transfers of at least
        ``min_transfer_bytes``.

        Args:
            bytes_sent: Request bytes.
            bytes_received: Response bytes.
            total_s: Wall time of the call.
            ttfb_s: Time to first byte, when known.
            server_s: Known or expected server compute time.

        Returns:
            The new estimate (trace monitors ignore observations and return their replay state).
        """
        obs = NetworkObservation(bytes_sent, bytes_received, total_s, ttfb_s, server_s)
        if self.is_replay:
            return self.state()
        with self._lock:
            current = self._state
            a = self._alpha
            up_s = _bytes_time_s(obs.bytes_sent, current.bandwidth_up_mbps)
            down_s = _bytes_time_s(obs.bytes_received, current.bandwidth_down_mbps)
            if obs.ttfb_s is not None:
                rtt_s = obs.ttfb_s - obs.server_s - (up_s if math.isfinite(up_s) else 0.0)
            else:
                transfer = up_s + down_s
                rtt_s = obs.total_s - obs.server_s - (transfer if math.isfinite(transfer) else 0.0)
            rtt_ms = (1 - a) * current.rtt_ms + a * max(rtt_s, 0.0) * 1000
            up_mbps, down_mbps = current.bandwidth_up_mbps, current.bandwidth_down_mbps
            if obs.ttfb_s is not None and obs.bytes_received >= self._min_transfer_bytes:
                body_s = obs.total_s - obs.ttfb_s
                if body_s > 0:
                    down_mbps = (1 - a) * down_mbps + a * obs.bytes_received * 8 / body_s / 1e6
            self._state = NetworkState(
                bandwidth_up_mbps=up_mbps,
                bandwidth_down_mbps=down_mbps,
                rtt_ms=rtt_ms,
                loss=current.loss,
            )
            self._observations += 1
            return self._state
