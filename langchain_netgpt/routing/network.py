"""Network state and its estimators: the live monitor, and the protocol the replayed ones share.

The router treats the network as a first-class signal: :class:`NetworkState` is what the policy
sees; a :class:`NetworkEstimator` produces it. :class:`NetworkMonitor` estimates it live from the
calls the router makes (an EWMA of observed round trips and transfer rates);
:meth:`NetworkMonitor.from_trace` builds a monitor that replays a recorded cellular trace on a
clock instead (:mod:`langchain_netgpt.routing.network_replay`).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.errors import ConfigurationError, InvalidNetworkStateError
from langchain_netgpt.routing.link_trace import PACKET_BYTES, LinkTrace, bytes_time_s

if TYPE_CHECKING:
    from langchain_netgpt.routing.network_replay import TraceReplayMonitor

__all__ = [
    "PACKET_BYTES",
    "TRACE_FORECASTS",
    "LinkTrace",
    "NetworkEstimator",
    "NetworkMonitor",
    "NetworkObservation",
    "NetworkSample",
    "NetworkSampleClock",
    "NetworkSampleSource",
    "NetworkState",
    "TraceForecast",
    "check_measurements",
    "round_trip_s",
]

_NETWORK_FIELDS = ("bandwidth_up_mbps", "bandwidth_down_mbps", "rtt_ms", "loss")

TraceForecast = Literal["oracle", "causal"]
"""How a trace monitor forecasts the link (see :meth:`NetworkMonitor.from_trace`)."""

TRACE_FORECASTS: tuple[str, ...] = get_args(TraceForecast)
"""The values :data:`TraceForecast` takes."""


def check_measurements(data: Mapping[str, Any]) -> None:
    """Check the network measurements in ``data`` (the fields of :class:`NetworkState` present).

    Raises:
        InvalidNetworkStateError: A value is not a number, not finite, negative, or a loss >= 1.
    """
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
        check_measurements(data)
        super().__init__(**data)

    @classmethod
    def checked(cls, state: Any) -> NetworkState:
        """``state`` itself, checked to be a :class:`NetworkState` (for ``update(state)``).

        Raises:
            TypeError: ``state`` is not a :class:`NetworkState`.
        """
        if not isinstance(state, NetworkState):
            raise TypeError(f"update() expects a NetworkState, got {type(state).__name__}")
        return state

    def transfer_s(self, *, up_bytes: int, down_bytes: int) -> float:
        """Seconds to push ``up_bytes`` up and ``down_bytes`` down at this state's bandwidths.

        Loss inflates the transfer by ``1 / (1 - loss)`` (retransmissions).

        Args:
            up_bytes: Bytes sent to the cloud.
            down_bytes: Bytes received from the cloud.

        Returns:
            Transfer time in seconds; ``inf`` when bytes must cross a link of zero bandwidth.
        """
        total = bytes_time_s(up_bytes, self.bandwidth_up_mbps) + bytes_time_s(
            down_bytes, self.bandwidth_down_mbps
        )
        return total / (1.0 - self.loss)


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


class NetworkSampleSource(StrEnum):
    """How a cloud answer's network sample was separated from the server's compute time."""

    SERVER_TIMING = "server_timing"
    """A whole answer: its wall time minus the compute time a response header reported
    (``x-netgpt-server-ms``, ``openai-processing-ms``, TGI's ``x-compute-time``,
    ``Server-Timing``)."""
    FIRST_CHUNK_TIMING = "first_chunk_timing"
    """A stream: the time to its first chunk minus the server's reported time to its first chunk
    (``x-netgpt-server-first-chunk-ms``, or a timing header sent when the stream started)."""
    UNSEPARATED = "unseparated"
    """No server timing: compute and network cannot be told apart, so the sample was not fed to
    the monitor as a round trip."""


class NetworkSampleClock(StrEnum):
    """Where a network sample's times were taken."""

    CONNECTION = "connection"
    """At the HTTP connection: from the request leaving to the response headers arriving
    (event hooks on the cloud's ``httpx`` client); the client's own work is left out."""
    CALL = "call"
    """Around the model call (its wall time, or its time to the first streamed chunk): includes
    the client's request building and parsing."""


