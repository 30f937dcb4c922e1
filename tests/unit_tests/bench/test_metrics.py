from __future__ import annotations

import pytest

from langchain_netgpt.bench.metrics import StepResult, percentile, summarize
from langchain_netgpt.recorded.curves import apgr, cost_to_reach, pgr


def test_random_router_diagonal_has_apgr_one_half() -> None:
    diagonal = [(s / 10, s / 10) for s in range(11)]
    assert apgr(diagonal) == pytest.approx(0.5)


def test_apgr_of_a_hand_computed_curve() -> None:
    # (0,0) -> (0.2,0.6) -> (0.5,0.9) -> (1,1): 0.2*0.3 + 0.3*0.75 + 0.5*0.95 = 0.76
    assert apgr([(0.2, 0.6), (0.5, 0.9)]) == pytest.approx(0.76)


def test_best_point_counts_when_two_share_one_cloud_share() -> None:
    assert apgr([(0.5, 0.2), (0.5, 1.0)]) == pytest.approx(0.75)


def test_cpt_interpolates_between_operating_points() -> None:
    curve = [(0.2, 0.6), (0.5, 0.9)]
    assert cost_to_reach(curve, 0.5) == pytest.approx(0.2 * 0.5 / 0.6)
    assert cost_to_reach(curve, 0.8) == pytest.approx(0.2 + 0.3 * (0.2 / 0.3))
    assert cost_to_reach(curve, 0.95) == pytest.approx(0.5 + 0.5 * 0.5)


def test_cpt_of_a_point_already_past_the_target_is_its_share() -> None:
    assert cost_to_reach([(0.3, 0.7), (0.4, 0.75)], 0.7) == pytest.approx(0.3)


def test_curve_point_outside_the_unit_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="share in"):
        apgr([(1.5, 0.2)])
    with pytest.raises(ValueError, match="target_pgr"):
        cost_to_reach([], 1.2)


def test_pgr_is_zero_at_the_edge_and_one_at_the_cloud() -> None:
    assert pgr(0.3, edge_accuracy=0.3, cloud_accuracy=0.9) == 0.0
    assert pgr(0.9, edge_accuracy=0.3, cloud_accuracy=0.9) == 1.0
    assert pgr(0.6, edge_accuracy=0.3, cloud_accuracy=0.9) == pytest.approx(0.5)


def test_pgr_without_a_gap_is_an_error() -> None:
    with pytest.raises(ValueError, match="beat the edge"):
        pgr(0.5, edge_accuracy=0.8, cloud_accuracy=0.8)


def test_percentile_matches_linear_interpolation() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_summary_counts_accuracy_share_price_and_latency() -> None:
    steps = [
        StepResult("a", "edge", True, True, 2.0, 0.0, 1.0, edge_wait_s=1.0),
        StepResult("b", "cloud", True, True, 1.0, 0.01, 0.5),
        StepResult("c", "cloud", False, True, 3.0, 0.01, -0.5),
        StepResult("d", "edge", False, False, 4.0, 0.0, -1.0),
    ]
    m = summarize(steps, policy="p", family="f")
    assert (m.accuracy, m.validity, m.cloud_share) == (0.5, 0.75, 0.5)
    assert m.price_usd == pytest.approx(0.02)
    assert m.latency_mean_s == pytest.approx(2.5)
    assert m.latency_p50_s == pytest.approx(2.5)
    assert m.edge_wait_mean_s == pytest.approx(0.25)
    assert m.utility_mean == pytest.approx(0.0)
