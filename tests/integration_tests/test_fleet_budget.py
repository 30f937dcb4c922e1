"""8 agent processes x 200 routed steps under one CloudBudget kept in PostgreSQL.

Runs ``benchmarks/fleet_budget.py``'s fleet (real ``NetGPTRouter`` processes, scripted models,
a real PostgreSQL server): the shared budget holds the cloud share within one point of its cap
and never spends more than the dollar cap plus one step's price.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "fleet_budget.py"


@pytest.fixture(scope="module")
def fleet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_budget", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eight_processes_share_one_cloud_share_cap(fleet: ModuleType, postgres_url: str) -> None:
    run = fleet.run_fleet(
        url=postgres_url, processes=8, steps=200, share_cap=0.3, window=100, usd_cap=None,
        wants=0.6, shared=True,
    )  # fmt: skip
    assert run["steps"] == 1600 and run["sink_errors"] == 0
    assert abs(run["realised_share"] - 0.3) <= 0.01
    assert run["worst_window_share"] <= 0.3 + 1 / 100 + 1e-9  # one step over, at most


def test_eight_processes_share_one_dollar_cap(fleet: ModuleType, postgres_url: str) -> None:
    usd_cap = 0.006  # about 40% of what the share-capped fleet would spend
    run = fleet.run_fleet(
        url=postgres_url, processes=8, steps=200, share_cap=0.3, window=100, usd_cap=usd_cap,
        wants=0.6, shared=True,
    )  # fmt: skip
    assert run["steps"] == 1600 and run["refused_by_budget"] > 0
    assert run["spent_usd"] <= usd_cap + run["max_step_price_usd"]
    assert run["spent_usd"] >= usd_cap - run["max_step_price_usd"]  # the cap is used, not hoarded
