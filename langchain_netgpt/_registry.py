"""Registries keyed by the values of a ``Literal``, checked against it when the module loads.

The ``Literal`` is the typed contract; the registry holds what each value means; the two cannot
drift apart.

Example:
    .. code-block:: python

        from typing import Literal

        from langchain_netgpt._registry import literal_registry

        Colour = Literal["red", "blue"]
        HEX = literal_registry(Colour, {"red": "#f00", "blue": "#00f"})
        assert list(HEX) == ["red", "blue"]
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar, get_args

__all__ = ["literal_registry"]

_V = TypeVar("_V")
_K = TypeVar("_K", bound=str)


def literal_registry(literal: Any, entries: Mapping[_K, _V]) -> Mapping[_K, _V]:
    """A read-only registry holding exactly one entry per value of ``literal``, in its order.

    Raises:
        TypeError: An entry is missing for a value of ``literal``, or a key is not one of them.
    """
    values = get_args(literal)
    missing = [value for value in values if value not in entries]
    extra = [key for key in entries if key not in values]
    if missing or extra:
        raise TypeError(
            f"registry keys must be exactly {values}: missing {missing}, not in the Literal {extra}"
        )
    return MappingProxyType({value: entries[value] for value in values})
