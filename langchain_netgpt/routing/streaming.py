"""Streaming half of a routed step, shared by ``NetGPTRouter._stream`` and ``_astream``.

:func:`relay_stream` / :func:`arelay_stream` try the step's sides in turn, like ``invoke`` does:

* every try takes a slot of its side (queueing is not part of its timeout, see
  :mod:`~langchain_netgpt.routing.capacity`);
* until the caller has seen a chunk, a try obeys the same deadline as an ``invoke`` try,
  ``min(step_timeout_s, time left in the step)``: a side that sends nothing (or whose answer is
  buffered for validation and too slow) is given up and the next side is tried;
* once a chunk reached the caller, the stream is cut at the step's deadline (``step_deadline_s``):
  a slow drip or a looping model ends with :class:`~langchain_netgpt.errors.RoutingError`, after
  the trace (with the partial answer) is written;
* a stream the caller stops (closing the generator, a cancelled task, Ctrl-C) is traced too.

The :class:`StreamRelay` holds back the latest chunk so the routing metadata can ride on the last
one, and buffers a whole answer when its tool calls must be validated before anyone sees them (so
an invalid call can still fall back to the other side).

A sync child stream runs in a worker thread of its side (so the caller can stop waiting for a
chunk); an async one is awaited under ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from functools import partial, reduce
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from langchain_netgpt.errors import RoutingError, StepTimeoutError
from langchain_netgpt.routing.deadlines import new_token, scoped_context
from langchain_netgpt.routing.step import RoutedStep
from langchain_netgpt.routing.stream_calls import strict_tool_calls

if TYPE_CHECKING:
    from langchain_netgpt.routing.capacity import TrySlot
    from langchain_netgpt.routing.deadlines import DeadlineRunner

__all__ = ["StreamRelay", "arelay_stream", "relay_stream"]

OpenStream = Callable[[str, list[BaseMessage]], Iterator[Any]]
"""Opens the child stream of a side: ``open_stream(target, messages)``."""
AOpenStream = Callable[[str, list[BaseMessage]], AsyncIterator[Any]]
"""Async twin of :data:`OpenStream`."""


def _collect(chunks: list[AIMessageChunk]) -> AIMessage:
    merged: AIMessageChunk = reduce(operator.add, chunks)
    tool_calls, invalid_tool_calls = strict_tool_calls(merged)
    return AIMessage(
        content=merged.content,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid_tool_calls,
        usage_metadata=merged.usage_metadata,
        response_metadata=merged.response_metadata,
        id=merged.id,
    )


class StreamRelay:
    """Streaming half of the executor, shared by ``_stream`` and ``_astream``.

    Holds back the latest chunk so the routing metadata can ride on the last one; buffers the
    whole answer when it must be validated before anyone sees it.
    """

    def __init__(self, step: RoutedStep, *, buffered: bool) -> None:
        self.step = step
        self.buffered = buffered
        self.target = ""
        self.t0 = 0.0
        self.chunks: dict[str, list[AIMessageChunk]] = {}
        self.held: AIMessageChunk | None = None
        self.emitted = False

    def begin(self, target: str) -> None:
        """Start relaying a try of ``target``."""
        self.target, self.t0, self.held = target, time.perf_counter(), None
        self.chunks[target] = []

    def push(
        self, chunk: Any, run_manager: CallbackManagerForLLMRun | None
    ) -> Iterator[ChatGenerationChunk]:
        """Take one chunk from the child; yield what may be passed on now."""
        if not isinstance(chunk, AIMessageChunk):
            raise TypeError(f"the {self.target} model streamed {type(chunk).__name__}, not chunks")
        chunks = self.chunks[self.target]
        if not chunks:
            self.step.ttfb_s = time.perf_counter() - self.t0
        self.step.received(self.target, chunk)
        chunks.append(chunk)
        if self.buffered:
            return
        previous, self.held = self.held, chunk
        if previous is not None:
            yield self._out(previous, run_manager)

    def _out(
        self, chunk: AIMessageChunk, run_manager: CallbackManagerForLLMRun | None
    ) -> ChatGenerationChunk:
        self.emitted = True
        out = ChatGenerationChunk(message=chunk)
        if run_manager is not None:
            run_manager.on_llm_new_token(chunk.text, chunk=out)
        return out

    def partial(self) -> AIMessage | None:
        """What the current try has streamed so far (``None``: nothing)."""
        chunks = self.chunks.get(self.target)
        if not chunks:
            return None
        merged: AIMessageChunk = reduce(operator.add, chunks)
        return AIMessage(content=merged.content, id=merged.id)

    def failed(self, exc: BaseException) -> None:
        """Record a failed stream; once chunks reached the caller, no other side may take over.

        Raises:
            RoutingError: Chunks reached the caller (the trace, with the partial answer, is
                written first).
        """
        self.step.failed(self.target, exc, time.perf_counter() - self.t0, output=self.partial())
        if self.emitted:
            try:
                self.step.finish(error=exc)  # writes the trace, then raises RoutingError
            except RoutingError as routing_error:
                raise routing_error from exc
            detail = self.step.engine.scrub_text(str(exc))
            raise RoutingError(f"netgpt: the {self.target} stream failed mid-answer: {detail}")

    def stopped(self, target: str | None, exc: BaseException) -> None:
        """The caller stopped the stream (or something broke it): write the step's trace."""
        output = self.partial() if target is not None else None
        self.step.stopped(target, exc, time.perf_counter() - self.t0, output=output)

    def done(self) -> bool:
        """The try's stream ended: validate it; return whether to stop trying."""
        chunks = self.chunks[self.target]
        if not chunks:
            empty = RuntimeError("the model streamed no chunk")
            self.step.failed(self.target, empty, time.perf_counter() - self.t0)
            return False
        return self.step.accept(self.target, _collect(chunks), time.perf_counter() - self.t0)

    def finish(
        self, run_manager: CallbackManagerForLLMRun | None, answer: AIMessage | None = None
    ) -> Iterator[ChatGenerationChunk]:
        """Close the step; yield the remaining chunks, the last carrying the route.

        ``answer``: the step's answer when the caller already finished it
        (:meth:`RoutedStep.afinish`, which writes the trace off the event loop).
        """
        if answer is None:
            answer = self.step.finish()
        target = self.step.answer_target or self.target
        if self.buffered or self.held is None or target != self.target:
            pending = self.chunks.get(target, [])
        else:
            pending = [self.held]
        if not pending:
            return
        last = pending[-1]
        meta = {**last.response_metadata, "netgpt": answer.response_metadata["netgpt"]}
        for chunk in [*pending[:-1], last.model_copy(update={"response_metadata": meta})]:
            yield self._out(chunk, run_manager)


