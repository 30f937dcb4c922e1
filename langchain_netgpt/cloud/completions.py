"""The ``POST /v1/chat/completions`` endpoint of the stand-in cloud, as a handler object.

:class:`ChatCompletionsHandler` holds the served model, its name and the concurrency gate, and
answers one request: parse it, configure the model
(:func:`~langchain_netgpt.cloud.request_model.runnable_for`), then answer whole (with an
``x-netgpt-server-ms`` header) or stream server-sent events (with an
``x-netgpt-server-first-chunk-ms`` header). Every failure is an OpenAI-style JSON error
(:func:`error_response`; :func:`install_error_handlers` does the same for HTTP errors and
unhandled exceptions). :func:`~langchain_netgpt.cloud.server.create_app` imports this module
once fastapi is known to be installed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import fastapi
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable
from starlette.exceptions import HTTPException as StarletteHTTPException

from langchain_netgpt.cloud.protocol import (
    ApiError,
    ChatCompletionRequest,
    parse_request,
    to_langchain_messages,
)
from langchain_netgpt.cloud.request_model import runnable_for
from langchain_netgpt.cloud.responses import ChunkEncoder, completion_from_message
from langchain_netgpt.errors import CloudUnavailableError
from langchain_netgpt.tracing.scrub import scrubbed_logger

__all__ = ["ChatCompletionsHandler", "error_response", "install_error_handlers"]

# The server's logger, as before this handler moved out of it: log settings keep applying.
_log = scrubbed_logger("langchain_netgpt.cloud.server")


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    """``error`` as an OpenAI-style JSON response with its status."""
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _model_error(exc: BaseException, model_name: str, when: str) -> ApiError:
    """Map an exception raised inside the model to a 502 (failed) or 503 (unavailable) error.

    The body is generic (an exception may carry file paths, hosts or keys); the details are
    logged, scrubbed, under the error id the body gives.
    """
    error_id = uuid.uuid4().hex[:12]
    _log.warning("model %r failed %s (error id %s)", model_name, when, error_id, exc_info=exc)
    unavailable = isinstance(exc, TimeoutError | ConnectionError | CloudUnavailableError)
    what = "is unavailable" if unavailable else "failed"
    return ApiError(
        503 if unavailable else 502,
        f"model {model_name!r} {what} ({type(exc).__name__}); the server log has the details "
        f"under error id {error_id}",
        type="server_error",
        code="model_unavailable" if unavailable else "model_error",
    )


def install_error_handlers(app: fastapi.FastAPI) -> None:
    """Answer HTTP errors and unhandled exceptions in ``app`` with OpenAI-style JSON bodies."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: fastapi.Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else None
        return error_response(ApiError(exc.status_code, str(exc.detail), code=code))

    @app.exception_handler(Exception)
    async def internal_error(_: fastapi.Request, exc: Exception) -> JSONResponse:
        _log.exception("internal error in the netgpt server")
        return error_response(
            ApiError(500, f"internal server error: {type(exc).__name__}", type="server_error")
        )


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


