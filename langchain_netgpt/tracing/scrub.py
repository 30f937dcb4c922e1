"""Secret scrubbing for exported traces: nothing that looks like a credential leaves the machine."""

from __future__ import annotations

import copy
import functools
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from langchain_netgpt.tracing.credentials import CREDENTIAL_FORMATS, may_hold_credential

if TYPE_CHECKING:
    from langchain_netgpt.tracing.trace import RouteTrace

__all__ = [
    "REDACTED",
    "ScrubbingLogFilter",
    "SecretScrubber",
    "default_scrubber",
    "scrub_text",
    "scrub_trace",
    "scrub_value",
    "scrubbed_logger",
]

_V = TypeVar("_V")

REDACTED = "[REDACTED]"
"""What a secret is replaced with."""

# Keys whose scalar values are credentials, compared after lower-casing and mapping '-' to '_'.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "api_key",
        "apikey",
        "x_api_key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "private_key",
        "secret_key",
        "access_key",
        "credentials",
    }
)
_SECRET_KEY_SUFFIXES = ("_api_key", "_apikey", "_token", "_secret", "_password", "_secret_key")

# Environment variables whose values are credentials.
_SECRET_ENV = re.compile(
    r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|API_?KEY", re.IGNORECASE
)


_SHORTEST_CREDENTIAL = 8
"""No row of CREDENTIAL_FORMATS matches fewer characters (``a://b:c@``)."""


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    normal = key.strip().lower().replace("-", "_")
    return normal in _SECRET_KEYS or normal.endswith(_SECRET_KEY_SUFFIXES)


