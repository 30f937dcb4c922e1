"""fit_router and ``netgpt train-router`` on synthetic logs where RTT decides who should answer.

The edge answers a step well with probability ``sigmoid(3 - tool_count)`` in 0.5 s; the cloud
always answers well in ``0.3 s + RTT``. With the reward ``0.002 q - 0.0005 latency - price``
the best threshold falls from ~1 on a fast link to ~0.3 at 3 s of RTT, while the logging policy
used a network-blind threshold of 0.5 with 20% exploration.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from langchain_netgpt.cli import app
from langchain_netgpt.export.router_data import ROUTER_DATA_KIND, ROUTER_DATA_SCHEMA_VERSION
from langchain_netgpt.learn import fit_router, load_policy, read_policy_file
from langchain_netgpt.routing.features import FEATURE_NAMES


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tools = rng.randint(1, 6)
        p_edge = 1 / (1 + math.exp(-(3 - tools)))
        rtt_ms = math.exp(rng.uniform(math.log(20), math.log(4000)))
        score = min(max(p_edge + rng.gauss(0, 0.1), 0.0), 1.0)
        base = "edge" if score >= 0.5 else "cloud"
        action = rng.choice(["edge", "cloud"]) if rng.random() < 0.2 else base
        propensity = 0.9 if action == base else 0.1
        if action == "edge":
            quality, latency, price = float(rng.random() < p_edge), 0.5, 0.0
        else:
            quality, latency, price = 1.0, 0.3 + rtt_ms / 1000, 0.00005
        row: dict[str, Any] = {f"f_{name}": rng.gauss(0, 1) for name in FEATURE_NAMES}
        row["f_tool_count"] = float(tools)
        row.update(
            action=action,
            propensity=propensity,
            score=score,
            threshold=0.5,
            rtt_ms=rtt_ms,
            bandwidth_up_mbps=rng.uniform(1, 20),
            bandwidth_down_mbps=rng.uniform(5, 50),
            loss=0.0,
            latency_s=latency,
            price_usd=price,
            quality=quality,
            fallback=False,
            reward=0.002 * quality - 0.0005 * latency - price,
        )
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def fit() -> Any:
    return fit_router(_rows(1200, seed=1), seed=0, n_bootstrap=200)


def test_the_learned_policy_beats_the_logging_policy_on_held_out_steps(fit: Any) -> None:
    gain = next(e for p, e in fit.estimates if p == "learned - logging")

    assert fit.headline.value > fit.logging.value
    assert gain.ci_low > 0


def test_the_learned_threshold_falls_as_rtt_rises(fit: Any) -> None:
    taus = [tau for _, tau in fit.tau_by_rtt]

    assert fit.tau_falls_with_rtt
    assert taus[0] > taus[1] > taus[2]


def test_the_learned_scorer_ranks_easy_steps_above_hard_ones(fit: Any) -> None:
    index = FEATURE_NAMES.index("tool_count")

    assert fit.policy_file.scorer.weights[index] < 0


def test_every_estimate_is_reported_with_its_interval(fit: Any) -> None:
    names = {(policy, e.estimator) for policy, e in fit.estimates}

    assert {("learned", "ips"), ("learned", "snips"), ("learned", "dr")} <= names
    assert all(e.ci_low <= e.value <= e.ci_high for _, e in fit.estimates)


def test_rows_without_a_required_column_are_refused_by_name() -> None:
    rows = _rows(50, seed=2)
    for row in rows:
        del row["propensity"]

    with pytest.raises(ValueError, match=r"lacks columns \['propensity'\]"):
        fit_router(rows)


def test_too_few_rows_to_split_are_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        fit_router(_rows(20, seed=3))


def _write_router_data(path: Path, rows: list[dict[str, Any]]) -> None:
    header = {
        "kind": ROUTER_DATA_KIND,
        "schema_version": ROUTER_DATA_SCHEMA_VERSION,
        "params": {"value_usd": 0.002, "lambda_t": 0.0005, "lambda_c": 1.0},
    }
    lines = [json.dumps(header), *(json.dumps(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_train_router_prints_the_estimates_and_writes_a_loadable_policy(tmp_path: Path) -> None:
    data, out = tmp_path / "router.jsonl", tmp_path / "policy.json"
    _write_router_data(data, _rows(600, seed=4))

    result = CliRunner().invoke(
        app, ["train-router", "--data", str(data), "--out", str(out), "--seed", "3"]
    )

    assert result.exit_code == 0, result.output
    assert "learned" in result.output and "95% CI" in result.output
    assert read_policy_file(out).trained_on["data"] == str(data)
    assert load_policy(out).name == "policynet"


def test_train_router_refuses_an_unknown_estimator_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "router.jsonl"
    _write_router_data(data, _rows(100, seed=5))

    result = CliRunner().invoke(
        app, ["train-router", "--data", str(data), "--out", "p.json", "--estimator", "direct"]
    )

    assert result.exit_code == 2
    assert "--estimator must be dr, ips or snips, got 'direct'" in result.output


def test_train_router_fails_in_one_line_on_a_file_that_is_not_router_data(tmp_path: Path) -> None:
    data = tmp_path / "router.jsonl"
    data.write_text('{"kind": "something else"}\n', encoding="utf-8")

    result = CliRunner().invoke(
        app, ["train-router", "--data", str(data), "--out", str(tmp_path / "p.json")]
    )

    assert result.exit_code == 1
    assert "is not router data" in result.output
