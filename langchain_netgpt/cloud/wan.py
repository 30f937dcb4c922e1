"""Wide-area network emulation for the local stand-in cloud.

The stand-in server (``netgpt serve``) runs on loopback, where a round trip costs microseconds. To
make the cloud path behave like a real one, every HTTP exchange crosses an emulated link: a request
of ``n`` bytes reaches the application ``rtt/2 + upload(n)`` after it arrived on the socket, and
each response message (headers, the JSON body, or every SSE chunk of a stream) reaches the client
``rtt/2 + download(bytes)`` after the application produced it, behind whatever the link is still
carrying (a FIFO queue, so streamed chunks are paced by the bandwidth).

Capacity comes from a fixed symmetric bandwidth or from mahimahi traces replayed on a clock that
starts with the emulator (looping, as mahimahi replays them). The arithmetic is pure
(:func:`transfer_time_s`, :func:`one_way_delay_s`, :class:`LinkQueue`); only :class:`WanEmulator`'s
``async`` methods and :class:`WanMiddleware` sleep, always with ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_netgpt.routing.network import LinkTrace

__all__ = [
    "LinkQueue",
    "WanEmulator",
    "WanMiddleware",
    "WanProfile",
    "one_way_delay_s",
    "transfer_time_s",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(__name__)

# Bytes of an HTTP/1.1 request or status line and the blank line after the headers.
_HTTP_LINE_BYTES = 20


class WanProfile(BaseModel):
    """The emulated link between the client and the stand-in cloud.

    Capacity is either a symmetric ``bandwidth_mbps`` or mahimahi traces (``trace_down``, and
    ``trace_up`` for the uplink, which defaults to the downlink trace); with neither, transfers are
    instantaneous and only the RTT is added.

    Args:
        rtt_ms: Propagation round-trip time in ms (half on the way up, half on the way down).
        bandwidth_mbps: Symmetric link capacity in Mbit/s, ``> 0``.
        trace_down: Mahimahi trace for the downlink (server to client).
        trace_up: Mahimahi trace for the uplink (client to server); needs ``trace_down``.

    Raises:
        pydantic.ValidationError: A value is out of range, or both a bandwidth and a trace are set,
            or ``trace_up`` is set without ``trace_down``.

    Example:
        .. code-block:: python

            from langchain_netgpt.cloud import WanProfile

            lte = WanProfile(rtt_ms=60, bandwidth_mbps=20)
            assert not lte.is_ideal
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rtt_ms: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Round-trip propagation delay, ms."
    )
    bandwidth_mbps: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Symmetric link capacity, Mbit/s."
    )
    trace_down: Path | None = Field(default=None, description="Mahimahi downlink trace file.")
    trace_up: Path | None = Field(
        default=None, description="Mahimahi uplink trace file (defaults to trace_down)."
    )

    @model_validator(mode="after")
    def _one_capacity_source(self) -> Self:
        if self.bandwidth_mbps is not None and self.trace_down is not None:
            raise ValueError(
                "set either bandwidth_mbps or trace_down (a trace carries its own capacity), "
                f"not both: got bandwidth_mbps={self.bandwidth_mbps} "
                f"and trace_down={self.trace_down}"
            )
        if self.trace_up is not None and self.trace_down is None:
            raise ValueError(f"trace_up={self.trace_up} needs trace_down to be set as well")
        return self

    @property
    def is_ideal(self) -> bool:
        """Whether the profile adds no delay at all (zero RTT, unlimited capacity)."""
        return self.rtt_ms == 0 and self.bandwidth_mbps is None and self.trace_down is None


def transfer_time_s(
    nbytes: int,
    *,
    bandwidth_mbps: float | None = None,
    link: LinkTrace | None = None,
    start_s: float = 0.0,
) -> float:
    """Seconds to push ``nbytes`` through an idle link, from replay time ``start_s``.

    Args:
        nbytes: Bytes to transfer.
        bandwidth_mbps: Fixed capacity in Mbit/s; ``None`` with no ``link`` means unlimited.
        link: A mahimahi trace giving the capacity over time (takes precedence over the bandwidth).
        start_s: Replay time at which the bytes are handed to the link (used with ``link``).

    Returns:
        Transfer time in seconds (0 for no bytes or unlimited capacity).
    """
    if nbytes <= 0:
        return 0.0
    if link is not None:
        return link.delivery_time_s(start_s=start_s, nbytes=nbytes)
    if bandwidth_mbps is None:
        return 0.0
    return nbytes * 8 / (bandwidth_mbps * 1e6)


