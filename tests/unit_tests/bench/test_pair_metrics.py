from __future__ import annotations

import pytest

from langchain_netgpt.bench.pair_metrics import bootstrap_apgr, cluster_bootstrap_mean
from langchain_netgpt.recorded.curves import apgr, ranking_curve

EDGE = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0]
CLOUD = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]


def test_a_score_that_knows_where_the_cloud_helps_recovers_the_gap_first() -> None:
    knows = [0.9, 0.9, 0.1, 0.1, 0.9, 0.5, 0.9, 0.9]
    blind = [0.1, 0.1, 0.9, 0.9, 0.1, 0.5, 0.1, 0.1]
    good = ranking_curve(knows, edge_quality=EDGE, cloud_quality=CLOUD)
    bad = ranking_curve(blind, edge_quality=EDGE, cloud_quality=CLOUD)
    assert good["apgr"] > 0.5 > bad["apgr"]
    assert good["cpt80"] < bad["cpt80"]


def test_the_curve_area_matches_the_replay_metrics_apgr() -> None:
    curve = ranking_curve(
        [0.3, 0.2, 0.1, 0.4, 0.5, 0.6, 0.7, 0.8], edge_quality=EDGE, cloud_quality=CLOUD
    )
    assert curve["apgr"] == pytest.approx(apgr(curve["points"]))


def test_pgr_is_undefined_when_the_cloud_is_not_better() -> None:
    with pytest.raises(ValueError, match="not better"):
        ranking_curve([0.1, 0.2], edge_quality=[1.0, 1.0], cloud_quality=[1.0, 0.0])


def test_a_router_compared_with_itself_differs_by_zero() -> None:
    seed = {
        "ids": [str(i) for i in range(8)],
        "edge": EDGE,
        "cloud": CLOUD,
        "scores": {
            "a": [0.9, 0.9, 0.1, 0.1, 0.9, 0.5, 0.9, 0.9],
            "b": [0.9, 0.9, 0.1, 0.1, 0.9, 0.5, 0.9, 0.9],
        },
    }
    result = bootstrap_apgr([seed], ["a", "b"], resamples=200, seed=0)
    assert result["difference"]["b"] == {"mean": 0.0, "low": 0.0, "high": 0.0}
    low, high = result["apgr"]["a"]
    assert (
        low
        <= ranking_curve(seed["scores"]["a"], edge_quality=EDGE, cloud_quality=CLOUD)["apgr"]
        <= high
    )


def test_cluster_bootstrap_resamples_tasks_not_steps() -> None:
    values = [1.0, 1.0, 1.0, -1.0]
    result = cluster_bootstrap_mean(values, ["a", "a", "a", "b"], resamples=500, seed=0)
    assert result["mean"] == 0.5 and result["tasks"] == 2.0
    assert result["low"] == -1.0 and result["high"] == 1.0
