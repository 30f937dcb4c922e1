"""JSON configuration files read with a nesting limit: a clear error, never a ``RecursionError``.

``json.loads`` recurses once per nesting level, so a hostile or broken file of ``[[[[...`` raises
a bare ``RecursionError`` (and pydantic validation of a deep document may too). :func:`loads_config`
measures the nesting first, in one linear pass that skips strings, and refuses a document nested
deeper than any netgpt file needs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_netgpt.errors import ConfigurationError

__all__ = ["MAX_CONFIG_DEPTH", "json_depth", "loads_config"]

MAX_CONFIG_DEPTH = 64
"""Deepest nesting accepted in a configuration file (policy files nest about 6 levels)."""

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings are not counted).

    Example:
        .. code-block:: python

            from langchain_netgpt._json_limits import json_depth

            assert json_depth('{"a": [1, {"b": "[[["}]}') == 3
    """
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        first = token.group()[0]
        if first in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif first in "]}":
            depth -= 1
    return deepest


def loads_config(
    text: str, *, source: str, what: str = "file", max_depth: int = MAX_CONFIG_DEPTH
) -> Any:
    """``json.loads(text)`` for a configuration file, refusing documents nested too deeply.

    Args:
        text: The file's text.
        source: Where it comes from (the path), named in errors.
        what: What it should be (``"policy file"``), named in errors.
        max_depth: Deepest nesting accepted.

    Raises:
        ConfigurationError: The text is not JSON, or is nested deeper than ``max_depth``.
    """
    depth = json_depth(text)
    if depth > max_depth:
        raise ConfigurationError(
            f"{source}: JSON nested {depth} levels deep, more than the {max_depth} a netgpt "
            f"{what} may use; the file is corrupt or not a netgpt {what}",
            field="nesting",
            value=depth,
        )
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigurationError(f"{source}: not a JSON {what} ({exc})") from exc
