from __future__ import annotations

import importlib

import pytest

import langchain_netgpt

SUBPACKAGES = (
    "langchain_netgpt.routing",
    "langchain_netgpt.tracing",
    "langchain_netgpt.errors",
    "langchain_netgpt.learn",
    "langchain_netgpt.export",
    "langchain_netgpt.recorded",
)


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_name_a_subpackage_exports_resolves(name: str) -> None:
    module = importlib.import_module(name)

    missing = [n for n in module.__all__ if getattr(module, n, None) is None]

    assert module.__all__ and missing == []


def test_each_name_that_left_the_top_level_is_exported_by_its_new_home() -> None:
    for name, home in langchain_netgpt._MOVED.items():
        assert name in importlib.import_module(home).__all__, (name, home)


def test_a_moved_name_still_resolves_with_a_warning_naming_its_new_import() -> None:
    from langchain_netgpt.routing import AlwaysCloud

    with pytest.warns(DeprecationWarning, match="import it from langchain_netgpt.routing"):
        moved = langchain_netgpt.AlwaysCloud  # type: ignore[attr-defined]

    assert moved is AlwaysCloud


def test_the_top_level_and_the_subpackages_export_the_same_objects() -> None:
    from langchain_netgpt import routing, tracing

    assert langchain_netgpt.NetGPTPolicy is routing.NetGPTPolicy
    assert langchain_netgpt.RouteTrace is tracing.RouteTrace
