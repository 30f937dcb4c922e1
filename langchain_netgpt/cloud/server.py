"""An OpenAI-compatible chat-completions server around any LangChain chat model.

``create_app(model, model_name=...)`` serves ``POST /v1/chat/completions`` (plain and streamed,
with tool calls), ``GET /v1/models`` and ``GET /health``. It is the stand-in cloud of ``netgpt
demo`` and ``netgpt serve``: a real HTTP endpoint that the real ``ChatOpenAI`` client talks to,
optionally behind an emulated wide-area link (:class:`~langchain_netgpt.cloud.wan.WanEmulator`).

Every error is an OpenAI-style JSON body: a bad request gets 400 naming the parameter at fault; a
failure inside the model gets 502 (503 when it timed out or could not connect), never a bare 500,
with a generic message and an error id: the exception itself (which may hold paths or keys) goes
to the server log only, scrubbed of credentials. With a
:class:`~langchain_netgpt.cloud.security.ServeSecurity`, the app also checks the ``Host`` header,
an API key and the request size before anything else runs.
Responses carry ``x-netgpt-server-ms`` (the model's compute time) so a client can tell compute from
network time; streamed responses carry ``x-netgpt-server-first-chunk-ms`` instead.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at runtime,
# and `fastapi` is only a local name inside create_app.
import asyncio
import inspect
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Annotated, Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import TypeAdapter, ValidationError

from langchain_netgpt.cloud.protocol import (
    ApiError,
    ChatCompletionRequest,
    parse_request,
    to_langchain_messages,
)
from langchain_netgpt.cloud.responses import ChunkEncoder, completion_from_message
from langchain_netgpt.cloud.security import SecurityMiddleware, ServeSecurity
from langchain_netgpt.cloud.wan import WanEmulator, WanMiddleware
from langchain_netgpt.errors import CloudUnavailableError, MissingExtraError
from langchain_netgpt.tracing.scrub import scrub_text, scrubbed_logger

if TYPE_CHECKING:
    import fastapi

__all__ = ["create_app"]

_log = scrubbed_logger(__name__)

_MAX_TOKEN_FIELDS = ("max_tokens", "max_new_tokens", "max_completion_tokens")


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


def _configure(model: BaseChatModel, request: ChatCompletionRequest) -> BaseChatModel:
    """A copy of ``model`` with the request's sampling settings, for the fields the model has.

    Settings the model class does not declare (say ``top_p`` on a greedy-only model) are ignored,
    as an OpenAI-compatible server for a fixed model may do; a value outside the range the model's
    field accepts (say ``max_tokens`` above its limit) is a 400 naming the parameter.
    """
    fields = type(model).model_fields
    wanted: list[tuple[str, str, Any]] = []  # (request parameter, model field, value)
    if request.temperature is not None:
        wanted.append(("temperature", "temperature", request.temperature))
    if request.top_p is not None:
        wanted.append(("top_p", "top_p", request.top_p))
    if request.max_output_tokens is not None:
        param = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
        field = next((name for name in _MAX_TOKEN_FIELDS if name in fields), None)
        if field is not None:
            wanted.append((param, field, request.max_output_tokens))
    updates: dict[str, Any] = {}
    for param, field, value in wanted:
        if field not in fields:
            continue
        info = fields[field]
        try:
            field_type: Any = (
                cast(Any, Annotated)[(info.annotation, *info.metadata)]
                if info.metadata
                else info.annotation
            )
            TypeAdapter(field_type).validate_python(value)
        except ValidationError as exc:
            reason = exc.errors(include_url=False, include_input=False)[0]["msg"]
            raise ApiError(
                400, f"{param}={value} is not accepted by this model: {reason}", param=param
            ) from None
        updates[field] = value
    return model.model_copy(update=updates) if updates else model


def _structured_output_runnable(
    model: BaseChatModel, request: ChatCompletionRequest
) -> Runnable[list[BaseMessage], AIMessage]:
    """Wrap ``model`` so it answers with JSON matching ``response_format.json_schema``."""
    assert request.response_format is not None and request.response_format.json_schema is not None
    spec = request.response_format.json_schema
    schema = {**spec.schema_, "title": spec.name}
    if spec.description:
        schema["description"] = spec.description
    try:
        structured = model.with_structured_output(schema, include_raw=True)
    except NotImplementedError:
        raise ApiError(
            400,
            f"this model ({type(model).__name__}) cannot do response_format json_schema",
            param="response_format",
        ) from None

    def to_message(result: Any) -> AIMessage:
        raw = result.get("raw")
        if result.get("parsed") is None:
            raise ValueError(
                f"the model's answer does not match the schema {spec.name!r}: "
                f"{result.get('parsing_error')}"
            )
        usage = raw.usage_metadata if isinstance(raw, AIMessage) else None
        return AIMessage(json.dumps(result["parsed"]), usage_metadata=usage)

    chain: Runnable[list[BaseMessage], AIMessage] = structured | RunnableLambda(to_message)
    return chain


def _runnable_for(
    model: BaseChatModel, request: ChatCompletionRequest
) -> Runnable[list[BaseMessage], Any]:
    """The model configured for this request: sampling settings, bound tools, structured output."""
    configured = _configure(model, request)
    if request.response_format is not None and request.response_format.type == "json_object":
        raise ApiError(
            400,
            "response_format type 'json_object' is not supported; use 'json_schema' with a schema",
            param="response_format.type",
        )
    wants_schema = request.response_format is not None and request.response_format.type == (
        "json_schema"
    )
    if wants_schema and request.tools and request.tool_choice != "none":
        raise ApiError(
            400,
            "combining tools with response_format json_schema is not supported by this server",
            param="response_format",
        )
    if wants_schema:
        return _structured_output_runnable(configured, request)
    if not request.tools or request.tool_choice == "none":
        # "none": the model must not call tools, so it does not get them at all.
        return configured
    extra: dict[str, Any] = {}
    if request.parallel_tool_calls is not None:
        parameters = inspect.signature(configured.bind_tools).parameters
        if "parallel_tool_calls" in parameters:
            extra["parallel_tool_calls"] = request.parallel_tool_calls
    try:
        return configured.bind_tools(
            request.langchain_tools(), tool_choice=request.langchain_tool_choice(), **extra
        )
    except NotImplementedError:
        raise ApiError(
            400, f"this model ({type(model).__name__}) does not support tools", param="tools"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        reason = scrub_text(str(exc))
        raise ApiError(400, f"the tools could not be bound: {reason}", param="tools") from None


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


def create_app(
    model: BaseChatModel,
    *,
    model_name: str,
    wan: WanEmulator | None = None,
    max_concurrency: int | None = None,
    security: ServeSecurity | None = None,
    bind_host: str = "127.0.0.1",
) -> "fastapi.FastAPI":
    """Build the OpenAI-compatible app serving ``model``.

    Args:
        model: Any LangChain chat model; tools are bound per request with ``bind_tools``.
        model_name: The name reported in responses and by ``GET /v1/models`` (requests may name
            any model; this server has only one).
        wan: An emulated wide-area link in front of every exchange; ``None`` for none.
        max_concurrency: Most model calls in flight at once (``None``: no limit). Use 1 for a
            model that is not safe to call concurrently.
        security: API key, allowed hosts and request limits, checked before anything else
            (``None``: none, for an app embedded behind your own front; ``LocalServer`` and
            ``netgpt serve`` always pass one).
        bind_host: The address the app is served on (decides the default allowed hosts).

    Returns:
        The FastAPI application (serve it with uvicorn, or use
        :class:`~langchain_netgpt.cloud.local.LocalServer`).

    Raises:
        MissingExtraError: fastapi is not installed.
        ValueError: ``max_concurrency`` is not ``None`` or >= 1.

    Example:
        .. code-block:: python

            from langchain_core.language_models.fake_chat_models import FakeListChatModel
            from langchain_netgpt.cloud import create_app

            app = create_app(FakeListChatModel(responses=["hi"]), model_name="fake")
    """
    try:
        import fastapi
        from fastapi.responses import JSONResponse, StreamingResponse
        from starlette.exceptions import HTTPException as StarletteHTTPException
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError("fastapi", "edge") from None
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency must be None or >= 1, got {max_concurrency}")

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

    app = fastapi.FastAPI(title="netgpt stand-in cloud", docs_url=None, redoc_url=None)
    gate = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    started = int(time.time())

    def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

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

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": model_name}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": model_name, "object": "model", "created": started, "owned_by": "netgpt"}
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: fastapi.Request) -> fastapi.Response:
        try:
            body = parse_request(await request.body())
            messages = to_langchain_messages(body.messages)
            runnable = _runnable_for(model, body)
        except ApiError as error:
            return error_response(error)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        # Only pass `stop` when set: runnables other than chat models may not take it.
        call_kwargs: dict[str, Any] = {"stop": body.stop_sequences} if body.stop else {}
        parallel = body.parallel_tool_calls is not False
        # Server time includes waiting for a model slot: to the client, queueing is not network.
        t0 = time.perf_counter()
        stack = AsyncExitStack()
        if gate is not None:
            await stack.enter_async_context(gate)
        if not body.stream:
            try:
                answer = await runnable.ainvoke(messages, **call_kwargs)
            except ApiError as error:
                return error_response(error)
            except Exception as exc:
                return error_response(_model_error(exc, model_name, "while answering"))
            finally:
                await stack.aclose()
            server_ms = f"{(time.perf_counter() - t0) * 1000:.3f}"
            if not isinstance(answer, AIMessage):
                unexpected = TypeError(f"expected an AIMessage, got {answer!r:.80}")
                return error_response(_model_error(unexpected, model_name, "with no message"))
            completion = completion_from_message(
                answer,
                completion_id=completion_id,
                created=created,
                model_name=model_name,
                parallel_tool_calls=parallel,
            )
            return JSONResponse(completion, headers={"x-netgpt-server-ms": server_ms})

        encoder = ChunkEncoder(
            completion_id=completion_id,
            created=created,
            model_name=model_name,
            include_usage=bool(body.stream_options and body.stream_options.include_usage),
            parallel_tool_calls=parallel,
        )
        wants_schema = body.response_format is not None and body.response_format.type == (
            "json_schema"
        )
        # The first chunk is awaited before the response starts, so that a model that fails at once
        # still gets a proper JSON error status instead of a broken stream.
        try:
            if wants_schema:
                stream = _single_chunk(await runnable.ainvoke(messages, **call_kwargs))
            else:
                stream = runnable.astream(messages, **call_kwargs).__aiter__()
            first: AIMessageChunk | None = await anext(stream, None)
        except Exception as exc:
            await stack.aclose()
            return error_response(_model_error(exc, model_name, "before streaming"))
        first_ms = f"{(time.perf_counter() - t0) * 1000:.3f}"

        async def events() -> AsyncIterator[bytes]:
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
                yield _sse(_model_error(exc, model_name, "while streaming").body())
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()

        return _ClosingStream(
            events(),
            on_close=stack.aclose,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-netgpt-server-first-chunk-ms": first_ms},
        )

    if wan is not None:
        app.add_middleware(WanMiddleware, emulator=wan)
    if security is not None:  # added last: the outermost, before the emulated link
        app.add_middleware(SecurityMiddleware, security=security, bind_host=bind_host)
    return app
