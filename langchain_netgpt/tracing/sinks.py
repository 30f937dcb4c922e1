"""Where route traces go: in memory, an append-only JSONL file, or a callback."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import ValidationError

from langchain_netgpt.errors import TraceFileError
from langchain_netgpt.tracing.trace import RouteTrace

_R = TypeVar("_R")

__all__ = [
    "CallbackTraceSink",
    "InMemoryTraceSink",
    "JsonlTraceSink",
    "TraceFileError",
    "TraceSink",
    "read_jsonl_records",
    "read_jsonl_traces",
]


@runtime_checkable
class TraceSink(Protocol):
    """Receives one :class:`RouteTrace` per routed step."""

    def write(self, trace: RouteTrace) -> None:
        """Store or forward a trace; raise if it could not be stored."""
        ...


class InMemoryTraceSink:
    """Keeps traces in a list (thread-safe); for tests, notebooks and short runs.

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing import InMemoryTraceSink

            sink = InMemoryTraceSink()
            assert sink.traces == []
    """

    def __init__(self) -> None:
        self._traces: list[RouteTrace] = []
        self._lock = threading.Lock()

    def write(self, trace: RouteTrace) -> None:
        """Append a trace."""
        with self._lock:
            self._traces.append(trace)

    @property
    def traces(self) -> list[RouteTrace]:
        """A copy of the traces so far, oldest first."""
        with self._lock:
            return list(self._traces)

    def clear(self) -> None:
        """Drop all traces."""
        with self._lock:
            self._traces.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)


class JsonlTraceSink:
    """Appends one JSON line per trace to a file.

    Each trace is written with a single ``write(2)`` on a file opened with ``O_APPEND``, so lines of
    concurrent writers (threads or processes) never interleave and a crash can at worst truncate
    the last line, which :func:`read_jsonl_traces` then skips.

    Args:
        path: The file (created with its parent folders if missing).
        fsync: Whether to ``fsync`` after every trace (durable across power loss; slower).

    Example:
        .. code-block:: python

            import tempfile, pathlib
            from langchain_netgpt.tracing import JsonlTraceSink

            sink = JsonlTraceSink(pathlib.Path(tempfile.mkdtemp()) / "traces.jsonl")
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def write(self, trace: RouteTrace) -> None:
        """Append one trace as a line.

        Raises:
            OSError: The line could not be written in full (disk full, permissions).
        """
        data = (trace.to_json() + "\n").encode("utf-8")
        with self._lock:
            fd = self._open()
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
            if self._fsync:
                os.fsync(fd)

    def close(self) -> None:
        """Close the file (it reopens on the next write)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


class CallbackTraceSink:
    """Calls a function with every trace (to forward traces to your own system)."""

    def __init__(self, callback: Callable[[RouteTrace], None]) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._callback = callback

    def write(self, trace: RouteTrace) -> None:
        """Forward a trace."""
        self._callback(trace)


def read_jsonl_traces(path: str | Path) -> Iterator[RouteTrace]:
    """Read traces written by :class:`JsonlTraceSink`.

    A truncated final line (a writer killed mid-write) is skipped; a corrupt line anywhere else
    raises.

    Args:
        path: The JSONL file.

    Returns:
        A lazy iterator over the traces, in file order.

    Raises:
        TraceFileError: A line before the last one is not a valid trace.
    """
    return read_jsonl_records(path, RouteTrace.from_json)


def read_jsonl_records(path: str | Path, parse: Callable[[bytes], _R]) -> Iterator[_R]:
    """Stream a JSONL trace file through ``parse``, with :func:`read_jsonl_traces`' rules.

    A truncated final line (a writer killed mid-write) is skipped; a corrupt line anywhere else
    raises. ``parse`` raises :class:`pydantic.ValidationError` on a bad line (e.g. a pydantic
    model's ``model_validate_json``, to read only some fields of each trace).

    Raises:
        TraceFileError: A line before the last one is not a valid record.
    """
    with Path(path).open("rb") as fh:
        pending: tuple[int, bytes] | None = None
        for lineno, line in enumerate(fh, start=1):
            if pending is not None:
                yield _parse(path, *pending, parse)
            pending = (lineno, line)
        if pending is not None:
            lineno, line = pending
            if line.endswith(b"\n"):
                yield _parse(path, lineno, line, parse)
            else:
                try:
                    yield parse(line)
                except ValidationError:
                    return  # a half-written last record: the writer died mid-line


def _parse(path: str | Path, lineno: int, line: bytes, parse: Callable[[bytes], _R]) -> _R:
    try:
        return parse(line)
    except ValidationError as exc:
        raise TraceFileError(f"{path}: line {lineno} is not a valid trace: {exc}") from exc
