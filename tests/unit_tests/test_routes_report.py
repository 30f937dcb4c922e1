"""``netgpt routes`` and its library: routes per session/window, why, tau terms, cost, timeline."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_netgpt import (
    CloudBudget,
    JsonlTraceSink,
    NetGPTPolicy,
    NetGPTRouter,
    NetworkState,
    RouteTrace,
    TraceStore,
)
from langchain_netgpt.cli import app
from langchain_netgpt.observe import build_routes_report, plot_timeline, tau_terms
from langchain_netgpt.routing import AlwaysCloud, AlwaysEdge
from langchain_netgpt.testing import ConstantScorer, FixedNetworkMonitor, ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

GOOD = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=30)
BAD = NetworkState(bandwidth_up_mbps=0.3, bandwidth_down_mbps=0.8, rtt_ms=1500)


def _traces(*, score: float = 0.6, policy: object = None, **router: object) -> list[RouteTrace]:
    sink = InMemoryTraceSink()
    monitor = FixedNetworkMonitor(GOOD)
    model = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge answer"]),
        cloud=ScriptedChatModel(responses=["cloud answer"]),
        scorer=ConstantScorer(score),
        monitor=monitor,
        sinks=[sink],
        **({"policy": policy} if policy is not None else {}),
        **router,  # type: ignore[arg-type]
    )
    for session, link in (("s-good", GOOD), ("s-bad", BAD), ("s-good", GOOD)):
        monitor.update(link)
        model.invoke("What's the weather in Oslo?", config={"metadata": {"thread_id": session}})
    return sink.traces


def test_the_tau_terms_add_up_to_the_threshold_the_policy_used() -> None:
    policy = NetGPTPolicy()
    (trace, *_) = _traces()
    terms = tau_terms(trace, policy)
    assert terms is not None
    assert terms.value + terms.latency + terms.price == pytest.approx(terms.raw_tau)
    assert terms.value == pytest.approx(policy.cloud_quality)
    assert terms.price < 0 and terms.shift == pytest.approx(0.0, abs=1e-12)
    assert min(1.0, max(0.0, terms.raw_tau)) == pytest.approx(trace.threshold)


def test_the_tau_terms_hold_with_escalation_recall() -> None:
    policy = NetGPTPolicy(escalation_recall=0.6)
    (trace, *_) = _traces(policy=policy)
    terms = tau_terms(trace, policy)
    assert terms is not None and terms.raw_tau == pytest.approx(
        terms.value + terms.latency + terms.price
    )
    assert min(1.0, max(0.0, terms.raw_tau)) == pytest.approx(trace.threshold)


def test_steps_of_another_policy_have_no_tau_terms() -> None:
    (trace, *_) = _traces(policy=AlwaysEdge())
    assert tau_terms(trace, NetGPTPolicy()) is None


def test_the_report_groups_steps_per_session_and_says_why() -> None:
    report = build_routes_report(_traces())
    assert [g.key for g in report.groups] == ["s-good", "s-bad"]
    assert report.total.steps == 3 and sum(g.steps for g in report.groups) == 3
    assert sum(report.total.by_route.values()) == 3
    assert all(" tau" in why for why in report.total.why)
    assert report.total.tau_terms is not None


def test_edge_steps_save_what_the_cloud_would_have_cost() -> None:
    report = build_routes_report(_traces(policy=AlwaysEdge()), group_by="all")
    total = report.total
    assert total.spent_usd == 0.0 and total.all_cloud_usd > 0 and total.saved_usd > 0
    assert total.why == {"edge: always-edge policy": 3}


def test_a_budget_override_is_a_reason() -> None:
    budget = CloudBudget(max_cloud_share=0.0)
    report = build_routes_report(_traces(policy=AlwaysCloud(), budget=budget), group_by="all")
    assert report.total.overrides == {"budget": 3}
    assert "edge: forced by budget" in report.total.why


def test_windows_group_by_clock_time() -> None:
    traces = _traces()
    shifted = [
        t.model_copy(update={"created_at": 7200.0 + 1800.0 * i}) for i, t in enumerate(traces)
    ]
    report = build_routes_report(shifted, group_by="window", window_s=3600)
    assert [(g.key, g.steps) for g in report.groups] == [
        ("1970-01-01T02:00:00+00:00", 2),
        ("1970-01-01T03:00:00+00:00", 1),
    ]


def test_bad_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="group_by must be"):
        build_routes_report([], group_by="tenant")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no steps to plot"):
        plot_timeline([])


def test_the_timeline_has_three_panels_and_saves(tmp_path: Path) -> None:
    report = build_routes_report(_traces())
    fig = plot_timeline(report, path=tmp_path / "t.png")
    assert len(fig.axes) == 4  # RTT (and its uplink twin), tau, route
    assert (tmp_path / "t.png").stat().st_size > 10_000


# -- the command --------------------------------------------------------------------------------
def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["routes", *args])


def test_netgpt_routes_reads_a_store_and_writes_the_plot_and_json(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        store.write_many(_traces())
    result = _invoke(
        str(tmp_path / "t.db"),
        "--plot",
        str(tmp_path / "t.png"),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "answered by" in result.output and "s-good" in result.output  # type: ignore[attr-defined]
    assert (tmp_path / "t.png").is_file()
    assert json.loads((tmp_path / "r.json").read_text())["total"]["steps"] == 3


def test_netgpt_routes_reads_a_jsonl_file_for_one_session(tmp_path: Path) -> None:
    sink = JsonlTraceSink(tmp_path / "t.jsonl")
    for trace in _traces():
        sink.write(trace)
    sink.close()
    result = _invoke(str(tmp_path / "t.jsonl"), "--session", "s-bad", "--by", "all")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "steps" in result.output  # type: ignore[attr-defined]


def test_netgpt_routes_reads_a_postgres_store(postgres_url: str) -> None:
    session = f"r{uuid.uuid4().hex[:8]}"
    with TraceStore(postgres_url) as store:
        store.write_many(
            [
                t.model_copy(update={"session_id": session, "trace_id": uuid.uuid4().hex})
                for t in _traces()
            ]
        )
    result = _invoke(postgres_url, "--session", session)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert session in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "tenant"], "--by must be session, window or all"),
        (["--by", "window", "--window", "soon"], "--window must be a positive length"),
        (["--since", "yesterday"], "since"),
    ],
)
def test_netgpt_routes_refuses_bad_options_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        store.write_many(_traces())
    result = _invoke(str(tmp_path / "t.db"), *args)
    assert result.exit_code == 2 and message in result.output  # type: ignore[attr-defined]


def test_netgpt_routes_on_a_missing_file_fails_naming_it(tmp_path: Path) -> None:
    result = _invoke(str(tmp_path / "nope.db"))
    assert result.exit_code == 2 and "nope.db" in result.output  # type: ignore[attr-defined]