class NetworkSample(BaseModel):
    """What one cloud answer told the network monitor, and how (a trace's ``network_sample``).

    Args:
        source: How network time was separated from compute time.
        clock: Where the times were taken (``None``: no time was used, see ``source``).
        header: The response header that reported the server's time (``None``: none did).
        elapsed_s: Wall time of the try, as the router measured it.
        ttfb_s: Time to the first byte: the response headers (connection clock) or the first
            streamed chunk (call clock); ``None`` when not used.
        server_s: The server's reported compute time (to the first chunk for a stream).
        rtt_ms: The round trip fed to the monitor (``None``: not fed, see ``source``).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.network import NetworkSample, NetworkSampleSource

            sample = NetworkSample(
                source=NetworkSampleSource.SERVER_TIMING,
                header="x-netgpt-server-ms",
                elapsed_s=2.05,
                server_s=2.0,
                rtt_ms=50.0,
            )
            assert sample.fed
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: NetworkSampleSource
    clock: NetworkSampleClock | None = None
    header: str | None = None
    elapsed_s: float = Field(ge=0, allow_inf_nan=False)
    ttfb_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    server_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    rtt_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @property
    def fed(self) -> bool:
        """Whether the sample reached the monitor as a round trip."""
        return self.rtt_ms is not None


def round_trip_s(obs: NetworkObservation, current: NetworkState) -> float:
    """The round trip one observation reveals, given the current bandwidth estimate.

    What remains of the time to first byte (or of the total time when no first byte was seen)
    after the server's compute and the transfers; never negative.
    """
    up_s = bytes_time_s(obs.bytes_sent, current.bandwidth_up_mbps)
    down_s = bytes_time_s(obs.bytes_received, current.bandwidth_down_mbps)
    if obs.ttfb_s is not None:
        rtt_s = obs.ttfb_s - obs.server_s - (up_s if math.isfinite(up_s) else 0.0)
    else:
        transfer = up_s + down_s
        rtt_s = obs.total_s - obs.server_s - (transfer if math.isfinite(transfer) else 0.0)
    return max(rtt_s, 0.0)


@runtime_checkable
class NetworkEstimator(Protocol):
    """What the router reads the network from: a live monitor or a replayed trace.

    :class:`NetworkMonitor` (live EWMA), the replay monitors of
    :mod:`langchain_netgpt.routing.network_replay` and
    :class:`~langchain_netgpt.testing.FixedNetworkMonitor` implement it.
    """

    def state(self, *, payload_bytes: int = PACKET_BYTES) -> NetworkState:
        """The network state the policy should use now for a request of ``payload_bytes``."""
        ...

    def observe(
        self,
        *,
        bytes_sent: int,
        bytes_received: int,
        total_s: float,
        ttfb_s: float | None = None,
        server_s: float = 0.0,
    ) -> NetworkState:
        """Fold one real cloud call's measurements in; return the estimate after it."""
        ...

    def update(self, state: NetworkState) -> None:
        """Set the state explicitly (an active probe, an OS signal, a test)."""
        ...

    @property
    def observations(self) -> int:
        """How many observations the estimate has absorbed."""
        ...


