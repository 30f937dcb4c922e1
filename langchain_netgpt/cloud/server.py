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
The chat-completions endpoint itself is a
:class:`~langchain_netgpt.cloud.completions.ChatCompletionsHandler`.
Responses carry ``x-netgpt-server-ms`` (the model's compute time) so a client can tell compute from
network time; streamed responses carry ``x-netgpt-server-first-chunk-ms`` instead.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at runtime,
# and `fastapi` is only a local name inside create_app.
import asyncio
import time
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from langchain_netgpt.cloud.security import SecurityMiddleware, ServeSecurity
from langchain_netgpt.cloud.wan import WanEmulator, WanMiddleware
from langchain_netgpt.errors import MissingExtraError

if TYPE_CHECKING:
    import fastapi

__all__ = ["create_app"]


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
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError("fastapi", "edge") from None
    # Needs fastapi, so imported once it is known to be there.
    from langchain_netgpt.cloud.completions import ChatCompletionsHandler, install_error_handlers

    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency must be None or >= 1, got {max_concurrency}")

    app = fastapi.FastAPI(title="netgpt stand-in cloud", docs_url=None, redoc_url=None)
    gate = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    started = int(time.time())

    install_error_handlers(app)

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

    handler = ChatCompletionsHandler(model, model_name=model_name, gate=gate)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: fastapi.Request) -> fastapi.Response:
        return await handler(request)

    if wan is not None:
        app.add_middleware(WanMiddleware, emulator=wan)
    if security is not None:  # added last: the outermost, before the emulated link
        app.add_middleware(SecurityMiddleware, security=security, bind_host=bind_host)
    return app
