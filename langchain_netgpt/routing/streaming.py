"""Streaming half of a routed step, shared by ``NetGPTRouter._stream`` and ``_astream``.

The relay holds back the latest chunk so the routing metadata can ride on the last one, and
buffers a whole answer when its tool calls must be validated before anyone sees them (so an
invalid call can still fall back to the other side).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Iterator
from functools import reduce
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_netgpt.errors import RoutingError
from langchain_netgpt.routing.step import RoutedStep
from langchain_netgpt.routing.stream_calls import strict_tool_calls

__all__ = ["StreamRelay"]


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

    def failed(self, exc: BaseException) -> None:
        """Record a failed stream; once chunks reached the caller, no other side may take over."""
        self.step.failed(self.target, exc, time.perf_counter() - self.t0)
        if self.emitted:
            try:
                self.step.finish(error=exc)  # writes the trace, then raises RoutingError
            except RoutingError as routing_error:
                raise routing_error from exc
            raise RoutingError(f"netgpt: the {self.target} stream failed mid-answer: {exc}")

    def done(self) -> bool:
        """The try's stream ended: validate it; return whether to stop trying."""
        chunks = self.chunks[self.target]
        if not chunks:
            empty = RuntimeError("the model streamed no chunk")
            self.step.failed(self.target, empty, time.perf_counter() - self.t0)
            return False
        return self.step.accept(self.target, _collect(chunks), time.perf_counter() - self.t0)

    def finish(self, run_manager: CallbackManagerForLLMRun | None) -> Iterator[ChatGenerationChunk]:
        """Close the step; yield the remaining chunks, the last carrying the route."""
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
