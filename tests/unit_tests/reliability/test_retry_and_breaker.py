"""RetryPolicy and CircuitBreaker on their own: what is retried, how long to wait, state moves."""

from __future__ import annotations

import asyncio
import threading

import httpx
import openai
import pytest
from pydantic import ValidationError

from langchain_netgpt.errors import StepTimeoutError
from langchain_netgpt.routing.reliability import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    RetryPolicy,
)
from langchain_netgpt.testing.faults import OutOfMemoryError


def status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return openai.APIStatusError(f"status {status}", response=response, body=None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limits_and_server_errors_are_retryable(status: int) -> None:
    assert RetryPolicy().is_retryable(status_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retryable(status: int) -> None:
    assert not RetryPolicy().is_retryable(status_error(status))


def test_connection_errors_are_retryable_even_when_wrapped() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1")
    wrapped = RuntimeError("client failed")
    wrapped.__cause__ = openai.APIConnectionError(request=request)
    assert RetryPolicy().is_retryable(wrapped)
    assert RetryPolicy().is_retryable(ConnectionResetError("peer reset"))


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad arguments"),
        OutOfMemoryError("CUDA out of memory"),
        StepTimeoutError("late", target="cloud", timeout_s=1.0),
    ],
)
def test_validation_memory_and_deadline_errors_are_not_retryable(error: Exception) -> None:
    assert not RetryPolicy().is_retryable(error)


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(attempts=5, base_backoff_s=0.1, max_backoff_s=0.3, jitter=0)
    error = ConnectionError()
    assert [policy.backoff_s(retry=r, error=error) for r in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]


def test_jitter_draws_the_wait_within_its_band() -> None:
    policy = RetryPolicy(attempts=3, base_backoff_s=1.0, max_backoff_s=1.0, jitter=0.5)
    low = policy.backoff_s(retry=1, error=ConnectionError(), rng=lambda: 0.0)
    high = policy.backoff_s(retry=1, error=ConnectionError(), rng=lambda: 0.5)
    assert (low, high) == (0.5, 0.75)


def test_retry_after_header_sets_the_wait_within_the_cap() -> None:
    policy = RetryPolicy(attempts=2, base_backoff_s=0.01, max_backoff_s=5.0, jitter=0)
    assert policy.backoff_s(retry=1, error=status_error(429, {"retry-after": "2"})) == 2.0
    assert policy.backoff_s(retry=1, error=status_error(503, {"retry-after": "60"})) == 5.0


@pytest.mark.parametrize(
    "fields",
    [
        {"attempts": 0},
        {"base_backoff_s": -1},
        {"jitter": 1.5},
        {"base_backoff_s": 3, "max_backoff_s": 1},
        {"retry_on_status": {42}},
        {"max_backoff_s": float("nan")},
    ],
)
def test_bad_retry_settings_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**fields)  # type: ignore[arg-type]


def test_breaker_opens_after_the_threshold_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=2, open_s=10), clock=Clock())
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=2, open_s=10), clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, open_s=5), clock=clock)
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.state is CircuitState.HALF_OPEN
    assert [breaker.allow(), breaker.allow()] == [True, False]


def test_a_successful_probe_closes_the_circuit_and_a_failed_one_reopens_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, open_s=5), clock=clock)
    breaker.record_failure()
    clock.now = 5.0
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and breaker.seconds_until_probe() == 5.0
    clock.now = 10.0
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_concurrent_threads_get_a_single_half_open_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, open_s=1), clock=clock)
    breaker.record_failure()
    clock.now = 2.0
    granted: list[bool] = []
    threads = [threading.Thread(target=lambda: granted.append(breaker.allow())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 1


async def test_concurrent_tasks_get_a_single_half_open_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, open_s=1), clock=clock)
    breaker.record_failure()
    clock.now = 2.0

    async def ask() -> bool:
        await asyncio.sleep(0)
        return breaker.allow()

    assert sum(await asyncio.gather(*(ask() for _ in range(16)))) == 1


@pytest.mark.parametrize("fields", [{"failure_threshold": 0}, {"open_s": 0}, {"open_s": -1.0}])
def test_bad_breaker_settings_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CircuitBreakerConfig(**fields)  # type: ignore[arg-type]