class SecretScrubber:
    """Replaces credentials in JSON-like data with ``[REDACTED]``.

    Three rules, applied to every string, list and mapping, recursively:

    * the scalar value of a credential-named key (``Authorization``, ``api_key``, ``x-api-key``,
      ``*_token``, ``*_secret``, ``password``, ``cookie``, ...) is replaced whole; a container
      under such a key (a JSON schema property named ``api_key``) is scrubbed, not dropped;
    * text shaped like a credential is replaced: every row of
      :data:`~langchain_netgpt.tracing.credentials.CREDENTIAL_FORMATS` (OpenAI, Anthropic,
      Stripe, LangSmith, HuggingFace, GitHub, Google, Slack and AWS keys, JWTs, PEM private
      keys, ``user:pass@`` in URLs, ``Authorization`` / ``Bearer`` / ``Basic`` values, and
      credential assignments such as ``SOME_TOKEN=...`` or ``"api_key": "..."``);
    * every known secret value (:meth:`from_environ` takes the values of ``*_KEY``, ``*_TOKEN``,
      ``*_SECRET``, ``*_PASSWORD`` environment variables) is replaced wherever it appears.
      Values shorter than ``min_secret_length`` are ignored: replacing a 3-letter word
      everywhere would mangle the data without protecting anything.

    :meth:`scrub` always returns a deep copy: a scrubbed trace shares no mutable object with
    the one it came from, so a later change to the original cannot reach a sink.

    Args:
        secrets: Exact values to remove wherever they appear.
        min_secret_length: Shortest value of ``secrets`` that is honoured.

    Example:
        .. code-block:: python

            from langchain_netgpt.export import SecretScrubber

            scrubber = SecretScrubber(["tok-0123456789"])
            clean = scrubber.scrub({"headers": {"Authorization": "Bearer abcdefghij"},
                                    "text": "my token is tok-0123456789"})
            assert clean == {"headers": {"Authorization": "[REDACTED]"},
                             "text": "my token is [REDACTED]"}
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_secret_length: int = 8) -> None:
        if min_secret_length < 1:
            raise ValueError(f"min_secret_length must be >= 1, got {min_secret_length}")
        self._shortest = min(_SHORTEST_CREDENTIAL, min_secret_length)
        # Scrubbed short texts: an agent's system prompt and tool schemas recur on every step.
        self._memo: dict[str, str] = {}
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted(
            {s for s in secrets if isinstance(s, str) and len(s) >= min_secret_length},
            key=len,
            reverse=True,
        )

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        extra: Iterable[str] = (),
        min_secret_length: int = 8,
    ) -> SecretScrubber:
        """A scrubber that knows the credentials held in environment variables.

        Args:
            environ: The environment to read (default ``os.environ``).
            extra: More secret values (an API key given on the command line).
            min_secret_length: Shortest secret value honoured.
        """
        env = os.environ if environ is None else environ
        values = [value for name, value in env.items() if _SECRET_ENV.search(name)]
        return cls([*values, *extra], min_secret_length=min_secret_length)

    def scrub_text(self, text: str) -> str:
        """``text`` with every known secret and credential-shaped substring replaced.

        The formats are the rows of
        :data:`~langchain_netgpt.tracing.credentials.CREDENTIAL_FORMATS`.
        """
        if len(text) < self._shortest:
            return text  # shorter than any credential format and any known secret
        if len(text) > _MEMO_TEXT_CHARS:
            return self._scrub_text(text)
        done = self._memo.get(text)
        if done is None:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            done = self._memo[text] = self._scrub_text(text)
        return done

    def _scrub_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if not may_hold_credential(text):
            return text
        given, lower = text, text.lower()
        for row in CREDENTIAL_FORMATS:
            # Gates are tested on the text as given: redacting only removes matches.
            if row.may_match(given, lower):
                text = row.redact(text, REDACTED)
        return text

    def scrub(self, value: Any) -> Any:
        """A scrubbed deep copy of ``value``; nothing mutable is shared with the input.

        Strings are scrubbed; mappings, lists, tuples and sets are rebuilt with scrubbed items
        (the scalar value of a credential-named key is replaced whole); pydantic models (a
        LangChain message, a trace) are dumped, scrubbed and validated again into a new model
        of the same class; numbers, booleans, ``None`` and bytes are returned as they are
        (immutable); anything else is deep-copied.
        """
        kind = type(value)
        # Exact-type fast paths for what a dumped trace holds (JSON-like data), then the rest.
        if kind is str:
            return self.scrub_text(value)
        if kind in _IMMUTABLE:
            return value
        if kind is dict:
            return {key: self._scrub_item(key, item) for key, item in value.items()}
        if kind is list:
            return [item if type(item) in _IMMUTABLE else self.scrub(item) for item in value]
        if isinstance(value, str):
            return self.scrub_text(value)
        if value is None or isinstance(value, bool | int | float | bytes):
            return value
        if isinstance(value, Mapping):
            return {key: self._scrub_item(key, item) for key, item in value.items()}
        if isinstance(value, tuple):
            return tuple(self.scrub(item) for item in value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, set | frozenset):
            return type(value)(self.scrub(item) for item in value)
        if isinstance(value, BaseModel):
            return type(value).model_validate(self.scrub(value.model_dump()))
        return copy.deepcopy(value)

    def _scrub_item(self, key: Any, item: Any) -> Any:
        kind = type(item)
        if kind is str or kind in _SCALARS:
            # The scalar value of a credential-named key goes whole.
            if isinstance(key, str) and _is_secret_key(key):
                return REDACTED
            return self.scrub_text(item) if kind is str else item
        if kind is bool or item is None:
            return item
        if (
            isinstance(key, str)
            and isinstance(item, str | int | float | bytes)
            and not isinstance(item, bool)
            and _is_secret_key(key)
        ):
            return REDACTED
        return self.scrub(item)


_MEMO_TEXT_CHARS = 4096
"""Longest text whose scrubbed form is remembered."""

_MEMO_ENTRIES = 1024
"""Most remembered texts per scrubber (emptied when full): a few MB at most."""

_SCALARS = frozenset({int, float, bytes})
"""Exact non-text scalar types that a credential-named key's value can be."""

