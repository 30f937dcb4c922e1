"""Per-try deadlines: a side's call given up after ``min(step_timeout_s, time left in the step)``.

A sync call runs in a worker thread of the engine's pool so the caller can stop waiting; an async
call is cancelled by ``asyncio.wait_for``. Either way the try runs inside a
:func:`~langchain_netgpt.edge.cancel.cancel_scope`: when the engine abandons it (its deadline
passed, or the caller itself was cancelled), the try's
:class:`~langchain_netgpt.edge.cancel.CancelToken` is cancelled, and an in-process edge model
stops generating at its next token instead of keeping the CPU busy to the end of its budget.
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
    from langchain_netgpt.edge.cancel import CancelToken
    from langchain_netgpt.routing.config import RoutingConfig
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["DeadlineRunner"]

_T = TypeVar("_T")


def _scoped(token: CancelToken) -> contextvars.Context:
    """A copy of the current context in which ``token`` is the edge calls' cancel token."""
    # Imported here: edge/ sits above the runtime; cancel.py itself only needs errors.
    from langchain_netgpt.edge.cancel import cancel_scope

    with cancel_scope(token):
        return contextvars.copy_context()


def _new_token() -> CancelToken:
    from langchain_netgpt.edge.cancel import CancelToken

    return CancelToken()


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

        The worker runs with the caller's context (LangChain's run tree, the cancel scope); when
        the deadline passes, the try's cancel token is cancelled so an edge generation stops.

        Raises:
            StepTimeoutError: The deadline passed first.
        """
        timeout = self.timeout_s(step)
        token = _new_token()
        context = _scoped(token)
        if timeout is None:
            return context.run(call)
        future = self._executor().submit(context.run, call)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the call's own TimeoutError (the same class since Python 3.11)
            future.cancel()
            token.cancel(f"{target}'s try was abandoned after {timeout:.3f} s (deadline)")
            raise self._error(target, timeout) from None
        except BaseException:
            # The caller gave up (KeyboardInterrupt, ...): nobody waits for this try any more.
            token.cancel(f"{target}'s try was abandoned by its caller")
            raise

    async def acall(
        self, call: Awaitable[_T], target: str, *, step: RoutedStep | None = None
    ) -> _T:
        """Await ``call``, cancelling it (and its edge generation) at the try's deadline.

        Raises:
            StepTimeoutError: The deadline passed first.
        """
        timeout = self.timeout_s(step)
        token = _new_token()
        # The task wait_for creates copies this context, so the try (and any worker thread it
        # starts with asyncio.to_thread) sees the token.
        task = _scoped(token).run(asyncio.ensure_future, call)
        try:
            return await asyncio.wait_for(task, timeout)
        except TimeoutError:
            if task.done() and not task.cancelled():
                raise  # the call's own TimeoutError, not the deadline
            token.cancel(f"{target}'s try was abandoned after {timeout:.3f} s (deadline)")
            raise self._error(target, timeout or 0.0) from None
        except BaseException:
            token.cancel(f"{target}'s try was abandoned by its caller")
            raise