def one_way_delay_s(
    nbytes: int,
    *,
    rtt_ms: float,
    bandwidth_mbps: float | None = None,
    link: LinkTrace | None = None,
    start_s: float = 0.0,
) -> float:
    """Seconds from handing ``nbytes`` to an idle link until all have arrived: rtt/2 + transfer.

    Args:
        nbytes: Bytes to send.
        rtt_ms: Round-trip propagation delay in ms; one direction costs half of it.
        bandwidth_mbps: Fixed capacity in Mbit/s (``None``: unlimited).
        link: A mahimahi trace giving the capacity (takes precedence over the bandwidth).
        start_s: Replay time at which the bytes are handed over (used with ``link``).

    Returns:
        The one-way delay in seconds.
    """
    transfer = transfer_time_s(nbytes, bandwidth_mbps=bandwidth_mbps, link=link, start_s=start_s)
    return rtt_ms / 2000 + transfer


@dataclass
class LinkQueue:
    """One direction of the emulated link: a FIFO queue in front of the capacity, then propagation.

    Pure bookkeeping on explicit times (nothing sleeps): bytes handed over at ``at_s`` start
    crossing when the link has finished the bytes before them, and arrive half an RTT after their
    last byte left.

    Attributes:
        rtt_ms: Round-trip propagation delay in ms.
        bandwidth_mbps: Fixed capacity (``None``: unlimited unless ``link`` is set).
        link: Mahimahi trace for this direction.
        busy_until_s: Replay time at which the link finishes what it already carries.

    Example:
        .. code-block:: python

            from langchain_netgpt.cloud.wan import LinkQueue

            down = LinkQueue(rtt_ms=100, bandwidth_mbps=8)  # 1 MB/s
            assert down.send(1_000_000, at_s=0.0) == 1.05
            assert down.send(1_000_000, at_s=0.0) == 2.05  # waits behind the first megabyte
    """

    rtt_ms: float
    bandwidth_mbps: float | None = None
    link: LinkTrace | None = None
    busy_until_s: float = 0.0

    def send(self, nbytes: int, *, at_s: float) -> float:
        """Book ``nbytes`` handed to the link at replay time ``at_s``.

        Args:
            nbytes: Bytes to send.
            at_s: Replay time at which they are ready.

        Returns:
            Replay time at which the last byte arrives at the far end.
        """
        start = max(at_s, self.busy_until_s)
        self.busy_until_s = start + transfer_time_s(
            nbytes, bandwidth_mbps=self.bandwidth_mbps, link=self.link, start_s=start
        )
        return self.busy_until_s + self.rtt_ms / 2000


