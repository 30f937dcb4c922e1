"""Bounded capacity per side: how many tries of one side may run at once.

Every try (``invoke``, ``ainvoke``, ``stream``, ``astream``) of a side takes one of that side's
slots for as long as its call really runs. A try that finds no free slot waits for one; that wait
is queueing, traced as ``attempts[].queue_s``, and it is not part of the try's timeout. A try
waits at most ``queue_timeout_s``, never past its step's deadline, and at most half the time left
while another side may follow (the other half stays for it). A side whose slots are all held by
tries their steps gave up on (a stalled side) is not waited for at all, and when a try of a side
times out, the tries waiting for that side are let go to the other side at once (they would
likely time out too, leaving no time for the fallback). A try that gets no slot fails with
:class:`~langchain_netgpt.errors.CapacityError` and the step goes to the other side
(``fallback_code="capacity"``) without counting against the side's circuit.

Because each side has its own slots (and its own worker threads), a stalled cloud can hold at most
``max_in_flight`` cloud calls and never delays the edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.errors import CapacityError

__all__ = ["CapacityPool", "SideSlots", "TryCapacity", "TrySlot"]


class TryCapacity(BaseModel):
    """How many tries of each side may run at once, and how long a try waits for a free slot.

    Args:
        max_in_flight: Tries of one side running at once (default 32); a try of a side at its
            limit waits for a slot.
        queue_timeout_s: The longest a try waits for a free slot of its side (default 30 s, and
            never past the step's deadline; at most half the time left while another side may
            follow, so it keeps the rest). Past it, or as soon as every slot is held by an
            abandoned try, the step goes on.
        per_target: ``max_in_flight`` of particular sides (``{"cloud": 64}``).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.capacity import TryCapacity

            capacity = TryCapacity(max_in_flight=8, per_target={"cloud": 32})
            assert capacity.limit("cloud") == 32 and capacity.limit("edge") == 8
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_in_flight: int = Field(
        default=32, ge=1, le=4096, description="Tries of one side running at once."
    )
    queue_timeout_s: float = Field(
        default=30.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "The longest a try waits for a free slot of its side (never past the step's "
            "deadline; at most half the time left while another side may follow)."
        ),
    )
    per_target: dict[str, int] = Field(
        default_factory=dict, description="max_in_flight of particular sides."
    )

    def limit(self, target: str) -> int:
        """The number of slots of ``target``."""
        limit = self.per_target.get(target, self.max_in_flight)
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"per_target[{target!r}] must be an int >= 1, got {limit!r}")
        return limit


