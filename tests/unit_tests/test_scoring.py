from __future__ import annotations

import math
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing import EdgeScorer, HeuristicScorer, LearnedScorer, RequestFeatures
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


def _three_groups() -> tuple[list[RequestFeatures], list[int], list[RequestFeatures]]:
    groups = [
        _features("Weather in Paris?", 1),
        _features("Weather in Paris and Rome?", 3),
        _features("a, b, c and d; then e " * 8, 6),
    ]
    rates = (9, 5, 1)  # successes out of 10 per group
    rows: list[RequestFeatures] = []
    labels: list[int] = []
    for k in range(10):
        for group, rate in zip(groups, rates, strict=True):
            rows.append(group)
            labels.append(int(k < rate))
    return rows, labels, groups


def test_calibrated_scorer_matches_each_groups_success_rate_and_keeps_the_order() -> None:
    rows, labels, groups = _three_groups()
    scorer = LearnedScorer.fit(rows, labels, l2=0.01, calibrate=True)
    assert scorer.calibration is not None
    scores = [scorer.score(g, []) for g in groups]
    assert scores[0] >= scores[1] >= scores[2]
    for score, rate in zip(scores, (0.9, 0.5, 0.1), strict=True):
        assert score == pytest.approx(rate, abs=0.15)
    xs = [x for x, _ in scorer.calibration]
    ys = [y for _, y in scorer.calibration]
    assert xs == sorted(set(xs)) and ys == sorted(ys)


def test_calibration_round_trips_and_old_files_without_it_still_load(tmp_path: Path) -> None:
    rows, labels, groups = _three_groups()
    scorer = LearnedScorer.fit(rows, labels, calibrate=True)
    path = tmp_path / "calibrated.json"
    scorer.save(path)
    again = LearnedScorer.load(path)
    assert again.calibration == scorer.calibration
    assert again.score(groups[1], []) == pytest.approx(scorer.score(groups[1], []))
    data = LearnedScorer.fit(rows, labels).model_dump()
    data.pop("calibration")
    assert LearnedScorer.model_validate(data).calibration is None


def test_calibration_rejects_bad_knots_and_too_few_rows() -> None:
    rows, labels, _ = _three_groups()
    data = LearnedScorer.fit(rows, labels).model_dump()
    for knots in ([(0.5, 0.2), (0.4, 0.3)], [(0.1, 0.6), (0.9, 0.2)], [(0.1, 1.5)], []):
        with pytest.raises(ValueError, match="calibration must be"):
            LearnedScorer.model_validate({**data, "calibration": knots})
    with pytest.raises(ValueError, match="at least 2 rows per fold"):
        LearnedScorer.fit(rows[:6], labels[:6], calibrate=True, calibration_folds=5)


def test_calibration_prior_keeps_a_small_lucky_group_near_the_base_rate() -> None:
    lucky = _features("Weather in Paris?", 1)
    usual = _features("a, b, c and d; then e " * 8, 6)
    # 4 lucky rows all right; 60 usual rows right one time in five.
    rows = [lucky] * 4 + [usual] * 60
    labels = [1] * 4 + [int(k % 5 == 0) for k in range(60)]
    plain = LearnedScorer.fit(rows, labels, l2=0.01, calibrate=True, calibration_folds=4)
    shrunk = LearnedScorer.fit(
        rows, labels, l2=0.01, calibrate=True, calibration_folds=4, calibration_prior=10.0
    )
    base = sum(labels) / len(labels)  # 0.25
    assert plain.score(lucky, []) > 0.9
    # (4 + 10 * 0.25) / (4 + 10) = 0.46: pulled most of the way to the base rate.
    assert shrunk.score(lucky, []) == pytest.approx((4 + 10 * base) / 14, abs=0.02)
    assert shrunk.score(lucky, []) > shrunk.score(usual, [])
    assert shrunk.calibration is not None
    ys = [y for _, y in shrunk.calibration]
    assert ys == sorted(ys)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_calibration_prior_must_be_finite_and_non_negative(bad: float) -> None:
    rows, labels, _ = _three_groups()
    with pytest.raises(ValueError, match="calibration_prior"):
        LearnedScorer.fit(rows, labels, calibrate=True, calibration_prior=bad)
