"""Module attributes imported on first access (PEP 562), so a package import stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from the module ``homes[name]`` when asked.

    Example:
        .. code-block:: python

            from langchain_netgpt._lazy import lazy_getattr

            getter = lazy_getattr("mypkg", {"dumps": "json"})
            assert getter("dumps")({"a": 1}) == '{"a": 1}'
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return __getattr__
