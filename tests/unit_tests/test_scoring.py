from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt import (
    ConfigurationError,
    EdgeScorer,
    HeuristicScorer,
    LearnedScorer,
    RequestFeatures,
)
from tests.unit_tests.test_features import WEATHER


def _features(question: str, tools: int) -> RequestFeatures:
    return RequestFeatures.from_messages([HumanMessage(question)], [WEATHER] * tools)


def test_heuristic_scores_many_tools_and_multi_call_questions_lower() -> None:
    scorer = HeuristicScorer()
    easy = _features("Weather in Paris?", tools=1)
    hard = _features("Weather in Paris, Rome and Oslo, then compare each, respectively.", tools=8)
    assert scorer.score(easy, []) > 0.6
    assert scorer.score(hard, []) < scorer.score(easy, [])


def test_heuristic_scorer_satisfies_the_protocol() -> None:
    assert isinstance(HeuristicScorer(), EdgeScorer)


def test_heuristic_rejects_unknown_feature_weights() -> None:
    with pytest.raises(ValueError, match="unknown feature 'colour'"):
        HeuristicScorer(weights={"colour": 1.0})


def test_learned_scorer_learns_a_separable_rule_and_round_trips(tmp_path: Path) -> None:
    rows = [_features("Weather in Paris?", 1), _features("a, b, c and d; then e " * 8, 6)]
    scorer = LearnedScorer.fit(rows * 20, [1, 0] * 20, l2=0.1)
    assert scorer.score(rows[0], []) > 0.9
    assert scorer.score(rows[1], []) < 0.1
    path = tmp_path / "scorer.json"
    scorer.save(path)
    again = LearnedScorer.load(path)
    assert again.score(rows[0], []) == pytest.approx(scorer.score(rows[0], []))


def test_learned_scorer_refuses_mismatched_lengths_and_bad_labels() -> None:
    f = _features("x", 1)
    with pytest.raises(ValueError, match="labels has 1"):
        LearnedScorer.fit([f, f], [1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        LearnedScorer.fit([f, f], [1, 2])


def test_learned_scorer_file_from_another_feature_set_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    scorer = LearnedScorer.fit([_features("x", 1), _features("y and z", 3)], [1, 0])
    data = scorer.model_dump()
    data["feature_names"] = ["prompt_tokens"]
    path.write_text(__import__("json").dumps(data))
    with pytest.raises(ValueError, match="retrain"):
        LearnedScorer.load(path)


def test_learned_scorer_rejects_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not a JSON scorer"):
        LearnedScorer.load(path)
