"""Done-when check for ``netgpt train-router``: on a realistic routing log it beats the logger.

The real router (sync ``invoke``) routes BFCL tasks with an exploring NetGPT policy; the edge
replays what the bundled SmolLM2-135M really answered (recorded outcomes, no weights loaded),
the cloud answers BFCL's ground truth, the network replays mahimahi LTE traces. The traces are
exported as router data, the router is trained on a split (by task) and estimated on the rest.
The first 120 recorded tasks are used (the recording file is append-only), 1,800 steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_netgpt.export.router_data import export_router_data
from langchain_netgpt.learn import (
    RouterFit,
    RouterReplayConfig,
    load_policy,
    replay_router_log,
    train_router,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def router_data(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    config = RouterReplayConfig(
        bfcl_dir=shared_data / "bfcl", traces_dir=shared_data / "network-traces", max_tasks=120
    )
    traces = replay_router_log(config)
    path = tmp_path_factory.mktemp("replay") / "router.jsonl"
    export_router_data(traces, path, format="jsonl")
    return path


def test_replayed_traces_carry_propensities_and_bfcl_quality(router_data: Path) -> None:
    from langchain_netgpt.export.router_data import read_router_data

    rows = read_router_data(router_data).rows

    assert {round(r["propensity"], 6) for r in rows} == {0.9, 0.1}
    assert {r["quality_source"] for r in rows} == {"feedback"}
    assert {r["quality"] for r in rows} == {0.0, 1.0}


@pytest.fixture(scope="module")
def policy_path(router_data: Path) -> Path:
    return router_data.with_name("policy.json")


@pytest.fixture(scope="module")
def fit(router_data: Path, policy_path: Path) -> RouterFit:
    return train_router(router_data, policy_path, seed=0)


def test_the_trained_router_beats_the_logging_policy_on_held_out_steps(fit: RouterFit) -> None:
    assert fit.headline.value > fit.logging.value  # held-out DR estimate vs logged mean reward


def test_the_written_policy_file_loads_as_a_routing_policy(
    fit: RouterFit, policy_path: Path
) -> None:
    assert load_policy(policy_path).name == "policynet"


def test_the_learned_threshold_falls_as_rtt_rises_on_the_replay(fit: RouterFit) -> None:
    assert fit.tau_falls_with_rtt, fit.notes
