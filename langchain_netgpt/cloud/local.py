"""Run the OpenAI-compatible app on loopback: in a background thread, or in the foreground.

:class:`LocalServer` is what ``netgpt demo`` and the tests use: it binds a free port on
127.0.0.1, serves :func:`~langchain_netgpt.cloud.server.create_app` with uvicorn in a daemon
thread, and returns once ``GET /health`` answers. :func:`serve` is the blocking variant behind
``netgpt serve``. Both always apply a :class:`~langchain_netgpt.cloud.security.ServeSecurity`
(by default: the key of ``NETGPT_SERVE_API_KEY`` if set, loopback ``Host`` names only when bound
to loopback, a 10 MB body limit, 10 s for headers and 30 s for a body).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from langchain_core.language_models import BaseChatModel

from langchain_netgpt.cloud.security import LOCAL_API_KEY, ServeSecurity, header_timeout_protocol
from langchain_netgpt.cloud.server import create_app
from langchain_netgpt.cloud.wan import WanEmulator, WanProfile
from langchain_netgpt.errors import CloudUnavailableError, MissingExtraError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["LocalServer", "serve"]


def _import_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError("uvicorn", "edge") from None
    return uvicorn


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for :func:`serve` (port 0: a free one).

    Raises:
        CloudUnavailableError: The address cannot be bound (the port is taken, say).
    """
    try:
        return _bind(host, port)
    except OSError as exc:
        raise CloudUnavailableError(f"cannot bind {host}:{port}: {exc}") from exc


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _emulator(wan: WanProfile | WanEmulator | None) -> WanEmulator | None:
    if wan is None or isinstance(wan, WanEmulator):
        return wan
    return None if wan.is_ideal else WanEmulator(wan)


def _config(
    app: Any, *, host: str, port: int, log_level: str, security: ServeSecurity
) -> uvicorn.Config:
    uv = _import_uvicorn()
    config: uvicorn.Config = uv.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="asyncio",
        http=header_timeout_protocol(security.header_timeout_s),
        timeout_graceful_shutdown=2,
    )
    return config


class LocalServer:
    """The OpenAI-compatible app on a free loopback port, served from a background thread.

    Args:
        model: The chat model to serve.
        model_name: The name the server reports.
        wan: Emulated link in front of the server (a profile, or a ready emulator).
        host: Interface to bind (loopback by default).
        port: Port to bind; 0 picks a free one.
        max_concurrency: Most model calls in flight at once (``None``: no limit).
        startup_timeout_s: How long :meth:`start` waits for ``/health``.
        log_level: uvicorn's log level.
        security: API key, allowed hosts, body limit and read timeouts (default:
            :meth:`ServeSecurity.from_env`); clients use :attr:`api_key`.

    Example:
        .. code-block:: python

            from langchain_core.language_models.fake_chat_models import FakeListChatModel
            from langchain_openai import ChatOpenAI
            from langchain_netgpt.cloud import LocalServer

            with LocalServer(FakeListChatModel(responses=["hi"]), model_name="fake") as server:
                chat = ChatOpenAI(model="fake", base_url=server.base_url, api_key="local")
                assert chat.invoke("hello").content == "hi"
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        model_name: str = "netgpt-local",
        wan: WanProfile | WanEmulator | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_concurrency: int | None = None,
        startup_timeout_s: float = 30.0,
        log_level: str = "warning",
        security: ServeSecurity | None = None,
    ) -> None:
        self.model_name = model_name
        self.security = security if security is not None else ServeSecurity.from_env()
        self.emulator = _emulator(wan)
        self.host = host
        self._requested_port = port
        self._startup_timeout_s = startup_timeout_s
        self._log_level = log_level
        self._app = create_app(
            model,
            model_name=model_name,
            wan=self.emulator,
            max_concurrency=max_concurrency,
            security=self.security,
            bind_host=host,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            CloudUnavailableError: The server is not running.
        """
        if self._port is None:
            raise CloudUnavailableError("the local server is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``) to give ``ChatOpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    @property
    def api_key(self) -> str:
        """The key a client sends: the configured one, or a placeholder when none is required.

        Give it to ``ChatOpenAI(api_key=server.api_key)``.
        """
        key = self.security.api_key
        return LOCAL_API_KEY if key is None else key.get_secret_value()

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Start serving and wait until ``/health`` answers.

        Returns:
            The server itself.

        Raises:
            CloudUnavailableError: The port cannot be bound, or the server did not become healthy
                within ``startup_timeout_s``.
        """
        if self.running:
            return self
        uv = _import_uvicorn()
        try:
            sock = _bind(self.host, self._requested_port)
        except OSError as exc:
            raise CloudUnavailableError(
                f"cannot bind {self.host}:{self._requested_port}: {exc}"
            ) from exc
        self._port = sock.getsockname()[1]
        config = _config(
            self._app,
            host=self.host,
            port=self._port,
            log_level=self._log_level,
            security=self.security,
        )
        server: uvicorn.Server = uv.Server(config)
        self._server = server
        self._error = None
        if self.emulator is not None:
            self.emulator.restart()

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # recorded, re-raised by start() as a startup failure
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"netgpt-serve-{self._port}", daemon=True)
        self._thread.start()
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        import httpx

        assert self._server is not None
        deadline = time.monotonic() + self._startup_timeout_s
        while not self._server.started:
            if not self.running or time.monotonic() > deadline:
                raise CloudUnavailableError(
                    f"the local server on port {self._port} did not start"
                    + (f": {self._error!r}" if self._error else "")
                )
            time.sleep(0.01)
        remaining = max(deadline - time.monotonic(), 1.0)
        try:
            response = httpx.get(f"{self.url}/health", timeout=remaining)  # open without a key
        except httpx.HTTPError as exc:
            raise CloudUnavailableError(f"the local server's /health failed: {exc}") from exc
        if response.status_code != 200:
            raise CloudUnavailableError(
                f"the local server's /health answered {response.status_code}: {response.text[:200]}"
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and join the thread (open streams get 2 s to finish)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout_s)
        self._thread = None
        self._server = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "stopped"
        return f"LocalServer(model_name={self.model_name!r}, {where})"


def serve(
    model: BaseChatModel,
    *,
    model_name: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    wan: WanProfile | WanEmulator | None = None,
    max_concurrency: int | None = None,
    log_level: str = "info",
    security: ServeSecurity | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve ``model`` in the foreground until interrupted (``netgpt serve``).

    ``security`` defaults to :meth:`ServeSecurity.from_env`. ``sock``: a socket already bound
    to ``host:port`` (see :func:`bind_listening_socket`; ``netgpt serve`` binds before it loads
    the model, so a taken port fails at once); it is closed when serving ends.

    Raises:
        CloudUnavailableError: The address cannot be bound.
        MissingExtraError: fastapi or uvicorn is not installed.
    """
    uv = _import_uvicorn()
    emulator = _emulator(wan)
    security = security if security is not None else ServeSecurity.from_env()
    app = create_app(
        model,
        model_name=model_name,
        wan=emulator,
        max_concurrency=max_concurrency,
        security=security,
        bind_host=host,
    )
    if sock is None:
        sock = bind_listening_socket(host, port)
    else:
        port = sock.getsockname()[1]
    if emulator is not None:
        emulator.restart()
    try:
        config = _config(app, host=host, port=port, log_level=log_level, security=security)
        uv.Server(config).run(sockets=[sock])
    finally:
        sock.close()
