"""Secret scrubbing for exported traces: nothing that looks like a credential leaves the machine."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "SecretScrubber"]

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

# Credential shapes found inside free text (prompts, tool arguments, error messages).
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"\blsv2_[a-z]{2}_[A-Za-z0-9_]{16,}"),  # LangSmith keys
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),  # HuggingFace tokens
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)\b(api[_-]?key|token|secret|password)=[^\s&\"']{6,}"),  # in URLs / logs
)

# Credentials given as "name: value" / "name=value" in free text; the name is kept, the value goes.
_SECRET_ASSIGNMENTS = (
    # HTTP headers written out: "Authorization: token abc", "Cookie: session=..."
    re.compile(r"(?i)\b((?:proxy-)?authorization|set-cookie|cookie)(\s*:\s*)([^\r\n\"']+)"),
    # Environment variables: "OPENAI_API_KEY=...", "export HF_TOKEN: ..." (upper case names only,
    # so prose such as "the monkey: bananas" is left alone).
    re.compile(
        r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD))\b"
        r"(\s*[=:]\s*[\"']?)([^\s\"'&,;]{6,})"
    ),
    # JSON / YAML / headers in text: "api_key": "...", x-api-key: ..., password = ...
    re.compile(
        r"(?i)([\"']?\b(?:x[_-])?(?:api[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token"
        r"|client[_-]?secret|secret[_-]?key|password|passwd)[\"']?)(\s*[:=]\s*[\"']?)"
        r"([^\s\"'&,;]{6,})"
    ),
)


def _redact_value(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


def _is_secret_key(key: str) -> bool:
    normal = key.strip().lower().replace("-", "_")
    return normal in _SECRET_KEYS or normal.endswith(_SECRET_KEY_SUFFIXES)


class SecretScrubber:
    """Replaces credentials in JSON-like data with ``[REDACTED]``.

    Three rules, applied to every string, list and mapping, recursively:

    * the scalar value of a credential-named key (``Authorization``, ``api_key``, ``x-api-key``,
      ``*_token``, ``*_secret``, ``password``, ``cookie``, ...) is replaced whole; a container
      under such a key (a JSON schema property named ``api_key``) is scrubbed, not dropped;
    * text shaped like a credential (``Bearer ...``, ``sk-...``, ``lsv2_...``, ``hf_...``, GitHub
      and AWS key ids, ``token=...`` in URLs) is replaced, and so is the value of a credential
      written out in text: an ``Authorization:`` / ``Cookie:`` header line, an environment
      assignment ``SOME_KEY=...`` / ``SOME_TOKEN: ...``, or ``"api_key": "..."`` in JSON;
    * every known secret value (:meth:`from_environ` takes the values of ``*_KEY``, ``*_TOKEN``,
      ``*_SECRET``, ``*_PASSWORD`` environment variables) is replaced wherever it appears.
      Values shorter than ``min_secret_length`` are ignored: replacing a 3-letter word
      everywhere would mangle the data without protecting anything.

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
        """``text`` with every known secret and credential-shaped substring replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(REDACTED, text)
        for assignment in _SECRET_ASSIGNMENTS:
            text = assignment.sub(_redact_value, text)
        return text

    def scrub(self, value: Any) -> Any:
        """A scrubbed copy of ``value`` (strings, numbers, lists, tuples and mappings)."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, Mapping):
            return {
                key: self._scrub_item(key, item) if isinstance(key, str) else self.scrub(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        return value

    def _scrub_item(self, key: str, item: Any) -> Any:
        if _is_secret_key(key) and item is not None and not isinstance(item, Mapping | list):
            return REDACTED
        return self.scrub(item)
