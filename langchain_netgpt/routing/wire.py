"""Connection-level timing of cloud calls: when the request left and when the response began.

A call's wall time holds more than the network and the server: the client's request building,
JSON parsing and LangChain's callbacks (tens of milliseconds on a busy laptop). For a cloud whose
HTTP client is ``httpx`` (``ChatOpenAI`` and its relatives), the engine adds event hooks to that
client: the request hook stamps the moment the request is handed to the connection, the response
hook the moment the response headers arrive. The hooks record only while a :class:`WireProbe` is
armed in the calling context (:func:`armed`), so a client shared with other code is unaffected.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["WireProbe", "arm", "armed", "disarm", "install_wire_hooks"]

_ACTIVE: contextvars.ContextVar[WireProbe | None] = contextvars.ContextVar(
    "netgpt_wire_probe", default=None
)
_installed_lock = threading.Lock()


class WireProbe:
    """Connection timestamps of the last HTTP exchange made while the probe was armed.

    Attributes:
        sent_at: ``time.perf_counter()`` when the request was handed to the connection.
        headers_at: ``time.perf_counter()`` when the response headers arrived.
        request_bytes: Size of the request body, when known.
    """

    __slots__ = ("headers_at", "request_bytes", "sent_at")

    def __init__(self) -> None:
        self.sent_at: float | None = None
        self.headers_at: float | None = None
        self.request_bytes: int | None = None

    def header_wait_s(self) -> float | None:
        """Seconds from the request leaving to the response headers (``None``: not seen)."""
        if self.sent_at is None or self.headers_at is None or self.headers_at < self.sent_at:
            return None
        return self.headers_at - self.sent_at


def _on_request(request: Any) -> None:
    probe = _ACTIVE.get()
    if probe is not None:
        probe.sent_at, probe.headers_at = time.perf_counter(), None
        content = getattr(request, "content", None)
        probe.request_bytes = len(content) if isinstance(content, bytes) else None


def _on_response(response: Any) -> None:
    probe = _ACTIVE.get()
    if probe is not None:
        probe.headers_at = time.perf_counter()


async def _aon_request(request: Any) -> None:
    _on_request(request)


async def _aon_response(response: Any) -> None:
    _on_response(response)


def _add_hooks(client: Any, request_hook: Any, response_hook: Any) -> bool:
    hooks = getattr(client, "event_hooks", None)
    if not isinstance(hooks, dict):
        return False
    requests = list(hooks.get("request", []))
    responses = list(hooks.get("response", []))
    if request_hook not in requests:
        requests.append(request_hook)
    if response_hook not in responses:
        responses.append(response_hook)
    client.event_hooks = {**hooks, "request": requests, "response": responses}
    return True


def install_wire_hooks(model: Any) -> bool:
    """Add the timing hooks to the ``httpx`` clients of an OpenAI-style chat model.

    Looks for ``root_client`` / ``root_async_client`` (``ChatOpenAI``) holding an ``httpx``
    client; hooks already present are not added twice.

    Returns:
        Whether any client got the hooks (``False``: the model's HTTP is out of reach).
    """
    done = False
    with _installed_lock:
        for attr, hooks in (
            ("root_client", (_on_request, _on_response)),
            ("root_async_client", (_aon_request, _aon_response)),
        ):
            http = getattr(getattr(model, attr, None), "_client", None)
            if http is not None:
                done = _add_hooks(http, *hooks) or done
    return done


def arm() -> tuple[WireProbe, contextvars.Token[WireProbe | None]]:
    """Arm a fresh probe in the current context; give the token to :func:`disarm`."""
    probe = WireProbe()
    return probe, _ACTIVE.set(probe)


def disarm(token: contextvars.Token[WireProbe | None]) -> None:
    """Disarm the probe :func:`arm` armed."""
    try:
        _ACTIVE.reset(token)
    except ValueError:  # reset from another context (a generator closed elsewhere)
        _ACTIVE.set(None)


@contextmanager
def armed() -> Iterator[WireProbe]:
    """Arm a fresh probe in the current context for the duration of the block.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.wire import armed

            with armed() as probe:
                pass  # a hooked httpx client's request here stamps probe.sent_at
            assert probe.header_wait_s() is None
    """
    probe, token = arm()
    try:
        yield probe
    finally:
        disarm(token)
