"""Mahimahi packet-delivery traces: :class:`LinkTrace` (capacity, silences, delivery times).

A trace file lists, one per line, the millisecond timestamps at which a 1500-byte packet may be
delivered. The replayed network monitors (:mod:`langchain_netgpt.routing.network_replay`), the
benchmarks and the WAN shaper of the stand-in cloud read links through this class.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path

from langchain_netgpt.errors import ConfigurationError, TraceFormatError

__all__ = ["PACKET_BYTES", "LinkTrace", "bytes_time_s", "check_positive"]

PACKET_BYTES = 1500
"""Bytes delivered per line of a mahimahi trace (one MTU-sized packet)."""

_LONG_GAP_MS = 20
"""Silences shorter than this (cellular scheduling) forecast no wait in causal mode."""


def bytes_time_s(nbytes: int, mbps: float) -> float:
    """Seconds to move ``nbytes`` at ``mbps`` Mbit/s (``inf`` over a link that is down)."""
    if nbytes <= 0:
        return 0.0
    if mbps <= 0:
        return math.inf
    return nbytes * 8 / (mbps * 1e6)


def check_positive(name: str, value: float) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is a finite number > 0."""
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
        check_positive("outage_after_s", outage_after_s)
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
