"""Retries with jittered backoff, and a circuit breaker per side (shareable across processes).

:class:`RetryPolicy` says which failures are worth another try of the same side (429, 5xx,
connection errors) and how long to wait first (exponential backoff with jitter, or the server's
``Retry-After`` when it fits the step's deadline). :class:`CircuitBreaker` remembers that a side
keeps failing: after ``failure_threshold`` failures in a row it opens, and while it is open the
router sends steps to the other side at once instead of paying a timeout per step; after
``open_s`` one probe is let through (half-open) and its outcome closes or re-opens the circuit.
A circuit's state can live in a shared database (``CircuitBreakerConfig(shared_state=...)``), so
that every agent process of a fleet sees the same circuit per side.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from langchain_netgpt.errors import StepTimeoutError
from langchain_netgpt.routing.shared_state import (
    InMemorySharedState,
    SharedState,
    open_shared_state,
)

_R = TypeVar("_R")

__all__ = ["CircuitBreaker", "CircuitBreakerConfig", "CircuitState", "RetryPolicy"]

_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

# Exception class names (anywhere in the cause chain) that mean "the connection failed", from
# httpx/httpcore, openai and the standard library, matched by name so none must be imported.
_CONNECTION_ERRORS = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "ConnectError",
        "ConnectTimeout",
        "ReadError",
        "ReadTimeout",
        "WriteError",
        "WriteTimeout",
        "PoolTimeout",
        "RemoteProtocolError",
        "ConnectionError",
        "ConnectionResetError",
        "ConnectionRefusedError",
        "ConnectionAbortedError",
        "BrokenPipeError",
        "IncompleteRead",
        "ServerDisconnectedError",
    }
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def status_code_of(exc: BaseException) -> int | None:
    """The HTTP status behind an exception (``openai.APIStatusError``, ``httpx``), if any."""
    for error in _chain(exc):
        status = getattr(error, "status_code", None)
        if status is None:
            response = getattr(error, "response", None)
            status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date), if any."""
    for error in _chain(exc):
        headers = getattr(getattr(error, "response", None), "headers", None)
        if headers is None:
            continue
        value = headers.get("retry-after")
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - time.time()
        return max(0.0, seconds) if seconds == seconds else None
    return None


def _is_connection_error(exc: BaseException) -> bool:
    return any(
        type(error).__name__ in _CONNECTION_ERRORS or isinstance(error, ConnectionError)
        for error in _chain(exc)
    )


class RetryPolicy(BaseModel):
    """Which failures to retry on the same side, and how long to wait before each retry.

    Retryable: HTTP 408/425/429/5xx (``retry_on_status``) and connection failures (refused,
    reset, closed mid-answer, client timeouts). Not retryable: other 4xx, validation errors,
    invalid tool calls, model exceptions, out-of-memory errors and the step's own deadline; those
    go straight to the other side. A retry is made only if its wait fits the step's deadline.

    Args:
        attempts: Tries of one side per step (1: no retry).
        base_backoff_s: Wait before the first retry (doubled per retry).
        max_backoff_s: Longest wait between tries.
        jitter: Fraction of the wait drawn at random (0: none, 1: "full jitter").
        retry_on_status: HTTP statuses worth a retry.
        honour_retry_after: Wait what a ``Retry-After`` header asks (capped by
            ``max_backoff_s`` and the deadline) instead of the backoff.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.reliability import RetryPolicy

            policy = RetryPolicy(attempts=3, base_backoff_s=0.1, jitter=0.0)
            assert policy.is_retryable(ConnectionResetError("peer reset"))
            assert not policy.is_retryable(ValueError("bad arguments"))
            assert policy.backoff_s(retry=2, error=ConnectionResetError()) == 0.2
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=1, ge=1, le=20, description="Tries of one side per step.")
    base_backoff_s: float = Field(default=0.05, ge=0, allow_inf_nan=False)
    max_backoff_s: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    jitter: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    retry_on_status: frozenset[int] = Field(default=_RETRYABLE_STATUS)
    honour_retry_after: bool = True

    @field_validator("retry_on_status")
    @classmethod
    def _statuses_are_http(cls, value: frozenset[int]) -> frozenset[int]:
        bad = sorted(s for s in value if not 100 <= s <= 599)
        if bad:
            raise ValueError(f"retry_on_status holds non-HTTP statuses {bad}; expected 100..599")
        return value

    @model_validator(mode="after")
    def _backoff_bounds(self) -> RetryPolicy:
        if self.base_backoff_s > self.max_backoff_s:
            raise ValueError(
                f"base_backoff_s={self.base_backoff_s} exceeds max_backoff_s={self.max_backoff_s}"
            )
        return self

    def is_retryable(self, error: BaseException) -> bool:
        """Whether another try of the same side may succeed where ``error`` failed."""
        if isinstance(error, StepTimeoutError | MemoryError):
            return False
        status = status_code_of(error)
        if status is not None:
            return status in self.retry_on_status
        return _is_connection_error(error)

    def backoff_s(
        self, *, retry: int, error: BaseException, rng: Callable[[], float] | None = None
    ) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        Args:
            retry: Which retry this is (1-based).
            error: The failure being retried (its ``Retry-After`` may set the wait).
            rng: Uniform draw in ``[0, 1)`` for the jitter (default ``random.random``).

        Raises:
            ValueError: ``retry`` is below 1.
        """
        if retry < 1:
            raise ValueError(f"retry must be >= 1, got {retry}")
        if self.honour_retry_after:
            asked = retry_after_of(error)
            if asked is not None:
                return min(asked, self.max_backoff_s)
        wait = min(self.max_backoff_s, self.base_backoff_s * 2 ** (retry - 1))
        draw = (rng or random.random)()
        return float(wait * (1 - self.jitter) + wait * self.jitter * draw)