class _Waiter:
    """A try waiting for a slot: woken by a thread event or an asyncio future."""

    __slots__ = ("event", "future", "granted", "loop", "shed")

    def __init__(
        self,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.event = event
        self.loop = loop
        self.future = future
        self.granted = False
        self.shed = False

    def wake(self) -> bool:
        """Tell the waiter it holds a slot now; ``False`` if it can no longer be told."""
        if self.event is not None:
            self.event.set()
            return True
        assert self.loop is not None and self.future is not None
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # its event loop is closed: nobody waits any more
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class TrySlot:
    """One slot of a side, held by one try; :meth:`release` it exactly once."""

    __slots__ = ("_released", "abandoned", "slots")

    def __init__(self, slots: SideSlots) -> None:
        self.slots = slots
        self.abandoned = False
        self._released = False

    def abandon(self, *, shed: bool = True) -> None:
        """The step gave up on the try (its call may still run, holding the slot).

        Args:
            shed: The try timed out: let the side's waiters go to the other side at once.
        """
        self.slots._abandon(self, shed=shed)

    def shed(self) -> None:
        """The try timed out: let the side's waiters go to the other side now."""
        self.slots.shed()

    def release(self) -> None:
        """The try's call ended: give the slot to the next waiter (idempotent)."""
        self.slots._release(self)


class SideSlots:
    """The slots of one side: at most ``limit`` tries at once, waiters served first come first.

    Thread-safe, and shared by threads and event loops (a waiting coroutine is woken on its own
    loop).

    Args:
        target: The side's name (for errors).
        limit: The number of slots.
    """

    def __init__(self, target: str, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.busy = 0
        self.abandoned = 0
        self._waiters: deque[_Waiter] = deque()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SideSlots({self.target!r}, busy={self.busy}/{self.limit}, "
            f"abandoned={self.abandoned}, waiting={len(self._waiters)})"
        )

    def stalled(self) -> bool:
        """Every slot is held by a try its step gave up on: waiting would be in vain."""
        return self.busy >= self.limit and self.abandoned >= self.busy

    def _take_now(self) -> bool:
        if self.busy < self.limit and not self._waiters:
            self.busy += 1
            return True
        return False

    def _exhausted(self, why: str) -> CapacityError:
        return CapacityError(
            f"{self.target} is at capacity ({self.busy}/{self.limit} tries in flight, "
            f"{self.abandoned} abandoned): {why}",
            target=self.target,
            in_flight=self.busy,
            limit=self.limit,
        )

    def _refuse_now(self, timeout_s: float) -> CapacityError | None:
        if self.stalled():
            return self._exhausted("every slot is held by a try that was given up (stalled)")
        if timeout_s <= 0:
            return self._exhausted("no slot is free and the try may not wait")
        return None

    def acquire(self, timeout_s: float) -> TrySlot:
        """Take a slot, waiting at most ``timeout_s``.

        Raises:
            CapacityError: No slot came free in time, the side is stalled, or one of its tries
                timed out while this one waited.
        """
        with self._lock:
            if self._take_now():
                return TrySlot(self)
            refusal = self._refuse_now(timeout_s)
            if refusal is not None:
                raise refusal
            waiter = _Waiter(event=threading.Event())
            self._waiters.append(waiter)
        assert waiter.event is not None
        waiter.event.wait(timeout_s)
        return self._settle(waiter, timeout_s)

    async def aacquire(self, timeout_s: float) -> TrySlot:
        """Async twin of :meth:`acquire` (the wait is awaited, not blocking the loop)."""
        with self._lock:
            if self._take_now():
                return TrySlot(self)
            refusal = self._refuse_now(timeout_s)
            if refusal is not None:
                raise refusal
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop=loop, future=loop.create_future())
            self._waiters.append(waiter)
        assert waiter.future is not None
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter.future), timeout_s)
        except BaseException:
            with contextlib.suppress(CapacityError):
                self._settle(waiter, timeout_s).release()  # cancelled: hand a granted slot on
            raise
        return self._settle(waiter, timeout_s)

    def _settle(self, waiter: _Waiter, timeout_s: float) -> TrySlot:
        with self._lock:
            if waiter.granted:
                return TrySlot(self)
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if waiter.shed:
                raise self._exhausted("a try of this side timed out while this one waited")
            raise self._exhausted(f"no slot came free within {timeout_s:.3f} s")

    def shed(self) -> None:
        """Let every waiter go to the other side now (a try of this side just timed out)."""
        with self._lock:
            self._shed()

    def _shed(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            waiter.shed = True
            waiter.wake()

    def _abandon(self, slot: TrySlot, *, shed: bool) -> None:
        with self._lock:
            if not slot._released and not slot.abandoned:
                slot.abandoned = True
                self.abandoned += 1
            if shed or self.stalled():
                # A try timed out: the side is slow now, and whoever waits for it would be
                # given up on too. The waiters go to the other side while there is time for it.
                self._shed()

    def _release(self, slot: TrySlot) -> None:
        with self._lock:
            if slot._released:
                return
            slot._released = True
            if slot.abandoned:
                self.abandoned -= 1
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.granted = True
                if waiter.wake():
                    return  # the slot passes to the waiter: busy stays as it is
            self.busy -= 1


class CapacityPool:
    """The slots of every side, rebuilt for a side whose limit changed."""

    def __init__(self) -> None:
        self._sides: dict[str, SideSlots] = {}
        self._lock = threading.Lock()

    def slots(self, target: str, capacity: TryCapacity) -> SideSlots:
        """The slots of ``target`` under ``capacity``."""
        limit = capacity.limit(target)
        slots = self._sides.get(target)
        if slots is not None and slots.limit == limit:
            return slots
        with self._lock:
            slots = self._sides.get(target)
            if slots is None or slots.limit != limit:
                # Tries holding the old slots release them there; new tries count afresh.
                slots = self._sides[target] = SideSlots(target, limit)
            return slots

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """``{side: {"in_flight", "abandoned", "limit"}}`` now (for tests and dashboards)."""
        with self._lock:
            sides = dict(self._sides)
        return {
            name: {"in_flight": s.busy, "abandoned": s.abandoned, "limit": s.limit}
            for name, s in sides.items()
        }
