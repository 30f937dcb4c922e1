"""The router's cloud side: ``ChatOpenAI`` configured from the environment, or a local stand-in.

``cloud_from_env()`` reads ``OPENAI_API_KEY``, ``NETGPT_CLOUD_BASE_URL`` and ``NETGPT_CLOUD_MODEL``;
``local_cloud(wan=...)`` starts an OpenAI-compatible server on loopback (the bundled HuggingFace
model by default) behind an emulated WAN and yields a ``ChatOpenAI`` pointed at it. Either way the
cloud path is real HTTP through the real OpenAI client.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from langchain_netgpt.cloud.local import LocalServer
from langchain_netgpt.cloud.security import API_KEY_ENV, LOCAL_API_KEY
from langchain_netgpt.cloud.wan import WanProfile
from langchain_netgpt.errors import CloudUnavailableError

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

__all__ = ["DEFAULT_CLOUD_MODEL", "LOCAL_API_KEY", "cloud_from_env", "local_cloud"]

DEFAULT_CLOUD_MODEL = "gpt-4o-mini"
"""Model used by :func:`cloud_from_env` when ``NETGPT_CLOUD_MODEL`` is not set."""


_DEFAULT_TIMEOUT_S = 60.0


def cloud_from_env(**overrides: Any) -> ChatOpenAI:
    """A ``ChatOpenAI`` for the cloud side, configured from the environment.

    ``OPENAI_API_KEY`` selects OpenAI (or the server at ``NETGPT_CLOUD_BASE_URL`` when both are
    set); ``NETGPT_CLOUD_BASE_URL`` alone selects an OpenAI-compatible server that needs no key
    (vLLM, TGI, ``netgpt serve``; its key, if any, from ``NETGPT_SERVE_API_KEY``).
    ``NETGPT_CLOUD_MODEL`` names the model (default
    ``gpt-4o-mini``). The key is held as a ``SecretStr`` and never shown in ``repr`` or errors.
    The client makes no retries of its own (``max_retries=0``): the router's ``retry`` policy and
    ``step_deadline_s`` are the single source of truth; its 60 s ``timeout`` only frees a worker
    thread the router has already given up on. Response headers are left off: a router that
    wraps this model turns them on for its own calls to read the server's compute time.

    Args:
        **overrides: ``ChatOpenAI`` arguments that take precedence over the environment
            (``model``, ``base_url``, ``api_key``, ``timeout``, ``max_retries``, ...).

    Returns:
        The configured chat model (no request is made).

    Raises:
        CloudUnavailableError: Neither a key nor a base URL is configured.

    Example:
        .. code-block:: python

            import os
            from langchain_netgpt.cloud import cloud_from_env

            os.environ["NETGPT_CLOUD_BASE_URL"] = "http://127.0.0.1:8000/v1"
            cloud = cloud_from_env(model="netgpt-bundled")
    """
    from langchain_openai import ChatOpenAI

    key = overrides.pop("api_key", None) or os.environ.get("OPENAI_API_KEY") or None
    base_url = overrides.pop("base_url", None) or os.environ.get("NETGPT_CLOUD_BASE_URL") or None
    if key is None and base_url is not None:
        key = os.environ.get(API_KEY_ENV) or None  # a `netgpt serve --api-key` server
    if key is None and base_url is None:
        raise CloudUnavailableError(
            "no cloud model is configured: set OPENAI_API_KEY (for OpenAI) or "
            "NETGPT_CLOUD_BASE_URL (for any OpenAI-compatible server, e.g. `netgpt serve`), "
            "or use local_cloud() for a local stand-in"
        )
    if isinstance(key, SecretStr):
        secret = key
    else:
        secret = SecretStr(str(key) if key is not None else LOCAL_API_KEY)
    settings: dict[str, Any] = {
        "model": os.environ.get("NETGPT_CLOUD_MODEL") or DEFAULT_CLOUD_MODEL,
        "api_key": secret,
        "base_url": base_url,
        "timeout": _DEFAULT_TIMEOUT_S,
        # The router owns retries (NetGPTRouter.retry) and deadlines (step_deadline_s); client
        # retries would hide failures from the circuit breaker and overrun the step's deadline.
        "max_retries": 0,
        # Token usage on streamed answers. Response headers (server timing) are not asked for:
        # the router turns them on for its own calls and reads them there.
        "stream_usage": True,
    }
    settings.update(overrides)
    return ChatOpenAI(**settings)


@contextmanager
def local_cloud(
    model: BaseChatModel | None = None,
    *,
    wan: WanProfile,
    model_name: str = "netgpt-local",
    timeout_s: float = 120.0,
    max_retries: int = 0,
    **chat_kwargs: Any,
) -> Iterator[ChatOpenAI]:
    """Start a loopback stand-in cloud behind an emulated WAN and yield a ``ChatOpenAI`` for it.

    Args:
        model: The model to serve; default: the bundled edge model
            (``HuggingFaceEdgeModel.from_bundled()``, needs the ``edge`` extra).
        wan: The emulated link between the client and the stand-in.
        model_name: The name the server reports and the client sends.
        timeout_s: Client request timeout (a CPU model can take tens of seconds).
        max_retries: Client retries (0: a failure shows at once, as the router wants).
        **chat_kwargs: Extra ``ChatOpenAI`` arguments.

    Yields:
        A ``ChatOpenAI`` pointed at the running server; the server stops on exit.

    Raises:
        CloudUnavailableError: The server could not start.
        MissingExtraError: The default model is requested without the ``edge`` extra.

    Example:
        .. code-block:: python

            from langchain_core.language_models.fake_chat_models import FakeListChatModel
            from langchain_netgpt.cloud import WanProfile, local_cloud

            fake = FakeListChatModel(responses=["hi"])
            with local_cloud(fake, wan=WanProfile(rtt_ms=80, bandwidth_mbps=20)) as cloud:
                assert cloud.invoke("hello").content == "hi"
    """
    from langchain_openai import ChatOpenAI

    if model is None:
        from langchain_netgpt.edge import HuggingFaceEdgeModel

        model = HuggingFaceEdgeModel.from_bundled()
    with LocalServer(model, model_name=model_name, wan=wan) as server:
        yield ChatOpenAI(
            model=model_name,
            base_url=server.base_url,
            api_key=SecretStr(server.api_key),
            timeout=timeout_s,
            max_retries=max_retries,
            **{"stream_usage": True, **chat_kwargs},
        )
