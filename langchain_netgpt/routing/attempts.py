"""The attempts of a step: what each try gave (:class:`StepOutcome`) and the loops that drive them.

:func:`run_attempts` and :func:`arun_attempts` try the step's candidates in order, retrying a side
when the retry policy allows, until one answers acceptably; every decision they make (record a
failure, wait or move on, accept or refuse an answer) is a method of the step, so the two loops
differ only in calling and sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage

from langchain_netgpt.errors import CapacityError, InvalidToolCallError, StepTimeoutError
from langchain_netgpt.routing.reasons import FallbackNote, FallbackReason
from langchain_netgpt.tracing import AttemptRecord

if TYPE_CHECKING:
    from langchain_netgpt.routing.step import RoutedStep

__all__ = ["StepOutcome", "arun_attempts", "run_attempts"]


def _record(
    target: str,
    *,
    ok: bool,
    latency_s: float,
    error_type: str | None = None,
    error: str | None = None,
    tool_calls_valid: bool | None = None,
    problems: list[str] | None = None,
    output: AIMessage | None = None,
    queue_s: float = 0.0,
) -> AttemptRecord:
    # Built on the hot path from trusted values: skip validation. The try's latency is its
    # time after it got a slot: queueing is recorded apart and never counted as the side's.
    return AttemptRecord.model_construct(
        target=target,
        ok=ok,
        latency_s=max(latency_s - queue_s, 0.0),
        error_type=error_type,
        error=error,
        tool_calls_valid=tool_calls_valid,
        problems=problems or [],
        output=output,
        queue_s=round(queue_s, 6) if queue_s > 0 else None,
    )


def _reason_of(exc: BaseException) -> FallbackReason:
    if isinstance(exc, StepTimeoutError):
        return FallbackReason.TIMEOUT
    if isinstance(exc, CapacityError):
        return FallbackReason.CAPACITY
    if not isinstance(exc, Exception):  # KeyboardInterrupt, CancelledError, GeneratorExit
        return FallbackReason.CANCELLED
    return FallbackReason.FAILED


class StepOutcome:
    """What the tries of one step gave: the attempts, the answer, and why the step fell back.

    Attributes:
        attempts: One record per try, in order.
        answer: The accepted answer (``None`` until one is accepted).
        target: The side whose answer is kept (accepted, or the first invalid one).
        valid: Whether the kept answer's tool calls fit (``None``: no tools bound).
        problems: Validation problems of the kept answer.
        note: Why the step left its decided side (code and text), if it did.
        escalation: The reason the edge gave when it escalated, if it did.
        ttfb_s: Time to the first streamed chunk of the current try, if streamed.
    """

    __slots__ = (
        "answer",
        "attempts",
        "escalation",
        "note",
        "pending",
        "problems",
        "queue_s",
        "target",
        "ttfb_s",
        "valid",
    )

    def __init__(self) -> None:
        self.attempts: list[AttemptRecord] = []
        self.answer: AIMessage | None = None
        self.target: str | None = None
        self.valid: bool | None = None
        self.problems: list[str] = []
        self.note: FallbackNote | None = None
        self.escalation: str | None = None
        self.ttfb_s: float | None = None
        self.pending: AIMessage | None = None  # an invalid answer kept in case all else fails
        self.queue_s = 0.0  # the current try's wait for a slot of its side

    def _queued(self) -> float:
        """The current try's wait for a slot (read once: the next try starts afresh)."""
        queue_s, self.queue_s = self.queue_s, 0.0
        return queue_s

    def failed(
        self,
        target: str,
        exc: BaseException,
        elapsed_s: float,
        code: FallbackReason | None = None,
        *,
        output: AIMessage | None = None,
    ) -> None:
        """Record a try that raised or was refused (``code``: default from the error's kind).

        ``output`` is what a stream had produced when it failed or was stopped (kept, since the
        side was called and billed).
        """
        self.attempts.append(
            _record(
                target,
                queue_s=self._queued(),
                ok=False,
                latency_s=elapsed_s,
                error_type=type(exc).__name__,
                error=str(exc)[:2000],
                output=output,
            )
        )
        if code is None:
            code = _reason_of(exc)
        self.note = FallbackNote.of(code, target, f"{type(exc).__name__}: {str(exc)[:200]}")

    def answered(
        self, target: str, message: AIMessage, elapsed_s: float, valid: bool | None
    ) -> None:
        """Record an accepted answer."""
        self.attempts.append(
            _record(
                target,
                ok=True,
                latency_s=elapsed_s,
                tool_calls_valid=valid,
                output=message,
                queue_s=self._queued(),
            )
        )
        self.answer, self.target, self.valid, self.problems = message, target, valid, []

    def invalid(
        self,
        target: str,
        message: AIMessage,
        elapsed_s: float,
        problems: list[str],
        valid: bool | None,
    ) -> None:
        """Record an answer whose tool calls do not fit (kept if it is the first such).

        ``valid`` is what the attempt records (``None`` when the call bound no tools).
        """
        self.attempts.append(
            _record(
                target,
                queue_s=self._queued(),
                ok=False,
                latency_s=elapsed_s,
                tool_calls_valid=valid,
                problems=problems[:20],
                error_type=InvalidToolCallError.__name__,
                output=message,
            )
        )
        self.note = FallbackNote.of(FallbackReason.INVALID_TOOL_CALLS, target, problems[0])
        self._keep(target, message, problems)

    def escalated(
        self, target: str, message: AIMessage, elapsed_s: float, reason: str, *, tools: bool
    ) -> None:
        """Record an edge that handed the step over (self-offload): not a failure, not an answer."""
        self.escalation = reason
        problem = f"edge escalated: {reason}"
        self.attempts.append(
            _record(
                target,
                queue_s=self._queued(),
                ok=False,
                latency_s=elapsed_s,
                tool_calls_valid=False if tools else None,
                problems=[problem],
                output=message,
            )
        )
        self.note = FallbackNote.of(FallbackReason.ESCALATED, target, reason)
        # Returned only when the cloud cannot be tried (fallback off, budget, privacy).
        self._keep(target, message, [problem])

    def _keep(self, target: str, message: AIMessage, problems: list[str]) -> None:
        if self.pending is None:
            self.pending = message
            self.target, self.valid, self.problems = target, False, problems

    def budget_refused(self, reason: str | None) -> None:
        """Note that the budget refused the fallback to the cloud."""
        detail = reason or ""
        self.note = (
            self.note.also(detail)
            if self.note is not None
            else FallbackNote(FallbackReason.BUDGET, f"; {detail}")
        )

    def settle(self) -> AIMessage | None:
        """The answer the step returns: the accepted one, else the first invalid one, else none."""
        if self.answer is None and self.pending is not None:
            self.answer = self.pending  # every side answered invalidly: return the first answer
        return self.answer


