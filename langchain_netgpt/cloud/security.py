"""What keeps ``netgpt serve`` safe to expose: an API key, a Host check, body and time limits.

:class:`ServeSecurity` is the configuration; :class:`SecurityMiddleware` enforces it in front of
the app (before the emulated WAN and before any model call), and
:func:`header_timeout_protocol` closes connections whose request headers do not arrive in time
(uvicorn has no such timeout of its own: a client that sends half a request line keeps its
socket forever).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from langchain_netgpt.cloud.protocol import ApiError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "API_KEY_ENV",
    "LOCAL_API_KEY",
    "SecurityMiddleware",
    "ServeSecurity",
    "header_timeout_protocol",
]

API_KEY_ENV = "NETGPT_SERVE_API_KEY"
"""Environment variable holding the API key ``netgpt serve`` requires."""

LOCAL_API_KEY = "local-stand-in"
"""The (meaningless) API key sent to servers that need none, such as ``netgpt serve``."""

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_OPEN_PATHS = frozenset({"/health"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServeSecurity(BaseModel):
    """How the OpenAI-compatible server protects itself.

    Args:
        api_key: Key every request except ``GET /health`` must send as
            ``Authorization: Bearer <key>`` (what ``ChatOpenAI(api_key=...)`` sends); ``None``:
            no authentication.
        allowed_hosts: Names the ``Host`` header may carry (port ignored), against DNS
            rebinding; ``"*"`` allows any. ``None``: the loopback names (``localhost``,
            ``127.0.0.1``, ``::1``) when bound to a loopback address, any otherwise.
        max_body_bytes: Largest request body accepted (413 beyond; at least 1024).
        header_timeout_s: Time a connection has to send a request's headers before it is
            closed (also between two requests of a kept-alive connection).
        body_timeout_s: Time a request has to send its whole body (408 beyond).

    Example:
        .. code-block:: python

            from langchain_netgpt.cloud import ServeSecurity

            security = ServeSecurity(api_key="s3cret-key", max_body_bytes=1_000_000)
            assert security.api_key is not None
            assert security.hosts_for("127.0.0.1") == frozenset({"localhost", "127.0.0.1", "::1"})
            assert security.hosts_for("0.0.0.0") is None  # any Host
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = None
    allowed_hosts: tuple[str, ...] | None = None
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    header_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 8:
            raise ValueError("api_key must hold at least 8 non-blank characters")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        hosts = tuple(host.strip().lower().strip("[]") for host in value)
        if not hosts or any(not host for host in hosts):
            raise ValueError(f"allowed_hosts must hold non-empty host names, got {value!r}")
        return hosts

    @classmethod
    def from_env(cls, **settings: Any) -> ServeSecurity:
        """Settings with the API key taken from ``NETGPT_SERVE_API_KEY`` unless given."""
        if settings.get("api_key") is None and os.environ.get(API_KEY_ENV):
            settings["api_key"] = os.environ[API_KEY_ENV]
        return cls(**settings)

    def hosts_for(self, bind_host: str) -> frozenset[str] | None:
        """The ``Host`` names accepted by a server bound to ``bind_host`` (``None``: any)."""
        if self.allowed_hosts is None:
            return frozenset(_LOOPBACK_NAMES) if _is_loopback(bind_host) else None
        if "*" in self.allowed_hosts:
            return None
        return frozenset(self.allowed_hosts)


def _host_name(raw: bytes) -> str:
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class _Rejected(Exception):
    def __init__(self, error: ApiError, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.headers = headers or []


class SecurityMiddleware:
    """ASGI middleware enforcing a :class:`ServeSecurity` on every HTTP request.

    Checks, in order: the ``Host`` header (400), the API key (401), the declared body size
    (413), then reads the body itself within ``max_body_bytes`` and ``body_timeout_s`` (413,
    408) and replays it to the app. Every rejection is an OpenAI-style JSON error that names no
    server detail.

    Args:
        app: The ASGI application to protect.
        security: The settings.
        bind_host: The address the server is bound to (decides the default allowed hosts).
    """

    def __init__(self, app: ASGIApp, *, security: ServeSecurity, bind_host: str) -> None:
        self.app = app
        self.security = security
        self.hosts = security.hosts_for(bind_host)
        key = security.api_key
        self._expected = None if key is None else f"Bearer {key.get_secret_value()}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one HTTP request; non-HTTP scopes (lifespan) pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            headers = dict(scope.get("headers") or [])
            self._check_headers(scope, headers)
            if scope.get("method") in _BODY_METHODS:
                receive = await self._buffered(receive)
        except _Rejected as rejected:
            await _send_error(send, rejected.error, rejected.headers)
            return
        await self.app(scope, receive, send)

    def _check_headers(self, scope: Scope, headers: dict[bytes, bytes]) -> None:
        if self.hosts is not None and _host_name(headers.get(b"host", b"")) not in self.hosts:
            raise _Rejected(ApiError(400, "the Host header is not allowed", code="invalid_host"))
        if self._expected is not None and scope.get("path") not in _OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                raise _Rejected(
                    ApiError(
                        401,
                        "missing or invalid API key: send Authorization: Bearer <key>",
                        code="invalid_api_key",
                    ),
                    [(b"www-authenticate", b'Bearer realm="netgpt"')],
                )
        declared = headers.get(b"content-length")
        if declared is not None and declared.strip().isdigit():
            if int(declared) > self.security.max_body_bytes:
                raise _Rejected(self._too_large())

    def _too_large(self) -> ApiError:
        limit = self.security.max_body_bytes
        return ApiError(413, f"the request body exceeds {limit} bytes", code="body_too_large")

    async def _buffered(self, receive: Receive) -> Receive:
        body = bytearray()
        limit = self.security.max_body_bytes
        try:
            async with asyncio.timeout(self.security.body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return receive  # the app sees the disconnect itself
                    body += message.get("body", b"")
                    if len(body) > limit:
                        raise _Rejected(self._too_large())
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            timeout = self.security.body_timeout_s
            raise _Rejected(
                ApiError(
                    408, f"the request body did not arrive within {timeout:g} s", code="timeout"
                )
            ) from None
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return replay


async def _send_error(send: Send, error: ApiError, extra: list[tuple[bytes, bytes]]) -> None:
    import json

    payload = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def header_timeout_protocol(timeout_s: float) -> type[asyncio.Protocol]:
    """Uvicorn's h11 protocol, closing a connection whose request headers are late.

    The clock starts when the connection opens and again after each response; it stops when
    a request's headers have been read in full. Give the class to ``uvicorn.Config(http=...)``.

    Args:
        timeout_s: Seconds allowed for a request's headers.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _armed_cycle: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and self.cycle is not self._armed_cycle:
                self._disarm()  # a request's headers arrived

        def on_response_complete(self) -> None:
            self._arm()  # before: the call below may start a pipelined request (disarming)
            super().on_response_complete()
            if self.transport.is_closing():
                self._disarm()

        def _arm(self) -> None:
            self._disarm()
            self._armed_cycle = self.cycle
            self._header_timer = self.loop.call_later(timeout_s, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutH11Protocol