# -- the drivers ----------------------------------------------------------------------------------
class _TryClock:
    """The deadlines of one streamed try: the try's own until a chunk is out, then the step's."""

    __slots__ = ("relay", "step", "try_deadline", "try_timeout")

    def __init__(self, runner: DeadlineRunner, relay: StreamRelay) -> None:
        self.step = relay.step
        self.relay = relay
        self.try_timeout = runner.timeout_s(self.step)  # started once the try holds a slot
        self.try_deadline = (
            None if self.try_timeout is None else time.perf_counter() + self.try_timeout
        )

    @property
    def bounded(self) -> bool:
        """Whether the try has any deadline at all."""
        return self.try_deadline is not None or self.step.deadline is not None

    def wait_s(self) -> float | None:
        """How long to wait for the next chunk (``None``: no limit)."""
        deadline = self.step.deadline if self.relay.emitted else self.try_deadline
        return None if deadline is None else max(deadline - time.perf_counter(), 0.0)

    def expired(self) -> StepTimeoutError:
        """The error of a try whose next chunk did not come in time."""
        target, config = self.relay.target, self.step.config
        if self.relay.emitted:
            deadline_s = config.step_deadline_s or 0.0
            return StepTimeoutError(
                f"the {target} stream was cut at step_deadline_s={deadline_s} "
                f"after {len(self.relay.chunks[target])} chunks",
                target=target,
                timeout_s=deadline_s,
            )
        return StepTimeoutError(
            f"{target} did not stream its answer within {self.try_timeout or 0.0:.3f} s "
            f"(step_timeout_s={config.step_timeout_s}, step_deadline_s={config.step_deadline_s})",
            target=target,
            timeout_s=self.try_timeout or 0.0,
        )


_CHUNK, _END, _ERROR = 0, 1, 2