def run_attempts(
    step: RoutedStep,
    call: Callable[[str], AIMessage],
    *,
    passthrough: tuple[type[BaseException], ...] = (),
) -> AIMessage:
    """Try the step's candidates with ``call(target)`` until one answers; finish the step.

    Args:
        step: The planned step.
        call: Calls the model of a target and returns its answer.
        passthrough: Exceptions that are control flow, not failures (a LangGraph interrupt):
            they end the step without a trace or a fallback and propagate.

    Raises:
        RoutingError: No target answered (the trace is written first). Anything else that
            stops the step (Ctrl-C, a bug) propagates after the step's trace is written.
    """
    current: list[Any] = [None, 0.0]  # the side in flight and when its try began
    try:
        for target in step.candidates():
            retry = 0
            while True:
                t0 = current[1] = time.perf_counter()
                load = step.start_load(target)
                current[0] = target
                try:
                    answer = call(target)
                    step.loaded(load)
                except passthrough:
                    step.interrupted(target)
                    raise
                except Exception as exc:
                    current[0] = None
                    retry += 1
                    wait = step.after_failure(target, exc, time.perf_counter() - t0, retry)
                    if wait is None:
                        break
                    time.sleep(wait)
                    continue
                finally:
                    step.finish_load(load)
                current[0] = None
                if step.accept(target, answer, time.perf_counter() - t0):
                    return step.finish()
                break
        return step.finish()
    except passthrough:
        raise
    except BaseException as exc:
        step.stopped(current[0], exc, time.perf_counter() - current[1])
        raise


async def arun_attempts(
    step: RoutedStep,
    call: Callable[[str], Awaitable[AIMessage]],
    *,
    passthrough: tuple[type[BaseException], ...] = (),
) -> AIMessage:
    """Async twin of :func:`run_attempts` (only the call and the retry wait are awaited).

    A cancelled task ends the step with a trace (``error`` says it was cancelled) and the
    cancellation propagates.
    """
    current: list[Any] = [None, 0.0]
    try:
        for target in step.candidates():
            retry = 0
            while True:
                t0 = current[1] = time.perf_counter()
                load = step.start_load(target)
                current[0] = target
                try:
                    answer = await call(target)
                    step.loaded(load)
                except passthrough:
                    step.interrupted(target)
                    raise
                except Exception as exc:
                    current[0] = None
                    retry += 1
                    wait = step.after_failure(target, exc, time.perf_counter() - t0, retry)
                    if wait is None:
                        break
                    await asyncio.sleep(wait)
                    continue
                finally:
                    step.finish_load(load)
                current[0] = None
                if step.accept(target, answer, time.perf_counter() - t0):
                    return await step.afinish()  # sinks write off the event loop
                break
        return await step.afinish()
    except passthrough:
        raise
    except BaseException as exc:
        step.stopped(current[0], exc, time.perf_counter() - current[1])
        raise
