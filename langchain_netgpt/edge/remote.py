"""Remote edges for production: the same small model served by TGI or vLLM over HTTP.

In-process generation (:class:`~langchain_netgpt.edge.HuggingFaceEdgeModel`) suits a laptop or a
device; a shared edge box usually runs a serving engine instead. Both factories return standard
LangChain chat models that :class:`NetGPTRouter` can use as its ``edge``; constrained tool calls
are then the server's job (TGI grammars, vLLM guided decoding).
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from langchain_netgpt.errors import MissingExtraError


def tgi_edge(endpoint_url: str, **kwargs: Any) -> BaseChatModel:
    """A chat model backed by a Text Generation Inference endpoint.

    Args:
        endpoint_url: Base URL of the TGI server, e.g. ``"http://edge-box:8080/"``.
        **kwargs: Passed to ``langchain_huggingface.HuggingFaceEndpoint`` (``max_new_tokens``,
            ``temperature``, ``huggingfacehub_api_token``, ...).

    Returns:
        ``ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=..., **kwargs))``.

    Raises:
        MissingExtraError: ``langchain-huggingface`` is not installed.

    Example:
        .. code-block:: python

            edge = tgi_edge("http://localhost:8080/", max_new_tokens=256)
    """
    try:
        from langchain_huggingface import (  # type: ignore[import-not-found,unused-ignore]
            ChatHuggingFace,
            HuggingFaceEndpoint,
        )
    except ImportError as exc:
        raise MissingExtraError("langchain-huggingface", "tgi") from exc
    llm = HuggingFaceEndpoint(endpoint_url=endpoint_url, **kwargs)
    chat: BaseChatModel = ChatHuggingFace(llm=llm)
    return chat


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
