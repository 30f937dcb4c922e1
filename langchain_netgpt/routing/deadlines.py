"""Per-try deadlines: a side's call given up after ``min(step_timeout_s, time left in the step)``.

A sync call runs in a worker thread of the engine's pool so the caller can stop waiting; an async
call is cancelled by ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from langchain_netgpt.errors import StepTimeoutError

if TYPE_CHECKING:
    from langchain_netgpt.routing.config import RoutingConfig
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["DeadlineRunner"]

_T = TypeVar("_T")


class DeadlineRunner:
    """Runs a side's call under its deadline (one per engine; its thread pool is lazy).

    Args:
        config: The routing options (``step_timeout_s``, ``step_deadline_s``), read per call.
    """

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def timeout_s(self, step: RoutedStep | None) -> float | None:
        """The deadline of the next try of ``step`` (``step_timeout_s`` without a step)."""
        per_try = self.config.step_timeout_s
        return per_try if step is None else step.try_timeout_s(per_try)

    def _error(self, target: str, timeout: float) -> StepTimeoutError:
        return StepTimeoutError(
            f"{target} did not answer within {timeout:.3f} s "
            f"(step_timeout_s={self.config.step_timeout_s}, "
            f"step_deadline_s={self.config.step_deadline_s})",
            target=target,
            timeout_s=timeout,
        )

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="netgpt-step")
            return self._pool

    def call(self, call: Callable[[], _T], target: str, *, step: RoutedStep | None = None) -> _T:
        """Run ``call()``, giving up at the try's deadline (the call runs in a worker thread).

        Raises:
            StepTimeoutError: The deadline passed first.
        """
        timeout = self.timeout_s(step)
        if timeout is None:
            return call()
        # The context travels with the call: LangChain's run tree and the wire probe live in it.
        future = self._executor().submit(contextvars.copy_context().run, call)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._error(target, timeout) from None

    async def acall(
        self, call: Awaitable[_T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Await ``call``, cancelling it at the try's deadline.

        Raises:
            StepTimeoutError: The deadline passed first.
        """
        timeout = self.timeout_s(step)
        if timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError:
            raise self._error(target, timeout) from None
