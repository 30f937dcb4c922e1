"""Retries with jittered backoff, and a circuit breaker per side.

:class:`RetryPolicy` says which failures are worth another try of the same side (429, 5xx,
connection errors) and how long to wait first (exponential backoff with jitter, or the server's
``Retry-After`` when it fits the step's deadline). :class:`CircuitBreaker` remembers that a side
keeps failing: after ``failure_threshold`` failures in a row it opens, and while it is open the
router sends steps to the other side at once instead of paying a timeout per step; after
``open_s`` one probe is let through (half-open) and its outcome closes or re-opens the circuit.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterator
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from langchain_netgpt.errors import StepTimeoutError

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
    """When a side's circuit opens and how long it stays open.

    Args:
        failure_threshold: Failures in a row that open the circuit.
        open_s: Seconds the circuit stays open before one probe is let through.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.reliability import CircuitBreakerConfig

            config = CircuitBreakerConfig(failure_threshold=2, open_s=10)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_threshold: int = Field(default=3, ge=1, description="Failures in a row that open it.")
    open_s: float = Field(default=30.0, gt=0, allow_inf_nan=False, description="Open duration.")


class CircuitBreaker:
    """Closed / open / half-open circuit for one side; safe from threads and event loops.

    Every method takes a short lock and never blocks on I/O, so one breaker serves sync and
    async calls alike.

    Args:
        config: Threshold and open duration.
        clock: Monotonic clock (injectable for tests).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.reliability import CircuitBreaker, CircuitBreakerConfig

            breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, open_s=60))
            assert breaker.allow()
            breaker.record_failure()
            assert breaker.state == "open" and not breaker.allow()
    """

    def __init__(
        self, config: CircuitBreakerConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not isinstance(config, CircuitBreakerConfig):
            raise TypeError(f"config must be a CircuitBreakerConfig, got {type(config).__name__}")
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        """The current state (an open circuit past ``open_s`` reads as half-open)."""
        with self._lock:
            if self._state is CircuitState.OPEN and self._elapsed() >= self.config.open_s:
                return CircuitState.HALF_OPEN
            return self._state

    def _elapsed(self) -> float:
        return self._clock() - self._opened_at

    def allow(self) -> bool:
        """Whether a call may go to this side now (half-open: only one probe at a time)."""
        with self._lock:
            if self._state is CircuitState.CLOSED:
                return True
            if self._state is CircuitState.OPEN:
                if self._elapsed() < self.config.open_s:
                    return False
                self._state = CircuitState.HALF_OPEN
                self._probing = False
            if self._probing:
                return False
            self._probing = True
            return True

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        with self._lock:
            self._state, self._failures, self._probing = CircuitState.CLOSED, 0, False

    def record_failure(self) -> None:
        """A call failed: count it; open the circuit at the threshold or on a failed probe."""
        with self._lock:
            self._failures += 1
            if (
                self._state is CircuitState.HALF_OPEN
                or self._failures >= self.config.failure_threshold
            ):
                self._state, self._opened_at, self._probing = (
                    CircuitState.OPEN,
                    self._clock(),
                    False,
                )

    def release(self) -> None:
        """A granted call ended without an outcome (cancelled): let another probe through."""
        with self._lock:
            self._probing = False

    def seconds_until_probe(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        with self._lock:
            if self._state is not CircuitState.OPEN:
                return 0.0
            return max(0.0, self.config.open_s - self._elapsed())

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value!r}, failures={self._failures})"
