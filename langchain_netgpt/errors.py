"""Exceptions raised by langchain-netgpt.

Every exception derives from :class:`NetGPTError` so callers can catch the package's errors in one
place; each carries the data that explains it (the bad value, the side that failed, ...).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BenchmarkDataError",
    "BudgetExceededError",
    "CapacityError",
    "CircuitOpenError",
    "CloudUnavailableError",
    "ConfigurationError",
    "EdgeModelError",
    "InvalidNetworkStateError",
    "InvalidToolCallError",
    "MissingExtraError",
    "NetGPTError",
    "PrivateStepError",
    "RoutingError",
    "StepTimeoutError",
    "TraceFileError",
    "TraceFormatError",
    "TraceStoreError",
]


class NetGPTError(Exception):
    """Base class of every error raised by langchain-netgpt."""


class ConfigurationError(NetGPTError, ValueError):
    """A configuration value is out of range or of the wrong kind.

    Attributes:
        field: Name of the offending field.
        value: The value that was rejected.
    """

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class InvalidNetworkStateError(ConfigurationError):
    """A network measurement is negative, NaN or infinite (or otherwise impossible)."""


class TraceFormatError(NetGPTError, ValueError):
    """A network trace file (mahimahi format) cannot be parsed.

    Attributes:
        path: The file that failed to parse.
        line: 1-based line number of the first bad line, when known.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class TraceFileError(NetGPTError, ValueError):
    """A trace file holds a line that is valid JSON but not a trace, or of an unknown version.

    Torn lines (partial writes, not valid JSON) are skipped with a warning instead.
    """


class BenchmarkDataError(NetGPTError, ValueError):
    """A benchmark data file (BFCL tasks or answers) is malformed or incomplete.

    Attributes:
        path: The file that failed to load.
        line: 1-based line number of the offending line, when known.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class RoutingError(NetGPTError):
    """Routing a step failed on every side that was tried.

    Attributes:
        attempts: ``(target, error)`` pairs in the order the targets were tried.
    """

    def __init__(self, message: str, *, attempts: list[tuple[str, BaseException]] | None = None):
        super().__init__(message)
        self.attempts = list(attempts or [])


class PrivateStepError(RoutingError):
    """A private step (a privacy rule matched) could not be answered on the edge.

    The cloud is not tried for a private step unless
    ``PrivacyRules(allow_cloud_fallback=True)``.

    Attributes:
        rule: The privacy rule that made the step private (its name, never the matched text).
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        attempts: list[tuple[str, BaseException]] | None = None,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.rule = rule


class CircuitOpenError(NetGPTError):
    """A side was not called because its circuit breaker is open.

    Attributes:
        target: The side whose circuit is open.
        retry_in_s: Seconds until the circuit lets a probe through.
    """

    def __init__(self, message: str, *, target: str, retry_in_s: float) -> None:
        super().__init__(message)
        self.target = target
        self.retry_in_s = retry_in_s


class InvalidToolCallError(NetGPTError, ValueError):
    """A model produced a tool call that does not match the bound tools' JSON schemas.

    Attributes:
        tool_name: Name of the tool the model tried to call.
        problems: Human-readable validation problems.
    """

    def __init__(self, message: str, *, tool_name: str, problems: list[str]) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.problems = list(problems)


class StepTimeoutError(NetGPTError, TimeoutError):
    """A model call did not finish within the step deadline.

    Attributes:
        target: The side that timed out.
        timeout_s: The deadline that was exceeded.
    """

    def __init__(self, message: str, *, target: str, timeout_s: float) -> None:
        super().__init__(message)
        self.target = target
        self.timeout_s = timeout_s


class CapacityError(NetGPTError):
    """Every slot of a side was busy: the try was not made (the step goes to the other side).

    Attributes:
        target: The side at capacity.
        in_flight: Its tries in flight when the try gave up waiting.
        limit: Its number of slots (``TryCapacity``).
    """

    def __init__(self, message: str, *, target: str, in_flight: int, limit: int) -> None:
        super().__init__(message)
        self.target = target
        self.in_flight = in_flight
        self.limit = limit


class EdgeModelError(NetGPTError):
    """The edge model failed to load or to generate."""


class CloudUnavailableError(NetGPTError):
    """The cloud model could not be reached or configured."""


class BudgetExceededError(NetGPTError):
    """A step needed the cloud but the cloud budget is spent and the edge is unavailable."""


class MissingExtraError(NetGPTError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with: "
            f"pip install 'langchain-netgpt[{extra}]'"
        )
        self.package = package
        self.extra = extra


class TraceStoreError(NetGPTError):
    """A :class:`~langchain_netgpt.tracing.TraceStore` could not open, read or write its file.

    Attributes:
        path: The store's SQLite file.
        cause: SQLite's name for the failure (``"SQLITE_FULL"``, ``"SQLITE_IOERR"``,
            ``"SQLITE_BUSY"``, ...), when it came from SQLite.
    """

    def __init__(self, message: str, *, path: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.cause = cause