class CircuitState(StrEnum):
    """State of a side's circuit."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreakerConfig(BaseModel):
    """When a side's circuit opens, how long it stays open, and where its state lives.

    Args:
        failure_threshold: Failures in a row that open the circuit.
        open_s: Seconds the circuit stays open before one probe is let through.
        shared_state: Where the circuit's state lives: ``None`` (each breaker object its own),
            ``"memory"`` (shared by this process), an SQLite path (the processes of one machine)
            or a ``postgresql://`` URL (a fleet): every breaker with the same location, ``name``
            and side then sees one circuit, so one process's failures open it for all.
        name: Name of this group of circuits within ``shared_state``.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.reliability import CircuitBreakerConfig

            config = CircuitBreakerConfig(failure_threshold=2, open_s=10)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_threshold: int = Field(default=3, ge=1, description="Failures in a row that open it.")
    open_s: float = Field(default=30.0, gt=0, allow_inf_nan=False, description="Open duration.")
    shared_state: str | None = Field(
        default=None, description="postgresql:// URL, SQLite path or 'memory' (None: private)."
    )
    name: str = Field(default="default", min_length=1, max_length=200)

    @field_validator("shared_state")
    @classmethod
    def _state_location(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("shared_state must be a postgresql:// URL, a path or 'memory'")
        return value


def _closed() -> dict[str, Any]:
    return {"state": "closed", "failures": 0, "opened_at": 0.0, "probing": False, "probe_at": 0.0}


class CircuitBreaker:
    """Closed / open / half-open circuit for one side; safe from threads and event loops.

    With a shared state, it is also safe (and one circuit) across every process of a fleet.

    Every method is one short atomic update of the circuit's state (a lock in this process, a
    row lock in the shared database) and never waits on a model call, so one breaker serves sync
    and async calls alike. A half-open circuit lets one probe through; a probe that never reports
    back (its process died) frees the circuit for another after ``open_s``.

    Args:
        config: Threshold, open duration and where the state lives.
        clock: Clock in seconds (injectable for tests); by default monotonic for a private
            circuit and wall time for a shared one (the only clock processes share).
        key: The side this breaker guards (``"edge"``, ``"cloud"`` or a target name); required
            with a shared state, where it names the circuit.

    Raises:
        TypeError: ``config`` is not a :class:`CircuitBreakerConfig`.
        ValueError: ``config.shared_state`` is set but ``key`` is not.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.reliability import CircuitBreaker, CircuitBreakerConfig

            breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, open_s=60))
            assert breaker.allow()
            breaker.record_failure()
            assert breaker.state == "open" and not breaker.allow()
    """

    def __init__(
        self,
        config: CircuitBreakerConfig,
        *,
        clock: Callable[[], float] | None = None,
        key: str | None = None,
    ) -> None:
        if not isinstance(config, CircuitBreakerConfig):
            raise TypeError(f"config must be a CircuitBreakerConfig, got {type(config).__name__}")
        shared = config.shared_state is not None
        if shared and (not isinstance(key, str) or not key):
            raise ValueError(
                "a circuit breaker with shared_state needs key= naming the side it guards "
                f"('edge', 'cloud' or a target name), got {key!r}"
            )
        self.config = config
        self.key = key
        self._clock = clock or (time.time if shared else time.monotonic)
        self._store: SharedState = (
            open_shared_state(config.shared_state)
            if config.shared_state is not None
            else InMemorySharedState()
        )
        self._doc_key = f"breaker:{config.name}:{key or '-'}"

    def _update(self, fn: Callable[[dict[str, Any]], tuple[bool, _R]]) -> _R:
        """Apply ``fn(doc) -> (changed, result)`` atomically; write only if it changed."""

        def apply(current: dict[str, Any] | None) -> tuple[dict[str, Any] | None, _R]:
            doc = current if current is not None else _closed()
            changed, result = fn(doc)
            return (doc if changed or current is None else None), result

        return self._store.update(self._doc_key, apply)

    def _view(self) -> tuple[CircuitState, dict[str, Any]]:
        def look(doc: dict[str, Any]) -> tuple[bool, tuple[CircuitState, dict[str, Any]]]:
            state = CircuitState(doc["state"])
            if (
                state is CircuitState.OPEN
                and self._clock() - doc["opened_at"] >= self.config.open_s
            ):
                state = CircuitState.HALF_OPEN
            return False, (state, dict(doc))

        return self._update(look)

    @property
    def state(self) -> CircuitState:
        """The current state (an open circuit past ``open_s`` reads as half-open)."""
        return self._view()[0]

    def allow(self) -> bool:
        """Whether a call may go to this side now (half-open: only one probe at a time)."""
        open_s = self.config.open_s

        def decide(doc: dict[str, Any]) -> tuple[bool, bool]:
            if doc["state"] == CircuitState.CLOSED:
                return False, True
            now = self._clock()
            if doc["state"] == CircuitState.OPEN:
                if now - doc["opened_at"] < open_s:
                    return False, False
                doc["state"], doc["probing"] = CircuitState.HALF_OPEN.value, False
            if doc["probing"] and now - doc["probe_at"] < open_s:
                return True, False
            doc["probing"], doc["probe_at"] = True, now
            return True, True

        return self._update(decide)

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""

        def close(doc: dict[str, Any]) -> tuple[bool, None]:
            if doc["state"] == CircuitState.CLOSED and doc["failures"] == 0:
                return False, None  # nothing to write: the common case stays read-only
            doc.update(_closed())
            return True, None

        self._update(close)

    def record_failure(self) -> None:
        """A call failed: count it; open the circuit at the threshold or on a failed probe."""

        def count(doc: dict[str, Any]) -> tuple[bool, None]:
            doc["failures"] += 1
            if (
                doc["state"] == CircuitState.HALF_OPEN
                or doc["failures"] >= self.config.failure_threshold
            ):
                doc["state"], doc["opened_at"] = CircuitState.OPEN.value, self._clock()
                doc["probing"] = False
            return True, None

        self._update(count)

    def release(self) -> None:
        """A granted call ended without an outcome (cancelled): let another probe through."""

        def free(doc: dict[str, Any]) -> tuple[bool, None]:
            if not doc["probing"]:
                return False, None
            doc["probing"] = False
            return True, None

        self._update(free)

    def seconds_until_probe(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        state, doc = self._view()
        if state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self.config.open_s - (self._clock() - float(doc["opened_at"])))

    @property
    def failures(self) -> int:
        """Failures in a row so far (of every process sharing the circuit)."""
        return int(self._view()[1]["failures"])

    def __repr__(self) -> str:
        state, doc = self._view()
        return f"CircuitBreaker(state={state.value!r}, failures={doc['failures']})"
