"""Fault injection for testing agents: a TCP proxy that breaks the cloud, and broken edge models.

:class:`FaultProxy` sits between a client (``ChatOpenAI``) and an OpenAI-compatible server
(``netgpt serve``, :class:`~langchain_netgpt.cloud.LocalServer`, vLLM, ...) on 127.0.0.1 and,
per connection, passes traffic through or injects a fault (:class:`FaultMode`): refuse, reset,
stall, slow drip, HTTP 500/503/429 (with ``Retry-After``), a malformed JSON body, or an answer
cut short. The mode can be switched while it runs. :func:`faulty_edge` builds an edge model that
raises, runs out of memory or answers with invalid tool calls. :class:`FaultyStreamModel` is a side
whose calls and streams stall, drip, loop or break mid-answer (:class:`StreamFault`), and counts
its calls in flight: fill a side's slots with it to test pool exhaustion.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field, PrivateAttr

from langchain_netgpt.testing import ScriptedChatModel

__all__ = [
    "EdgeFault",
    "FaultMode",
    "FaultProxy",
    "FaultyStreamModel",
    "OutOfMemoryError",
    "StreamFault",
    "faulty_edge",
]


class FaultMode(StrEnum):
    """What the proxy does with a new connection."""

    PASS = "pass"
    """Forward both ways untouched."""
    REFUSE = "refuse"
    """Close the connection at once, before reading anything."""
    RESET = "reset"
    """Read the request, then reset the connection (RST, via ``SO_LINGER`` 0)."""
    STALL = "stall"
    """Read the request and never answer (until the client or the proxy gives up)."""
    SLOW_DRIP = "slow_drip"
    """Forward, but send the answer at ``drip_bytes_per_s``."""
    HTTP_500 = "http_500"
    """Answer ``500 Internal Server Error`` with an OpenAI-style JSON error."""
    HTTP_503 = "http_503"
    """Answer ``503 Service Unavailable`` with ``Retry-After``."""
    HTTP_429 = "http_429"
    """Answer ``429 Too Many Requests`` with ``Retry-After``."""
    MALFORMED_JSON = "malformed_json"
    """Answer ``200`` with a JSON body cut in the middle."""
    TRUNCATED = "truncated"
    """Forward, but close the connection after ``truncate_after_bytes`` of the answer."""


_REASONS = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}
_STATUS = {FaultMode.HTTP_500: 500, FaultMode.HTTP_503: 503, FaultMode.HTTP_429: 429}
_DRIP_TICK_S = 0.05


def _http_response(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
    fields = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "connection": "close",
        **headers,
    }
    head += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP request (head and ``Content-Length`` body), or ``None`` if the client left."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        body = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        return None
    return head + body


class FaultProxy:
    """A TCP proxy on 127.0.0.1 that injects network and HTTP faults, for tests and benchmarks.

    The proxy runs its own event loop in a daemon thread, so sync and async code can use it. The
    mode applies to each new connection; switching it (:meth:`set_mode`) also closes the
    connections still open, so a client's pooled keep-alive connection cannot slip past it.

    Args:
        upstream_host: Host of the real server.
        upstream_port: Port of the real server.
        mode: The initial mode.
        drip_bytes_per_s: Speed of :attr:`FaultMode.SLOW_DRIP`.
        retry_after_s: ``Retry-After`` sent with 429 and 503.
        truncate_after_bytes: Bytes of the answer :attr:`FaultMode.TRUNCATED` lets through.
        port: Port to listen on (0: a free one).

    Example:
        .. code-block:: python

            from langchain_netgpt.testing.faults import FaultMode, FaultProxy

            with FaultProxy("127.0.0.1", 9, mode=FaultMode.HTTP_503) as proxy:
                assert proxy.base_url.startswith("http://127.0.0.1:")
                proxy.set_mode(FaultMode.STALL)
                assert proxy.mode is FaultMode.STALL
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        mode: FaultMode = FaultMode.PASS,
        drip_bytes_per_s: int = 200,
        retry_after_s: float = 1.0,
        truncate_after_bytes: int = 120,
        port: int = 0,
    ) -> None:
        if not 0 < upstream_port < 65536:
            raise ValueError(f"upstream_port must be in 1..65535, got {upstream_port}")
        if drip_bytes_per_s < 1:
            raise ValueError(f"drip_bytes_per_s must be >= 1, got {drip_bytes_per_s}")
        if retry_after_s < 0:
            raise ValueError(f"retry_after_s must be >= 0, got {retry_after_s}")
        if truncate_after_bytes < 0:
            raise ValueError(f"truncate_after_bytes must be >= 0, got {truncate_after_bytes}")
        self.upstream = (upstream_host, upstream_port)
        self.mode = FaultMode(mode)
        self.drip_bytes_per_s = drip_bytes_per_s
        self.retry_after_s = retry_after_s
        self.truncate_after_bytes = truncate_after_bytes
        self.connections: dict[FaultMode, int] = dict.fromkeys(FaultMode, 0)
        self._requested_port = port
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The listening port.

        Raises:
            RuntimeError: The proxy is not running.
        """
        if self._port is None:
            raise RuntimeError("the fault proxy is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``http://127.0.0.1:PORT/v1``) to give the client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Self:
        """Start listening (returns once the port is bound).

        Raises:
            OSError: The port cannot be bound.
        """
        if self._thread is not None:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="netgpt-fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            self._thread = None
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self._requested_port, backlog=1024)
            )
            self._port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # re-raised by start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Close every connection and stop listening."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            self._abort_all()
            # Let the handlers see their closed connections before the loop stops.
            loop.call_later(0.05, loop.stop)

        loop.call_soon_threadsafe(shutdown)
        thread.join(10)
        self._thread = self._loop = self._server = None
        self._port = None

    def set_mode(self, mode: FaultMode) -> None:
        """Switch the fault for new connections, and close the open ones."""
        self.mode = FaultMode(mode)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._abort_all)

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

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
        where = f"127.0.0.1:{self._port}" if self._port is not None else "stopped"
        return f"FaultProxy({where} -> {self.upstream[0]}:{self.upstream[1]}, mode={self.mode})"

    # -- one connection ------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        self.connections[mode] += 1
        self._writers.add(writer)
        try:
            await self._serve(mode, reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass  # the client or the upstream went away: nothing left to inject
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _serve(
        self, mode: FaultMode, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if mode is FaultMode.REFUSE:
            writer.close()
            return
        if mode in (FaultMode.PASS, FaultMode.SLOW_DRIP, FaultMode.TRUNCATED):
            await self._forward(mode, reader, writer)
            return
        request = await _read_request(reader)
        if request is None:
            return
        if mode is FaultMode.RESET:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif mode is FaultMode.STALL:
            while await reader.read(4096):
                pass  # hold the connection open until the client gives up
        elif mode in _STATUS:
            status = _STATUS[mode]
            body = json.dumps(
                {"error": {"message": f"injected {status}", "type": "fault_injection"}}
            ).encode()
            headers = {} if status == 500 else {"retry-after": f"{self.retry_after_s:g}"}
            writer.write(_http_response(status, body, headers))
            await writer.drain()
            writer.close()
        else:  # MALFORMED_JSON
            body = b'{"id": "chatcmpl-fault", "object": "chat.completion", "choices": [{"ind'
            writer.write(_http_response(200, body, {}))
            await writer.drain()
            writer.close()

    async def _forward(
        self, mode: FaultMode, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers.add(up_writer)
        try:
            upload = asyncio.create_task(_pipe(reader, up_writer))
            await self._download(mode, up_reader, writer)
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await upload
        finally:
            self._writers.discard(up_writer)
            up_writer.transport.abort()

    async def _download(
        self, mode: FaultMode, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sent = 0
        step = max(1, int(self.drip_bytes_per_s * _DRIP_TICK_S))
        while True:
            data = await upstream.read(65536)
            if not data:
                writer.close()
                return
            if mode is FaultMode.TRUNCATED:
                room = self.truncate_after_bytes - sent
                writer.write(data[: max(room, 0)])
                sent += len(data)
                if sent >= self.truncate_after_bytes:
                    await writer.drain()
                    writer.transport.abort()
                    return
            elif mode is FaultMode.SLOW_DRIP:
                for i in range(0, len(data), step):
                    writer.write(data[i : i + step])
                    await writer.drain()
                    await asyncio.sleep(_DRIP_TICK_S)
            else:
                writer.write(data)
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


# -- edge faults ----------------------------------------------------------------------------------
class OutOfMemoryError(MemoryError):
    """What an accelerator raises when a generation does not fit (named like torch's)."""


class EdgeFault(StrEnum):
    """A way for the edge model to fail."""

    EXCEPTION = "exception"
    """The model raises ``RuntimeError``."""
    OUT_OF_MEMORY = "out_of_memory"
    """The model raises :class:`OutOfMemoryError`."""
    INVALID_OUTPUT = "invalid_output"
    """The model calls a tool that is not bound (invalid against any tool schema)."""


def faulty_edge(fault: EdgeFault, **kwargs: Any) -> ScriptedChatModel:
    """An edge model that fails every call in the given way.

    Args:
        fault: How it fails.
        **kwargs: More :class:`~langchain_netgpt.testing.ScriptedChatModel` arguments
            (``delay_s``, ``model_name``).

    Example:
        .. code-block:: python

            import pytest
            from langchain_netgpt.testing.faults import EdgeFault, OutOfMemoryError, faulty_edge

            with pytest.raises(OutOfMemoryError):
                faulty_edge(EdgeFault.OUT_OF_MEMORY).invoke("hi")
    """
    fault = EdgeFault(fault)
    entry: Any
    if fault is EdgeFault.EXCEPTION:
        entry = RuntimeError("injected edge failure: the model crashed")
    elif fault is EdgeFault.OUT_OF_MEMORY:
        entry = OutOfMemoryError("injected edge failure: CUDA out of memory (tried 2.00 GiB)")
    else:
        entry = AIMessage(
            content="",
            tool_calls=[
                {"name": "no_such_tool", "args": {"x": 1}, "id": "call_bad", "type": "tool_call"}
            ],
        )
    return ScriptedChatModel(responses=[entry], **{"model_name": f"faulty-edge-{fault}", **kwargs})


# -- stream and pool faults -----------------------------------------------------------------------
class StreamFault(StrEnum):
    """A way for a side's answer to go wrong in time (streamed or not)."""

    SILENT = "silent"
    """Send nothing: every call blocks until :meth:`FaultyStreamModel.release` or ``hold_s``."""
    SLOW_DRIP = "slow_drip"
    """``chunks`` chunks, one every ``interval_s``."""
    LOOP = "loop"
    """Chunks without end, one every ``interval_s`` (a model that loops)."""
    CUT = "cut"
    """``chunks`` chunks, then ``ConnectionResetError`` (the connection dropped mid-answer)."""


class FaultyStreamModel(BaseChatModel):
    """A chat model whose answers stall, drip, loop or break (see :class:`StreamFault`).

    ``invoke`` collects what ``stream`` would send (a silent or looping model never answers
    before ``hold_s``). ``in_flight`` and ``peak_in_flight`` count calls running at once, so a
    test can fill a side's slots (a stalled side) and check how many calls the router let run.
    Call :meth:`release` at teardown: blocked calls end at once.

    Example:
        .. code-block:: python

            from langchain_netgpt.testing.faults import FaultyStreamModel, StreamFault

            drip = FaultyStreamModel(fault=StreamFault.SLOW_DRIP, chunks=3, interval_s=0.01)
            assert "".join(str(c.content) for c in drip.stream("hi")) == "w0 w1 w2"
    """

    fault: StreamFault
    interval_s: float = Field(default=0.05, ge=0)
    chunks: int = Field(default=5, ge=1)
    hold_s: float = Field(default=30.0, gt=0)
    model_name: str = "faulty-stream"
    _released: threading.Event = PrivateAttr(default_factory=threading.Event)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _in_flight: int = PrivateAttr(default=0)
    _peak: int = PrivateAttr(default=0)
    _calls: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "faulty-stream"

    @property
    def in_flight(self) -> int:
        """Calls running now."""
        return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """The most calls that ran at once."""
        return self._peak

    @property
    def calls(self) -> int:
        """Calls started so far."""
        return self._calls

    def bind_tools(self, tools: Any, **kwargs: Any) -> Runnable[Any, AIMessage]:
        """Accept tools (it never calls them: its faults are about time)."""
        return self.bind(**kwargs)

    def release(self) -> None:
        """End every blocked call now (and make later calls end at once)."""
        self._released.set()

    def _enter(self) -> None:
        with self._lock:
            self._calls += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _plan(self) -> Iterator[tuple[float, AIMessageChunk | None]]:
        """(wait before, chunk) pairs; a ``None`` chunk means: raise the cut."""
        if self.fault is StreamFault.SILENT:
            yield self.hold_s, AIMessageChunk(content="too late")
            return
        n = 0
        while self.fault is StreamFault.LOOP or n < self.chunks:
            yield self.interval_s, AIMessageChunk(content=f"w{n}" if n == 0 else f" w{n}")
            n += 1
        if self.fault is StreamFault.CUT:
            yield 0.0, None

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self._enter()
        try:
            deadline = time.monotonic() + self.hold_s
            for wait, chunk in self._plan():
                if self._released.wait(wait) or time.monotonic() > deadline:
                    return
                if chunk is None:
                    raise ConnectionResetError("injected: the connection dropped mid-answer")
                yield ChatGenerationChunk(message=chunk)
        finally:
            self._leave()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self._enter()
        try:
            deadline = time.monotonic() + self.hold_s
            for wait, chunk in self._plan():
                end = time.monotonic() + wait
                while time.monotonic() < end:  # asleep, yet quick to notice release()
                    if self._released.is_set():
                        return
                    await asyncio.sleep(min(0.02, max(end - time.monotonic(), 0.0)))
                if self._released.is_set() or time.monotonic() > deadline:
                    return
                if chunk is None:
                    raise ConnectionResetError("injected: the connection dropped mid-answer")
                yield ChatGenerationChunk(message=chunk)
        finally:
            self._leave()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        parts = [str(c.message.content) async for c in self._astream(messages)]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="".join(parts)))])
