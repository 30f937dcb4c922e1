"""Per-try deadlines and per-side capacity: a side's call given up after its try's timeout.

Every try first takes a slot of its side (:mod:`~langchain_netgpt.routing.capacity`); the time it
waits for one is queueing (``attempts[].queue_s``), not part of its timeout. The try's timeout,
``min(step_timeout_s, time left in the step)``, starts once it holds a slot. A sync call runs in
a worker thread of its side's own pool (never more workers than slots, so it never queues there)
and the caller stops waiting at the timeout; the abandoned call keeps its slot until it really
ends, and a side whose slots are all held by abandoned calls is skipped at once. An async call is
cancelled by ``asyncio.wait_for``, which frees its slot at once.

Either way the try runs inside a :func:`~langchain_netgpt.edge.cancel.cancel_scope`: when the
engine abandons it (its deadline passed, or the caller itself was cancelled), the try's
:class:`~langchain_netgpt.edge.cancel.CancelToken` is cancelled, and an in-process edge model
stops generating at its next token instead of keeping the CPU (and its slot) busy to the end of
its budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from langchain_netgpt.errors import StepTimeoutError
from langchain_netgpt.routing.capacity import CapacityPool, SideSlots, TrySlot

if TYPE_CHECKING:
    from langchain_netgpt.edge.cancel import CancelToken
    from langchain_netgpt.routing.config import RoutingConfig
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["DeadlineRunner"]

_T = TypeVar("_T")


def scoped_context(token: CancelToken) -> contextvars.Context:
    """A copy of the current context in which ``token`` is the edge calls' cancel token."""
    # Imported here: edge/ sits above the runtime; cancel.py itself only needs errors.
    from langchain_netgpt.edge.cancel import cancel_scope

    with cancel_scope(token):
        return contextvars.copy_context()


def new_token() -> CancelToken:
    """A fresh cancel token for one try."""
    from langchain_netgpt.edge.cancel import CancelToken

    return CancelToken()


class DeadlineRunner:
    """Runs a side's call under its deadline, within the side's capacity (one per engine).

    Args:
        config: The routing options (``step_timeout_s``, ``step_deadline_s``,
            ``try_capacity``), read per call.
    """

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.capacity = CapacityPool()
        self._pools: dict[str, tuple[int, concurrent.futures.ThreadPoolExecutor]] = {}
        self._lock = threading.Lock()

    def timeout_s(self, step: RoutedStep | None) -> float | None:
        """The deadline of the next try of ``step`` (``step_timeout_s`` without a step)."""
        per_try = self.config.step_timeout_s
        return per_try if step is None else step.try_timeout_s(per_try)

    def error(self, target: str, timeout: float) -> StepTimeoutError:
        """The error of a try of ``target`` that did not end within ``timeout`` seconds."""
        return StepTimeoutError(
            f"{target} did not answer within {timeout:.3f} s "
            f"(step_timeout_s={self.config.step_timeout_s}, "
            f"step_deadline_s={self.config.step_deadline_s})",
            target=target,
            timeout_s=timeout,
        )

    # -- capacity -------------------------------------------------------------------------------
    def slots(self, target: str) -> SideSlots:
        """The slots of ``target`` under the current ``try_capacity``."""
        return self.capacity.slots(target, self.config.try_capacity)

    def _queue_timeout_s(self, target: str, step: RoutedStep | None) -> float:
        wait = self.config.try_capacity.queue_timeout_s
        left = None if step is None else step.time_left_s()
        if left is None or step is None:
            return wait
        # At most half the time left while another side may follow: a side slow to free a
        # slot must leave the other side time to answer within the step's deadline.
        share = left / 2 if step.has_fallback_after(target) else left
        return max(0.0, min(wait, share))

    def take(self, target: str, step: RoutedStep | None = None) -> TrySlot:
        """Take a slot of ``target``, waiting for one within the capacity's queue timeout.

        Raises:
            CapacityError: No slot came free in time (or the side is stalled or timing out).
        """
        slots = self.slots(target)
        t0 = time.perf_counter()
        try:
            return slots.acquire(self._queue_timeout_s(target, step))
        finally:
            if step is not None:
                step.queued(time.perf_counter() - t0)

    async def atake(self, target: str, step: RoutedStep | None = None) -> TrySlot:
        """Async twin of :meth:`take` (the wait does not block the event loop)."""
        slots = self.slots(target)
        t0 = time.perf_counter()
        try:
            return await slots.aacquire(self._queue_timeout_s(target, step))
        finally:
            if step is not None:
                step.queued(time.perf_counter() - t0)

    def executor(self, target: str) -> concurrent.futures.ThreadPoolExecutor:
        """The worker threads of ``target``: as many as its slots, so a try never queues there."""
        limit = self.slots(target).limit
        entry = self._pools.get(target)
        if entry is not None and entry[0] == limit:
            return entry[1]
        with self._lock:
            entry = self._pools.get(target)
            if entry is None or entry[0] != limit:
                if entry is not None:
                    entry[1].shutdown(wait=False)  # its running calls finish on their own
                pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=limit, thread_name_prefix=f"netgpt-{target}"
                )
                entry = self._pools[target] = (limit, pool)
            return entry[1]

    # -- calls ----------------------------------------------------------------------------------
    def call(self, call: Callable[[], _T], target: str, *, step: RoutedStep | None = None) -> _T:
        """Run ``call()`` in a slot of ``target``, giving up at the try's deadline.

        Raises:
            CapacityError: No slot of ``target`` came free in time.
            StepTimeoutError: The deadline passed first (the call is abandoned; its slot is
                freed when it really ends).
        """
        slot = self.take(target, step)
        timeout = self.timeout_s(step)
        token = new_token()
        context = scoped_context(token)
        if timeout is None:
            try:
                return context.run(call)
            finally:
                slot.release()
        try:
            future = self.executor(target).submit(context.run, call)
        except BaseException:
            slot.release()
            raise
        future.add_done_callback(lambda _: slot.release())
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the call's own TimeoutError (the same class since Python 3.11)
            if not future.cancel():
                slot.abandon()
            token.cancel(f"{target}'s try was abandoned after {timeout:.3f} s (deadline)")
            raise self.error(target, timeout) from None
        except BaseException:
            # Ctrl-C or an interrupt while waiting: nobody waits for this try any more.
            if not future.done() and not future.cancel():
                slot.abandon(shed=False)
            token.cancel(f"{target}'s try was abandoned by its caller")
            raise

    async def acall(
        self, call: Awaitable[_T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Await ``call`` in a slot of ``target``, cancelling it at the try's deadline.

        Raises:
            CapacityError: No slot of ``target`` came free in time.
            StepTimeoutError: The deadline passed first.
        """
        try:
            slot = await self.atake(target, step)
        except BaseException:
            if inspect.iscoroutine(call):
                call.close()  # never started: no "never awaited" warning
            raise
        timeout = self.timeout_s(step)
        token = new_token()
        # The task copies this context, so the try (and any worker thread it starts with
        # asyncio.to_thread) sees the token.
        task = scoped_context(token).run(asyncio.ensure_future, call)
        try:
            return await asyncio.wait_for(task, timeout)
        except TimeoutError:
            if task.done() and not task.cancelled():
                raise  # the call's own TimeoutError, not the deadline
            slot.shed()  # the side is slow: its waiters go to the other side now
            token.cancel(f"{target}'s try was abandoned after {timeout or 0.0:.3f} s (deadline)")
            raise self.error(target, timeout or 0.0) from None
        except BaseException:
            token.cancel(f"{target}'s try was abandoned by its caller")
            raise
        finally:
            slot.release()