async def _single_chunk(message: AIMessage) -> AsyncIterator[AIMessageChunk]:
    """A whole answer as a one-chunk stream (structured output is not streamed incrementally)."""
    yield AIMessageChunk(
        content=message.content,
        tool_call_chunks=[
            {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
            for i, c in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
    )


class _ClosingStream(StreamingResponse):
    """A stream that releases the model slot when the response ends, however it ends."""

    def __init__(
        self, content: Any, *, on_close: Callable[[], Awaitable[None]], **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._on_close()


@dataclass
class _Call:
    """One accepted request on its way through the model."""

    body: ChatCompletionRequest
    messages: list[BaseMessage]
    runnable: Runnable[list[BaseMessage], Any]
    call_kwargs: dict[str, Any]
    completion_id: str
    created: int
    t0: float
    stack: AsyncExitStack

    @property
    def parallel(self) -> bool:
        """Whether the answer may hold several tool calls (the request did not forbid it)."""
        return self.body.parallel_tool_calls is not False


class ChatCompletionsHandler:
    """Answers ``POST /v1/chat/completions`` for one model, plain or streamed.

    Args:
        model: The served chat model.
        model_name: The name reported in responses.
        gate: Limits the model calls in flight (``None``: no limit); a streamed answer holds its
            slot until the response ends.

    Example:
        .. code-block:: python

            from langchain_core.language_models.fake_chat_models import FakeListChatModel
            from langchain_netgpt.cloud.completions import ChatCompletionsHandler

            handler = ChatCompletionsHandler(FakeListChatModel(responses=["hi"]), model_name="f")
    """

    def __init__(
        self, model: BaseChatModel, *, model_name: str, gate: asyncio.Semaphore | None = None
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.gate = gate

    async def __call__(self, request: fastapi.Request) -> fastapi.Response:
        """Answer one request: a completion, a stream of chunks, or a JSON error."""
        try:
            body = parse_request(await request.body())
            messages = to_langchain_messages(body.messages)
            runnable = runnable_for(self.model, body)
        except ApiError as error:
            return error_response(error)
        call = _Call(
            body=body,
            messages=messages,
            runnable=runnable,
            # Only pass `stop` when set: runnables other than chat models may not take it.
            call_kwargs={"stop": body.stop_sequences} if body.stop else {},
            completion_id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            # Server time includes waiting for a model slot: to the client, queueing is not
            # network.
            t0=time.perf_counter(),
            stack=AsyncExitStack(),
        )
        if self.gate is not None:
            await call.stack.enter_async_context(self.gate)
        if not body.stream:
            return await self._answer(call)
        return await self._stream(call)

    async def _answer(self, call: _Call) -> fastapi.Response:
        """The whole answer as one completion, timed in ``x-netgpt-server-ms``."""
        try:
            answer = await call.runnable.ainvoke(call.messages, **call.call_kwargs)
        except ApiError as error:
            return error_response(error)
        except Exception as exc:
            return error_response(_model_error(exc, self.model_name, "while answering"))
        finally:
            await call.stack.aclose()
        server_ms = f"{(time.perf_counter() - call.t0) * 1000:.3f}"
        if not isinstance(answer, AIMessage):
            unexpected = TypeError(f"expected an AIMessage, got {answer!r:.80}")
            return error_response(_model_error(unexpected, self.model_name, "with no message"))
        completion = completion_from_message(
            answer,
            completion_id=call.completion_id,
            created=call.created,
            model_name=self.model_name,
            parallel_tool_calls=call.parallel,
        )
        return JSONResponse(completion, headers={"x-netgpt-server-ms": server_ms})

    async def _stream(self, call: _Call) -> fastapi.Response:
        """The answer as server-sent events, the first chunk timed in its header."""
        body = call.body
        encoder = ChunkEncoder(
            completion_id=call.completion_id,
            created=call.created,
            model_name=self.model_name,
            include_usage=bool(body.stream_options and body.stream_options.include_usage),
            parallel_tool_calls=call.parallel,
        )
        wants_schema = body.response_format is not None and body.response_format.type == (
            "json_schema"
        )
        # The first chunk is awaited before the response starts, so that a model that fails at once
        # still gets a proper JSON error status instead of a broken stream.
        try:
            stream: AsyncIterator[AIMessageChunk]
            if wants_schema:
                answer = await call.runnable.ainvoke(call.messages, **call.call_kwargs)
                stream = _single_chunk(answer)
            else:
                stream = call.runnable.astream(call.messages, **call.call_kwargs).__aiter__()
            first: AIMessageChunk | None = await anext(stream, None)
        except Exception as exc:
            await call.stack.aclose()
            return error_response(_model_error(exc, self.model_name, "before streaming"))
        first_ms = f"{(time.perf_counter() - call.t0) * 1000:.3f}"
        return _ClosingStream(
            self._events(encoder, first, stream),
            on_close=call.stack.aclose,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-netgpt-server-first-chunk-ms": first_ms},
        )

    async def _events(
        self,
        encoder: ChunkEncoder,
        first: AIMessageChunk | None,
        stream: AsyncIterator[AIMessageChunk],
    ) -> AsyncIterator[bytes]:
        """The SSE bytes of a stream whose first chunk was already read; errors become events."""
        try:
            for chunk in encoder.start():
                yield _sse(chunk)
            if first is not None:
                for chunk in encoder.encode(first):
                    yield _sse(chunk)
                async for piece in stream:
                    for chunk in encoder.encode(piece):
                        yield _sse(chunk)
            for chunk in encoder.finish():
                yield _sse(chunk)
            yield b"data: [DONE]\n\n"
        except Exception as exc:
            yield _sse(_model_error(exc, self.model_name, "while streaming").body())
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
