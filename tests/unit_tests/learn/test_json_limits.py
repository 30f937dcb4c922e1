"""Deeply nested policy and scorer files are refused with a clear error, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_netgpt._json_limits import json_depth, loads_config
from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.learn import load_policy
from langchain_netgpt.routing import LearnedScorer

DEEP = "[" * 200_000 + "]" * 200_000


@pytest.mark.parametrize(
    "text",
    [DEEP, '{"kind": "netgpt.policy", "scorer": ' + "{" * 100_000, '{"a":' * 65 + "1" + "}" * 65],
)
def test_a_deeply_nested_policy_file_is_a_configuration_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"nested .* levels deep") as caught:
        load_policy(path)
    assert caught.value.field == "nesting"


def test_a_deeply_nested_scorer_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "scorer.json"
    path.write_text(DEEP, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="scorer file"):
        LearnedScorer.load(path)


def test_brackets_inside_strings_do_not_count() -> None:
    assert json_depth('{"a": "[[[[{{{{", "b": ["\\"]]]"]}') == 2
    assert loads_config('{"x": [1, 2]}', source="t.json") == {"x": [1, 2]}