class _Pump:
    """A sync child stream read in a worker thread of its side, handed over chunk by chunk."""

    def __init__(self, slot: TrySlot, open_child: Callable[[], Iterator[Any]]) -> None:
        self.slot = slot
        self.token = new_token()  # cancelled when the caller stops reading an unfinished child
        self.open_child = open_child
        self.items: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.ended = False  # the caller saw the end (or the error) of the child stream
        self.timed_out = False

    def run(self) -> None:
        """Read the child stream (in the worker) until it ends, fails or is stopped."""
        iterator: Iterator[Any] | None = None
        try:
            iterator = self.open_child()
            for chunk in iterator:
                self.items.put((_CHUNK, chunk))
                if self.stop.is_set():
                    break
            else:
                self.items.put((_END, None))
        except BaseException as exc:
            self.items.put((_ERROR, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()  # a stopped stream closes its HTTP response now
            self.finished.set()
            self.slot.release()

    def next(self, clock: _TryClock) -> Any:
        """The next chunk; ``StopIteration`` at the end.

        Raises:
            StepTimeoutError: The chunk did not come before the deadline.
        """
        try:
            kind, value = self.items.get(timeout=clock.wait_s())
        except queue.Empty:
            self.timed_out = True
            raise clock.expired() from None
        if kind == _CHUNK:
            return value
        self.ended = True
        if kind == _ERROR:
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop reading; a child still running keeps its slot until it returns (abandoned).

        A child given up at its deadline also lets its side's waiters go to the other side.
        """
        self.stop.set()
        if not self.ended and not self.finished.is_set():
            self.slot.abandon(shed=self.timed_out)
            self.token.cancel(f"the {self.slot.slots.target} stream was abandoned by the router")


def _child_chunks(
    runner: DeadlineRunner, relay: StreamRelay, open_child: Callable[[], Iterator[Any]]
) -> Generator[Any, None, None]:
    """The chunks of one try, under its deadlines, from a slot of its side."""
    slot = runner.take(relay.target, relay.step)
    clock = _TryClock(runner, relay)
    if not clock.bounded:
        try:
            yield from open_child()  # no deadline: read in the caller's thread
        finally:
            slot.release()
        return
    pump = _Pump(slot, open_child)
    try:
        # The child runs in the pump's cancel scope: an in-process edge stops generating when
        # the stream is cut or closed.
        runner.executor(relay.target).submit(scoped_context(pump.token).run, pump.run)
    except BaseException:
        slot.release()
        raise
    try:
        while True:
            try:
                chunk = pump.next(clock)
            except StopIteration:
                return
            yield chunk
    finally:
        pump.close()


def relay_stream(
    step: RoutedStep,
    open_stream: OpenStream,
    run_manager: CallbackManagerForLLMRun | None,
    *,
    buffered: bool,
) -> Iterator[ChatGenerationChunk]:
    """Stream a step: try its sides in turn, relay the chunks, trace it whatever ends it.

    Args:
        step: The planned step.
        open_stream: Opens the child stream of a side (``model.stream(messages, ...)``).
        run_manager: The router's run (gets ``on_llm_new_token`` for every chunk relayed).
        buffered: Hold the whole answer until its tool calls are validated.

    Raises:
        RoutingError: No side answered, or a stream failed or was cut after chunks reached the
            caller (the trace is written first).
    """
    relay = StreamRelay(step, buffered=buffered)
    runner = step.engine.deadlines
    current: str | None = None
    try:
        for target in step.candidates():
            relay.begin(target)
            current = target
            load = step.start_load(target)
            try:
                messages = step.messages_for(target)
                chunks = _child_chunks(runner, relay, partial(open_stream, target, messages))
                try:
                    for chunk in chunks:
                        yield from relay.push(chunk, run_manager)
                finally:
                    chunks.close()
                step.loaded(load)
            except Exception as exc:
                current = None
                relay.failed(exc)
                continue
            finally:
                step.finish_load(load)
            current = None
            if relay.done():
                break
        yield from relay.finish(run_manager)
    except BaseException as exc:
        relay.stopped(current, exc)  # nothing if the step is traced already
        raise


async def _anext_within(iterator: AsyncIterator[Any], clock: _TryClock) -> Any:
    wait = clock.wait_s()
    if wait is None:
        return await anext(iterator)
    try:
        async with asyncio.timeout(wait):
            return await anext(iterator)
    except TimeoutError:
        raise clock.expired() from None


async def arelay_stream(
    step: RoutedStep,
    open_stream: AOpenStream,
    run_manager: AsyncCallbackManagerForLLMRun | None,
    *,
    buffered: bool,
) -> AsyncIterator[ChatGenerationChunk]:
    """Async twin of :func:`relay_stream` (a cancelled task is traced as cancelled)."""
    relay = StreamRelay(step, buffered=buffered)
    runner = step.engine.deadlines
    current: str | None = None
    try:
        for target in step.candidates():
            relay.begin(target)
            current = target
            load = step.start_load(target)
            slot: TrySlot | None = None
            iterator: AsyncIterator[Any] | None = None
            try:
                messages = await step.amessages_for(target)
                slot = await runner.atake(target, step)
                clock = _TryClock(runner, relay)
                iterator = aiter(open_stream(target, messages))
                while True:
                    try:
                        chunk = await _anext_within(iterator, clock)
                    except StopAsyncIteration:
                        break
                    for out in relay.push(chunk, None):
                        if run_manager is not None:
                            await run_manager.on_llm_new_token(out.text, chunk=out)
                        yield out
                step.loaded(load)
            except Exception as exc:
                current = None
                if slot is not None and isinstance(exc, StepTimeoutError):
                    slot.shed()  # the side is slow: its waiters go to the other side now
                relay.failed(exc)
                continue
            finally:
                await _aclose(iterator)
                if slot is not None:
                    slot.release()
                step.finish_load(load)
            current = None
            if relay.done():
                break
        answer = await step.afinish()  # the sinks write off the event loop
        for out in relay.finish(None, answer):
            if run_manager is not None:
                await run_manager.on_llm_new_token(out.text, chunk=out)
            yield out
    except BaseException as exc:
        relay.stopped(current, exc)
        raise


async def _aclose(iterator: AsyncIterator[Any] | None) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