class WanEmulator:
    """Applies a :class:`WanProfile` to traffic with async sleeps.

    The uplink and downlink are each one :class:`LinkQueue` shared by all requests, as on one user's
    access link. Replay time (for traces) counts seconds since the emulator was built or
    :meth:`restart` was called.

    Args:
        profile: The link to emulate.
        clock: Monotonic seconds source (injectable for tests).

    Raises:
        FileNotFoundError: A trace file does not exist.
        langchain_netgpt.errors.TraceFormatError: A trace file cannot be parsed.

    Example:
        .. code-block:: python

            from langchain_netgpt.cloud import WanEmulator, WanProfile

            wan = WanEmulator(WanProfile(rtt_ms=300))
            arrival = wan.schedule_upload(1_000, at_s=0.0)
            assert arrival == 0.15  # half the RTT; no bandwidth limit
    """

    def __init__(self, profile: WanProfile, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile
        self._clock = clock
        down_trace = LinkTrace.from_file(profile.trace_down) if profile.trace_down else None
        up_trace = LinkTrace.from_file(profile.trace_up) if profile.trace_up else down_trace
        self._down_trace, self._up_trace = down_trace, up_trace
        self._uplink = LinkQueue(profile.rtt_ms, profile.bandwidth_mbps, up_trace)
        self._downlink = LinkQueue(profile.rtt_ms, profile.bandwidth_mbps, down_trace)
        self._t0 = clock()

    def restart(self) -> None:
        """Restart the replay clock at 0 and empty both link queues."""
        self._t0 = self._clock()
        self._uplink.busy_until_s = 0.0
        self._downlink.busy_until_s = 0.0

    def now_s(self) -> float:
        """Replay time: seconds since the emulator started."""
        return self._clock() - self._t0

    def bandwidth_mbps(self, direction: str = "down", *, window_s: float = 1.0) -> float | None:
        """Current capacity of one direction (``"up"`` or ``"down"``); ``None`` when unlimited.

        Raises:
            ValueError: ``direction`` is neither ``"up"`` nor ``"down"``.
        """
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
        trace = self._up_trace if direction == "up" else self._down_trace
        if trace is None:
            return self.profile.bandwidth_mbps
        return trace.bandwidth_mbps(at_s=max(self.now_s(), 0.0), window_s=window_s)

    def schedule_upload(self, nbytes: int, *, at_s: float | None = None) -> float:
        """Book ``nbytes`` on the uplink; returns the replay time they reach the server."""
        return self._uplink.send(nbytes, at_s=self.now_s() if at_s is None else at_s)

    def schedule_download(self, nbytes: int, *, at_s: float | None = None) -> float:
        """Book ``nbytes`` on the downlink; returns the replay time they reach the client."""
        return self._downlink.send(nbytes, at_s=self.now_s() if at_s is None else at_s)

    async def sleep_until(self, replay_s: float) -> float:
        """Sleep (asynchronously) until replay time ``replay_s``; returns the seconds slept."""
        delay = replay_s - self.now_s()
        if delay > 0:
            await asyncio.sleep(delay)
            return delay
        return 0.0

    async def upload(self, nbytes: int) -> float:
        """Wait as long as ``nbytes`` sent now take to reach the server; returns the wait."""
        return await self.sleep_until(self.schedule_upload(nbytes))

    async def download(self, nbytes: int) -> float:
        """Wait as long as ``nbytes`` sent now take to reach the client; returns the wait."""
        return await self.sleep_until(self.schedule_download(nbytes))


def _head_bytes(headers: Any) -> int:
    """Bytes of the HTTP/1.1 header lines (name, colon, value, CRLF) plus the start line."""
    total = _HTTP_LINE_BYTES
    for name, value in headers or ():
        total += len(name) + len(value) + 4
    return total


class WanMiddleware:
    """ASGI middleware that puts every HTTP exchange of an app behind a :class:`WanEmulator`.

    The request body is read in full, held for ``rtt/2 + upload time``, then replayed to the app.
    Response messages are queued with their arrival times and delivered by a separate task, so the
    app keeps generating (a stream's next chunk) while earlier bytes are still "on the wire".

    Args:
        app: The ASGI application to wrap.
        emulator: The link to put in front of it.

    Example:
        .. code-block:: python

            from fastapi import FastAPI
            from langchain_netgpt.cloud import WanEmulator, WanMiddleware, WanProfile

            app = FastAPI()
            app.add_middleware(WanMiddleware, emulator=WanEmulator(WanProfile(rtt_ms=80)))
    """

    def __init__(self, app: ASGIApp, *, emulator: WanEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope; non-HTTP scopes (lifespan) pass through untouched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await self.emulator.upload(_head_bytes(scope.get("headers")) + len(body))

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # blocks until the client disconnects

        queue: asyncio.Queue[tuple[float, Message] | None] = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                arrival, out = item
                await self.emulator.sleep_until(arrival)
                await send(out)

        deliverer = asyncio.create_task(deliver())

        async def shaped_send(message: Message) -> None:
            if deliverer.done():
                # The client went away (send failed): tell the app, as the socket would.
                error = deliverer.exception() if not deliverer.cancelled() else None
                raise OSError(f"client connection closed: {error}")
            if message["type"] == "http.response.start":
                nbytes = _head_bytes(message.get("headers"))
            else:
                nbytes = len(message.get("body", b""))
            queue.put_nowait((self.emulator.schedule_download(nbytes), message))

        try:
            await self.app(scope, replay_receive, shaped_send)
        finally:
            queue.put_nowait(None)
            await asyncio.wait([deliverer])
            if not deliverer.cancelled() and (error := deliverer.exception()) is not None:
                _log.debug("client left before the emulated link delivered the response: %r", error)
