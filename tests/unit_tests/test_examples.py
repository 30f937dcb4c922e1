"""Examples are part of the docs: a stale example is a failing test."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from tests.conftest import TRACES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / name))["main"]


def test_the_threshold_example_shows_tau_falling_as_the_link_degrades() -> None:
    rows = _main("network_moves_the_threshold.py")()
    thresholds = [tau for _, tau, _ in rows]
    assert thresholds == sorted(thresholds, reverse=True)
    assert rows[-1][2] == "edge"


def test_the_budget_example_holds_the_cloud_share_at_its_cap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = _main("budget_cap.py")()
    assert result["unlimited_cloud_steps"] == 60  # the policy alone asks for the cloud every time
    assert max(result["window_shares"]) <= 0.3 + 1 / 20
    assert result["capped_targets"].count("cloud") == 18
    assert "cloud share cap 0.30" in capsys.readouterr().out


def test_the_lte_replay_keeps_every_step_on_the_edge_through_the_outage() -> None:
    rows = _main("replay_lte_trace.py")(TRACES)
    outage = [row for row in rows if row["bandwidth_up_mbps"] < 0.01]
    assert outage, "the replayed window should include the trace's outage"
    assert all(row["target"] == "edge" for row in outage)
    assert {row["target"] for row in rows} == {"edge", "cloud"}


def test_the_lte_replay_follows_the_rule_at_every_step() -> None:
    rows = _main("replay_lte_trace.py")(TRACES)
    for row in rows:
        expected = "edge" if row["score"] >= row["threshold"] else "cloud"
        assert row["target"] == expected, row


def test_the_lte_replay_reads_the_traces_folder_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NETGPT_NETWORK_TRACES_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="NETGPT_NETWORK_TRACES_DIR"):
        _main("replay_lte_trace.py")()


def test_the_middleware_example_moves_every_model_call_with_the_link() -> None:
    result = _main("middleware_agent.py")()
    fibre, poor = result["fibre"], result["edge of coverage"]
    assert fibre["targets"] == ["cloud", "cloud"] and fibre["answer"].startswith("[cloud]")
    assert poor["targets"] == ["edge", "edge"] and poor["answer"].startswith("[edge]")
    assert fibre["traces"] == poor["traces"] == 2  # one trace per model call
