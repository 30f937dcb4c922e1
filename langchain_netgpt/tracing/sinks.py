"""Where route traces go: in memory, an append-only JSONL file, or a callback."""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import ValidationError

from langchain_netgpt.errors import TraceFileError
from langchain_netgpt.tracing.trace import TRACE_SCHEMA_VERSION, RouteTrace

_R = TypeVar("_R")

__all__ = [
    "CallbackTraceSink",
    "InMemoryTraceSink",
    "JsonlTraceSink",
    "TornLineWarning",
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


class TornLineWarning(UserWarning):
    """A line of a JSONL trace file was skipped: a partial write (not valid JSON)."""


class JsonlTraceSink:
    """Appends one JSON line per trace to a file.

    Each trace is written with a single ``write(2)`` on a file opened with ``O_APPEND``, so lines of
    concurrent writers (threads or processes) never interleave. A failed write (disk full, a
    writer killed mid-line) can leave a partial line at the end of the file; the next append
    first ends that line, so the torn record stays on its own line (which
    :func:`read_jsonl_traces` skips with a :class:`TornLineWarning`) and every later trace is
    readable.

    Args:
        path: The file (created with its parent folders on the first write: building the sink
            does no I/O, so it can be built on an event loop).
        fsync: Whether to ``fsync`` after every trace (durable across power loss; slower).

    Example:
        .. code-block:: python

            import tempfile, pathlib
            from langchain_netgpt.tracing import JsonlTraceSink

            sink = JsonlTraceSink(pathlib.Path(tempfile.mkdtemp()) / "traces.jsonl")
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def write(self, trace: RouteTrace) -> None:
        """Append one trace as a line.

        Raises:
            OSError: The line could not be written in full (disk full, permissions).
        """
        data = (trace.to_json() + "\n").encode("utf-8")
        with self._lock:
            fd = self._open()
            if not _ends_a_line(fd):
                data = b"\n" + data  # end a torn line left by a failed write
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


def _ends_a_line(fd: int) -> bool:
    """Whether the file is empty or ends with a newline (two cheap system calls)."""
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


class CallbackTraceSink:
    """Calls a function with every trace (to forward traces to your own system)."""

    def __init__(self, callback: Callable[[RouteTrace], None]) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._callback = callback

    def write(self, trace: RouteTrace) -> None:
        """Forward a trace."""
        self._callback(trace)


def read_jsonl_traces(
    path: str | Path, *, on_skip: Callable[[int, str], None] | None = None
) -> Iterator[RouteTrace]:
    """Read traces written by :class:`JsonlTraceSink`.

    A torn line (not valid JSON: a partial write, wherever it is) is skipped and reported; a
    line that is valid JSON but not a trace, or a trace of an unknown ``schema_version``,
    raises naming the line.

    Args:
        path: The JSONL file.
        on_skip: Called with the line number and the reason of each skipped line (default: a
            :class:`TornLineWarning` naming the file, the line and the count so far).

    Returns:
        A lazy iterator over the traces, in file order.

    Raises:
        TraceFileError: A line is valid JSON but not a trace, or has an unknown
            ``schema_version``.
    """
    return read_jsonl_records(path, RouteTrace.from_json, on_skip=on_skip)


_VERSION = re.compile(rb'\A\s*\{\s*"schema_version"\s*:\s*(-?\d+)')


def read_jsonl_records(
    path: str | Path,
    parse: Callable[[bytes], _R],
    *,
    on_skip: Callable[[int, str], None] | None = None,
) -> Iterator[_R]:
    """Stream a JSONL trace file through ``parse``, with :func:`read_jsonl_traces`' rules.

    ``parse`` raises :class:`pydantic.ValidationError` on a bad line (e.g. a pydantic model's
    ``model_validate_json``, to read only some fields of each trace).

    Raises:
        TraceFileError: A line is valid JSON but not a valid record, or has an unknown
            ``schema_version``.
    """
    skipped = 0
    with Path(path).open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            _check_version(path, lineno, line)
            try:
                record = parse(line)
            except ValidationError as exc:
                if not _torn(exc):
                    raise TraceFileError(
                        f"{path}: line {lineno} is not a valid trace: {exc}"
                    ) from exc
                skipped += 1
                reason = "a partial write (not valid JSON)"
                if on_skip is not None:
                    on_skip(lineno, reason)
                else:
                    warnings.warn(
                        f"{path}: line {lineno} skipped, {reason}; "
                        f"{skipped} line(s) skipped so far",
                        TornLineWarning,
                        stacklevel=2,
                    )
                continue
            version = getattr(record, "schema_version", TRACE_SCHEMA_VERSION)
            if version != TRACE_SCHEMA_VERSION:
                _check_version(path, lineno, b'{"schema_version":%d' % version)
            yield record


def _torn(exc: ValidationError) -> bool:
    return any(error["type"] == "json_invalid" for error in exc.errors(include_url=False))


def _check_version(path: str | Path, lineno: int, line: bytes) -> None:
    match = _VERSION.match(line)
    if match is not None and int(match.group(1)) != TRACE_SCHEMA_VERSION:
        raise TraceFileError(
            f"{path}: line {lineno} has schema_version {int(match.group(1))}; this version of "
            f"langchain-netgpt reads schema_version {TRACE_SCHEMA_VERSION} (upgrade the package "
            "to read newer traces)"
        )
