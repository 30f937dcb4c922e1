"""Remote edges for production: the same small model served by TGI or vLLM over HTTP.

In-process generation (:class:`~langchain_netgpt.edge.HuggingFaceEdgeModel`) suits a laptop or a
device; a shared edge box usually runs a serving engine instead. Both factories return standard
LangChain chat models that :class:`NetGPTRouter` can use as its ``edge``; constrained tool calls
are then the server's job (TGI grammars, vLLM guided decoding).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_netgpt.errors import MissingExtraError


def tgi_edge(
    endpoint_url: str, *, offline_passthrough: bool = True, **kwargs: Any
) -> BaseChatModel:
    """A chat model backed by a Text Generation Inference endpoint.

    Any server speaking TGI's OpenAI-compatible Messages API serves too (``netgpt serve`` does).
    The model is ``ChatHuggingFace`` over ``HuggingFaceEndpoint`` (``langchain-huggingface``),
    with two fixes for tool-calling agents: every ``tool_choice`` form LangChain uses works with
    any number of tools (``"auto"``, ``"none"``, ``"any"``/``"required"``/``True``, a tool name,
    or ``{"type": "function", "function": {"name": ...}}``; ``ChatHuggingFace`` alone accepts a
    forced choice only with exactly one tool and passes ``"any"`` on as a tool name), and the
    endpoint stays reachable under ``HF_HUB_OFFLINE=1``: ``huggingface_hub`` then refuses every
    HTTP request, even to your own server, so with ``offline_passthrough`` the requests to this
    endpoint (and only to it) are let through; everything else stays offline.

    Args:
        endpoint_url: Base URL of the TGI server, e.g. ``"http://edge-box:8080/"``.
        offline_passthrough: Let requests to ``endpoint_url`` through under ``HF_HUB_OFFLINE``.
        **kwargs: Passed to ``langchain_huggingface.HuggingFaceEndpoint`` (``max_new_tokens``,
            ``temperature``, ``huggingfacehub_api_token``, ...).

    Returns:
        ``ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=..., **kwargs))`` (a subclass
        whose ``bind_tools`` takes every ``tool_choice`` form).

    Raises:
        MissingExtraError: ``langchain-huggingface`` is not installed.
        ValueError: ``endpoint_url`` is not an http(s) URL.

    Example:
        .. code-block:: python

            edge = tgi_edge("http://localhost:8080/", max_new_tokens=256)
    """
    if not isinstance(endpoint_url, str) or urlsplit(endpoint_url).scheme not in ("http", "https"):
        raise ValueError(f"endpoint_url must be an http:// or https:// URL, got {endpoint_url!r}")
    chat_class = _tgi_chat_class()
    from langchain_huggingface import HuggingFaceEndpoint

    if offline_passthrough:
        _let_through_offline(endpoint_url)
    llm = HuggingFaceEndpoint(endpoint_url=endpoint_url, **kwargs)
    chat: BaseChatModel = chat_class(llm=llm)
    return chat


def normalize_tgi_tool_choice(
    tool_choice: str | bool | dict[str, Any] | None, names: list[str]
) -> str | dict[str, Any] | None:
    """``tool_choice`` in any LangChain form, as the Messages API takes it.

    Returns:
        ``None`` (not sent), ``"auto"``, ``"none"``, ``"required"``, or
        ``{"type": "function", "function": {"name": ...}}``.

    Raises:
        ValueError: The choice names a tool that is not bound, or a forced choice has no tools.
        TypeError: The choice is of no known form.

    Example:
        .. code-block:: python

            from langchain_netgpt.edge.remote import normalize_tgi_tool_choice

            assert normalize_tgi_tool_choice("any", ["f"]) == "required"
            assert normalize_tgi_tool_choice("f", ["f", "g"]) == {
                "type": "function",
                "function": {"name": "f"},
            }
    """
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice in ("auto", "none"):
        return str(tool_choice)
    if tool_choice in ("any", "required") or tool_choice is True:
        if not names:
            raise ValueError(f"tool_choice={tool_choice!r} needs at least one bound tool")
        return "required"
    if isinstance(tool_choice, str):
        name = tool_choice
    elif isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
        name = tool_choice["function"].get("name")
    else:
        raise TypeError(
            "tool_choice must be 'auto', 'none', 'any', 'required', a bool, a tool name or "
            f"{{'type': 'function', 'function': {{'name': ...}}}}, got {tool_choice!r}"
        )
    if name not in names:
        raise ValueError(f"tool_choice names {name!r}, which is not a bound tool: {names}")
    return {"type": "function", "function": {"name": name}}


@functools.cache
def _tgi_chat_class() -> Any:
    """``ChatHuggingFace`` with a ``bind_tools`` that takes every ``tool_choice`` form."""
    try:
        from langchain_huggingface import ChatHuggingFace
    except ImportError as exc:
        raise MissingExtraError("langchain-huggingface", "tgi") from exc

    class TGIChatModel(ChatHuggingFace):  # type: ignore[misc,unused-ignore]
        """``ChatHuggingFace`` over a TGI endpoint, taking every ``tool_choice`` form."""

        def bind_tools(
            self,
            tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
            *,
            tool_choice: str | bool | dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> Runnable[LanguageModelInput, AIMessage]:
            formatted = [convert_to_openai_tool(tool) for tool in tools]
            names = [tool["function"]["name"] for tool in formatted]
            choice = normalize_tgi_tool_choice(tool_choice, names)
            if choice is not None:
                kwargs["tool_choice"] = choice
            return BaseChatModel.bind(self, tools=formatted, **kwargs)

    return TGIChatModel


_PASSTHROUGH: set[tuple[str, str, int]] = set()
_PASSTHROUGH_LOCK = threading.Lock()


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _let_through_offline(endpoint_url: str) -> None:
    """Exempt this endpoint from the block ``HF_HUB_OFFLINE`` puts on every request.

    Installed once, through ``huggingface_hub``'s public client factories; only the endpoints
    registered here are exempt.
    """
    import huggingface_hub
    from huggingface_hub.utils import _http as hub_http

    with _PASSTHROUGH_LOCK:
        first = not _PASSTHROUGH
        _PASSTHROUGH.add(_origin(endpoint_url))
        if not first:
            return
        sync_factory = getattr(hub_http, "_GLOBAL_CLIENT_FACTORY", hub_http.default_client_factory)
        async_factory = getattr(
            hub_http, "_GLOBAL_ASYNC_CLIENT_FACTORY", hub_http.default_async_client_factory
        )
        huggingface_hub.set_client_factory(lambda: _exempt(sync_factory(), is_async=False))
        huggingface_hub.set_async_client_factory(lambda: _exempt(async_factory(), is_async=True))


def _exempt(client: Any, *, is_async: bool) -> Any:
    """Wrap the client's request hooks so that registered endpoints skip them."""

    def passes(request: Any) -> bool:
        return _origin(str(request.url)) in _PASSTHROUGH

    def wrap(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if is_async:

            async def guarded_async(request: Any) -> Any:
                return None if passes(request) else await hook(request)

            return guarded_async

        def guarded(request: Any) -> Any:
            return None if passes(request) else hook(request)

        return guarded

    hooks = dict(client.event_hooks)
    hooks["request"] = [wrap(hook) for hook in hooks.get("request", [])]
    client.event_hooks = hooks
    return client


def openai_compatible_edge(base_url: str, model: str, **kwargs: Any) -> BaseChatModel:
    """A chat model backed by an OpenAI-compatible server such as vLLM (``vllm serve <model>``).

    Args:
        base_url: The server's ``/v1`` URL, e.g. ``"http://edge-box:8000/v1"``.
        model: The served model name.
        **kwargs: Passed to ``ChatOpenAI``; ``api_key`` defaults to ``$NETGPT_EDGE_API_KEY`` or
            ``"EMPTY"`` (vLLM accepts any key unless started with ``--api-key``).

    Returns:
        ``ChatOpenAI(base_url=base_url, model=model, api_key=...)``.

    Example:
        .. code-block:: python

            edge = openai_compatible_edge(
                "http://localhost:8000/v1", "HuggingFaceTB/SmolLM2-135M-Instruct"
            )
    """
    from langchain_openai import ChatOpenAI

    api_key = kwargs.pop("api_key", None) or os.environ.get("NETGPT_EDGE_API_KEY") or "EMPTY"
    chat: BaseChatModel = ChatOpenAI(base_url=base_url, model=model, api_key=api_key, **kwargs)
    return chat