_IMMUTABLE = frozenset({type(None), bool, int, float, bytes})
"""Exact types returned as they are (immutable, and never text)."""


def _environ_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted(value for name, value in environ.items() if _SECRET_ENV.search(name)))


_default_lock = threading.Lock()
_default: tuple[tuple[str, ...], SecretScrubber] | None = None
_seen_environ: dict[bytes, bytes] | None = None
"""A copy of the raw environment the current default scrubber was checked against."""


def default_scrubber() -> SecretScrubber:
    """The scrubber of the current environment (rebuilt when a secret variable changes).

    Reading every variable costs ~80 us a call; the raw environment is compared with the copy
    last checked instead (one dict comparison, ~1 us), and read again only when it changed.
    """
    global _default, _seen_environ
    raw = getattr(os.environ, "_data", None)
    current = _default
    if current is not None and raw is not None and raw == _seen_environ:
        return current[1]
    # Copied before reading: a change in between makes the next call read again, never skip.
    snapshot = dict(raw) if raw is not None else None
    secrets = _environ_secrets(os.environ)
    if current is not None and current[0] == secrets:
        _seen_environ = snapshot
        return current[1]
    with _default_lock:
        scrubber = SecretScrubber(secrets)
        _default = (secrets, scrubber)
        _seen_environ = snapshot
        return scrubber


def scrub_text(text: str, scrubber: SecretScrubber | None = None) -> str:
    """``text`` without credentials: the one call for exception messages and log lines.

    Args:
        text: Any text (an exception's message, a reason, a header value).
        scrubber: What to remove (default: :func:`default_scrubber`).

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing.scrub import scrub_text

            assert scrub_text("key AKIAIOSFODNN7EXAMPLE failed") == "key [REDACTED] failed"
    """
    return (scrubber or default_scrubber()).scrub_text(text)


def scrub_value(value: _V, scrubber: SecretScrubber | None = None) -> _V:
    """A scrubbed deep copy of ``value``: the one call for reply metadata and other data.

    Args:
        value: JSON-like data, a LangChain message or any pydantic model.
        scrubber: What to remove (default: :func:`default_scrubber`).
    """
    result: _V = (scrubber or default_scrubber()).scrub(value)
    return result


def scrub_trace(trace: RouteTrace, scrubber: SecretScrubber | None = None) -> RouteTrace:
    """A scrubbed deep copy of ``trace``: every field, however deep.

    Messages (every content part, ``name``, tool-call and invalid-tool-call arguments,
    ``additional_kwargs``, ``response_metadata``), the output, every attempt's error, problems
    and output, features, tools, the reasons and the error are scrubbed. The copy shares no
    mutable object with ``trace``, so changing ``trace`` afterwards cannot change the copy.

    Args:
        trace: The trace of a routed step.
        scrubber: What to remove (default: :func:`default_scrubber`).
    """
    scrubber = scrubber or default_scrubber()
    return type(trace).model_validate(scrubber.scrub(trace.model_dump()))


class ScrubbingLogFilter(logging.Filter):
    """Removes credentials from a log record's message, exception text and stack.

    Attach it to a logger (:func:`scrubbed_logger` does) or to a handler; the record is
    rewritten in place so every handler sees the scrubbed text.
    """

    def __init__(self, scrubber: SecretScrubber | None = None) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` and let it through."""
        scrubber = self._scrubber or default_scrubber()
        record.msg = scrubber.scrub_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrubber.scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrubber.scrub_text(record.stack_info)
        return True


def scrubbed_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with a :class:`ScrubbingLogFilter` (added once).

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing.scrub import scrubbed_logger

            logger = scrubbed_logger("langchain_netgpt.example")
            logger.warning("the key %s failed", "AKIAIOSFODNN7EXAMPLE")  # logged as [REDACTED]
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, ScrubbingLogFilter) for f in logger.filters):
        logger.addFilter(ScrubbingLogFilter())
    return logger