class NetworkMonitor:
    """Estimates the current :class:`NetworkState` live, from the calls the router makes.

    It keeps an exponentially weighted moving average (EWMA) of what real cloud calls reveal
    (round trip and transfer rates, see :meth:`observe`); :meth:`update` sets a state explicitly
    (from an active probe or an OS API). To replay a recorded mahimahi trace instead, use
    :meth:`from_trace`.

    The round trip moves towards the smallest of the last ``rtt_window`` samples (as TCP's and
    BBR's ``min_rtt`` filters do): what delays a single sample beyond the link (a busy client or
    server thread, a late timer) only ever adds time, so one slow call does not move the
    estimate, while a link that really got slower does once ``rtt_window`` calls saw it (and a
    faster one at once). ``rtt_window=1`` is a plain EWMA of every sample.

    Args:
        initial: The state assumed before anything is observed.
        alpha: EWMA weight of a new observation, in ``(0, 1]``.
        min_transfer_bytes: Transfers smaller than this do not update bandwidth estimates
            (tool-calling payloads of a few KB say little about capacity).
        rtt_window: Round-trip samples the minimum is taken over (``>= 1``).

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
        rtt_window: int = 5,
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
        if isinstance(rtt_window, bool) or not isinstance(rtt_window, int) or rtt_window < 1:
            raise ConfigurationError(
                f"rtt_window must be an int >= 1, got {rtt_window!r}",
                field="rtt_window",
                value=rtt_window,
            )
        self._rtt_samples: deque[float] = deque(maxlen=rtt_window)
        self._state = initial or self.DEFAULT_INITIAL
        self._alpha = alpha
        self._min_transfer_bytes = min_transfer_bytes
        self._lock = threading.Lock()
        self._observations = 0

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
    ) -> TraceReplayMonitor:
        """A monitor that replays mahimahi traces (a factory of the replay monitors).

        Args:
            down_path: Downlink trace file.
            up_path: Uplink trace file; defaults to the downlink trace.
            base_rtt_ms: Propagation RTT of the scenario (traces carry capacity only).
            window_s: Sliding window over which bandwidth is averaged.
            clock: Seconds source used when ``state`` is called without ``at_s``;
                defaults to ``time.monotonic`` started at construction.
            speed: Replay speed when the clock is used (2.0 plays the trace twice as fast).
            outage_after_s: Seconds without any delivery opportunity after which the link is
                reported down (bandwidth 0). A shorter silence (cellular traces have many gaps
                of a few hundred ms) is reported as the low bandwidth of the window stretched to
                the next delivery, see :meth:`LinkTrace.capacity_mbps`; the wait it imposes is
                in the state's ``rtt_ms`` either way.
            forecast: ``"oracle"`` (the default,
                :class:`~langchain_netgpt.routing.network_replay.OracleTraceMonitor`) reads the
                trace ahead of the clock: a silent window's bandwidth is stretched to the next
                delivery and ``rtt_ms`` holds the wait the payload will actually meet, which no
                deployed router can know (an upper bound on network forecasting, and a faithful
                emulator for demos). ``"causal"``
                (:class:`~langchain_netgpt.routing.network_replay.CausalTraceMonitor`) uses only
                the trace up to the clock: bandwidth over the window (the trace's long-run mean
                when the window is silent but the link is not yet down) and ``rtt_ms`` = base
                RTT + the wait :meth:`LinkTrace.expected_wait_s` forecasts from the uplink's
                silence so far and the silences it showed before (for the replay benchmark).

        Returns:
            The replay monitor.

        Raises:
            InvalidNetworkStateError: ``base_rtt_ms`` is negative or not finite.
            ConfigurationError: ``window_s``, ``speed`` or ``outage_after_s`` is not > 0, or
                ``forecast`` is not one of :data:`TRACE_FORECASTS`.
        """
        from langchain_netgpt.routing.network_replay import replay_monitor

        return replay_monitor(
            down_path,
            up_path,
            base_rtt_ms=base_rtt_ms,
            window_s=window_s,
            clock=clock,
            speed=speed,
            outage_after_s=outage_after_s,
            forecast=forecast,
        )

    @property
    def observations(self) -> int:
        """How many observations the live estimate has absorbed."""
        return self._observations

    def state(
        self, *, at_s: float | None = None, payload_bytes: int = PACKET_BYTES
    ) -> NetworkState:
        """The network state the policy should use now (the live estimate).

        Args:
            at_s: Only for replay monitors; a live monitor refuses it.
            payload_bytes: Size of the request about to be sent (the live estimate does not
                depend on it).

        Raises:
            ConfigurationError: ``at_s`` was given (a live monitor has no replay clock).
        """
        if at_s is not None:
            raise ConfigurationError(
                "at_s is only meaningful for a monitor built with from_trace()",
                field="at_s",
                value=at_s,
            )
        with self._lock:
            return self._state

    def update(self, state: NetworkState) -> None:
        """Set the live state explicitly (an active probe, an OS signal, a test).

        Raises:
            TypeError: ``state`` is not a :class:`NetworkState`.
        """
        checked = NetworkState.checked(state)
        with self._lock:
            self._state = checked

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
        bandwidth estimate; the estimate moves towards the smallest of the last ``rtt_window``
        such samples. Bandwidth is updated only from transfers of at least
        ``min_transfer_bytes``.

        Args:
            bytes_sent: Request bytes.
            bytes_received: Response bytes.
            total_s: Wall time of the call.
            ttfb_s: Time to first byte, when known.
            server_s: Known or expected server compute time.

        Returns:
            The new estimate.
        """
        obs = NetworkObservation(bytes_sent, bytes_received, total_s, ttfb_s, server_s)
        with self._lock:
            self._state = self._folded(self._state, obs)
            self._observations += 1
            return self._state

    def _folded(self, current: NetworkState, obs: NetworkObservation) -> NetworkState:
        a = self._alpha
        self._rtt_samples.append(round_trip_s(obs, current) * 1000)
        rtt_ms = (1 - a) * current.rtt_ms + a * min(self._rtt_samples)
        up_mbps, down_mbps = current.bandwidth_up_mbps, current.bandwidth_down_mbps
        if obs.ttfb_s is not None and obs.bytes_received >= self._min_transfer_bytes:
            body_s = obs.total_s - obs.ttfb_s
            if body_s > 0:
                down_mbps = (1 - a) * down_mbps + a * obs.bytes_received * 8 / body_s / 1e6
        return NetworkState(
            bandwidth_up_mbps=up_mbps,
            bandwidth_down_mbps=down_mbps,
            rtt_ms=rtt_ms,
            loss=current.loss,
        )
