"""Budgets with time windows, tenants and tags, and budgets/breakers shared through a database."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from langchain_netgpt import CloudBudget, NetGPTRouter
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.budget import SpendCap, budget_scope
from langchain_netgpt.routing.reliability import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
)
from langchain_netgpt.routing.shared_state import SharedStateError, open_shared_state
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

HOUR = 3600.0
T0 = 1_800_000_000.0  # a fixed Unix time: the windows are computed from `now=`


# -- time windows ------------------------------------------------------------------------------
def test_a_per_hour_cap_refuses_naming_it_and_resets_the_next_hour() -> None:
    budget = CloudBudget(max_cloud_usd_per_hour=0.01)
    start = (T0 // HOUR) * HOUR
    assert budget.reserve(wants_cloud=True, price_usd=0.006, now=start + 10).cloud
    refused = budget.reserve(wants_cloud=True, price_usd=0.006, now=start + 20)
    assert not refused.cloud and refused.limit == "max_cloud_usd_per_hour"
    assert "max_cloud_usd_per_hour budget reached" in (refused.reason or "")
    assert budget.reserve(wants_cloud=True, price_usd=0.006, now=start + HOUR + 1).cloud
    assert budget.spent_usd == pytest.approx(0.012)


def test_a_per_day_cap_counts_every_hour_of_the_day() -> None:
    budget = CloudBudget(max_cloud_usd_per_day=0.01, max_cloud_usd_per_hour=0.008)
    day = (T0 // 86400) * 86400
    assert budget.reserve(wants_cloud=True, price_usd=0.006, now=day + 1).cloud
    assert budget.reserve(wants_cloud=True, price_usd=0.004, now=day + 2 * HOUR).cloud
    late = budget.reserve(wants_cloud=True, price_usd=0.001, now=day + 5 * HOUR)
    assert late.limit == "max_cloud_usd_per_day"
    assert budget.reserve(wants_cloud=True, price_usd=0.001, now=day + 86400 + 1).cloud


def test_spend_counters_of_past_windows_are_forgotten() -> None:
    budget = CloudBudget(max_cloud_usd_per_hour=1.0)
    budget.reserve(wants_cloud=True, price_usd=0.5, now=T0)
    budget.reserve(wants_cloud=True, price_usd=0.25, now=T0 + 3 * HOUR)
    counters = budget.spending()
    assert counters["*|total"] == pytest.approx(0.75)
    assert [k for k in counters if k.startswith("*|h")] == [f"*|h{int((T0 + 3 * HOUR) // HOUR)}"]


# -- tenants and tags --------------------------------------------------------------------------
def test_a_tenant_cap_refuses_that_tenant_only() -> None:
    budget = CloudBudget(
        tenants={"acme": SpendCap(max_cloud_usd=0.01)}, per_tenant=SpendCap(max_cloud_usd=1.0)
    )
    assert budget.reserve(wants_cloud=True, price_usd=0.008, tenant="acme").cloud
    refused = budget.reserve(wants_cloud=True, price_usd=0.008, tenant="acme")
    assert refused.limit == "tenant 'acme' max_cloud_usd" and "'acme'" in (refused.reason or "")
    assert budget.reserve(wants_cloud=True, price_usd=0.008, tenant="globex").cloud
    assert budget.reserve(wants_cloud=True, price_usd=0.008).cloud  # no tenant: global caps only


def test_tag_caps_apply_to_every_step_carrying_the_tag() -> None:
    budget = CloudBudget(tags={"batch": SpendCap(max_cloud_usd_per_hour=0.01)})
    with budget_scope(tags=["batch", "nightly"]):
        assert budget.reserve(wants_cloud=True, price_usd=0.006, now=T0).cloud
        refused = budget.reserve(wants_cloud=True, price_usd=0.006, now=T0 + 1)
    assert refused.limit == "tag 'batch' max_cloud_usd_per_hour" and refused.tags == (
        "batch",
        "nightly",
    )
    assert budget.reserve(wants_cloud=True, price_usd=0.006, now=T0 + 2).cloud  # untagged


def test_a_refund_goes_back_to_the_tenant_and_window_it_was_charged_to() -> None:
    budget = CloudBudget(tenants={"acme": SpendCap(max_cloud_usd_per_hour=0.01)})
    slot = budget.reserve(wants_cloud=True, price_usd=0.008, tenant="acme", now=T0)
    budget.downgrade(slot)
    assert not slot.cloud and budget.spent_usd == 0.0
    assert budget.reserve(wants_cloud=True, price_usd=0.008, tenant="acme", now=T0 + 1).cloud


def test_an_upgrade_refused_by_a_tenant_budget_names_it() -> None:
    budget = CloudBudget(tenants={"acme": SpendCap(max_cloud_usd=0.01)})
    budget.reserve(wants_cloud=True, price_usd=0.01, tenant="acme")
    slot = budget.reserve(wants_cloud=False, price_usd=0.0, tenant="acme")
    assert not budget.upgrade(slot, price_usd=0.001)
    assert slot.limit == "tenant 'acme' max_cloud_usd"


def test_the_router_charges_the_tenant_of_the_enclosing_budget_scope() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=AlwaysCloud(),
        budget=CloudBudget(tenants={"acme": SpendCap(max_cloud_usd=0.0)}),
        sinks=[sink],
    )
    with budget_scope(tenant="acme"):
        refused = router.invoke("hi").response_metadata["netgpt"]
    allowed = router.invoke("hi").response_metadata["netgpt"]
    assert refused["target"] == "edge" and refused["overridden_by"] == "budget"
    assert "tenant 'acme' max_cloud_usd budget reached" in sink.traces[0].reason
    assert allowed["target"] == "cloud"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"price_usd": -1.0}, "price_usd must be a finite number"),
        ({"price_usd": float("nan")}, "price_usd must be a finite number"),
        ({"price_usd": 0.1, "tenant": ""}, "tenant must be a non-empty string"),
        ({"price_usd": 0.1, "tags": "batch"}, "tags must be a sequence"),
    ],
)
def test_bad_reservations_raise_naming_the_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CloudBudget(max_cloud_usd=1.0).reserve(wants_cloud=True, **kwargs)  # type: ignore[arg-type]


def test_a_spend_cap_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="SpendCap needs"):
        SpendCap()


# -- shared state: SQLite and PostgreSQL ---------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "state.db")


def test_two_budgets_on_one_shared_state_respect_one_dollar_cap(location: str) -> None:
    budget_id = uuid.uuid4().hex
    first, second = (
        CloudBudget(max_cloud_usd=0.01, shared_state=location, budget_id=budget_id)
        for _ in range(2)
    )
    assert first.reserve(wants_cloud=True, price_usd=0.006).cloud
    refused = second.reserve(wants_cloud=True, price_usd=0.006)
    assert refused.limit == "max_cloud_usd"
    assert second.spent_usd == pytest.approx(0.006) == first.spent_usd


def test_budgets_with_other_ids_are_apart(location: str) -> None:
    one = CloudBudget(max_cloud_usd=0.01, shared_state=location, budget_id=uuid.uuid4().hex)
    two = CloudBudget(max_cloud_usd=0.01, shared_state=location, budget_id=uuid.uuid4().hex)
    assert one.reserve(wants_cloud=True, price_usd=0.01).cloud
    assert two.reserve(wants_cloud=True, price_usd=0.01).cloud


def test_a_shared_circuit_opens_for_every_breaker_on_the_same_side(location: str) -> None:
    config = CircuitBreakerConfig(
        failure_threshold=2, open_s=60, shared_state=location, name=uuid.uuid4().hex
    )
    here, there = CircuitBreaker(config, key="cloud"), CircuitBreaker(config, key="cloud")
    edge = CircuitBreaker(config, key="edge")
    here.record_failure()
    there.record_failure()
    assert here.state is CircuitState.OPEN and not here.allow() and not there.allow()
    assert there.failures == 2 and 0 < there.seconds_until_probe() <= 60
    assert edge.state is CircuitState.CLOSED and edge.allow()


def test_a_shared_half_open_circuit_lets_one_probe_through_the_whole_fleet(location: str) -> None:
    now = [1000.0]
    config = CircuitBreakerConfig(
        failure_threshold=1, open_s=10, shared_state=location, name=uuid.uuid4().hex
    )
    one, two = (CircuitBreaker(config, key="cloud", clock=lambda: now[0]) for _ in range(2))
    one.record_failure()
    now[0] += 11
    assert one.allow() and not two.allow()  # one probe at a time, fleet-wide
    now[0] += 11  # the probe's process died without reporting: the lease runs out
    assert two.allow()
    two.record_success()
    assert one.state is CircuitState.CLOSED and one.allow()


def test_a_shared_breaker_needs_the_side_it_guards() -> None:
    with pytest.raises(ValueError, match="needs key="):
        CircuitBreaker(CircuitBreakerConfig(shared_state="memory"))


def test_an_unreachable_shared_state_raises_naming_it_without_the_password() -> None:
    from langchain_netgpt.testing.postgres_server import _free_port

    url = f"postgresql://netgpt:hunter2@127.0.0.1:{_free_port()}/postgres"
    budget = CloudBudget(max_cloud_usd=1.0, shared_state=url)
    with pytest.raises(SharedStateError, match=r"netgpt:\*\*\*@127\.0\.0\.1") as info:
        budget.reserve(wants_cloud=True, price_usd=0.1)
    assert "hunter2" not in str(info.value)


def test_open_shared_state_refuses_an_empty_location() -> None:
    with pytest.raises(ValueError, match="shared_state must be"):
        open_shared_state("  ")


def test_processes_sharing_a_budget_never_overspend_together(location: str) -> None:
    budget_id = uuid.uuid4().hex
    child = textwrap.dedent(
        """
        import sys
        from langchain_netgpt import CloudBudget
        budget = CloudBudget(max_cloud_usd=0.05, shared_state=sys.argv[1], budget_id=sys.argv[2])
        granted = sum(budget.reserve(wants_cloud=True, price_usd=0.001).cloud for _ in range(40))
        print(granted)
        """
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", child, location, budget_id], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    granted = [int(run.communicate(timeout=120)[0]) for run in runs]
    assert sum(granted) == 50  # 3 x 40 wanted, $0.05 at $0.001 a step
    shared = CloudBudget(max_cloud_usd=0.05, shared_state=location, budget_id=budget_id)
    assert shared.spent_usd == pytest.approx(0.05)


def test_admission_times_of_a_fleet_follow_the_budgets_own_order(location: str) -> None:
    # Trace times are these, so windows of traces in time order are the budget's windows.
    budget_id = uuid.uuid4().hex
    child = textwrap.dedent(
        """
        import json, sys
        from langchain_netgpt import CloudBudget
        budget = CloudBudget(max_cloud_share=0.3, shared_state=sys.argv[1], budget_id=sys.argv[2])
        slots = [budget.reserve(wants_cloud=True, price_usd=0.001) for _ in range(40)]
        print(json.dumps([[s.step_id, s.admitted_at] for s in slots]))
        """
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", child, location, budget_id], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    slots = [tuple(s) for run in runs for s in json.loads(run.communicate(timeout=120)[0])]
    by_time = [step for step, _ in sorted(slots, key=lambda s: s[1])]
    assert by_time == list(range(120))


def test_a_routed_step_is_timed_when_the_budget_admitted_it() -> None:
    sink = InMemoryTraceSink()
    budget = CloudBudget(max_cloud_share=0.5)
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["e"]),
        cloud=ScriptedChatModel(responses=["c"]),
        policy=AlwaysCloud(),
        budget=budget,
        sinks=[sink],
    )
    before = time.time()
    router.invoke("hi")
    probe = budget.reserve(wants_cloud=False, price_usd=0.0)
    (trace,) = sink.traces
    assert before <= trace.created_at <= probe.admitted_at


def test_a_budget_stays_hashable_and_comparable() -> None:
    one = CloudBudget(max_cloud_usd=1.0, tenants={"acme": SpendCap(max_cloud_usd=0.5)})
    two = CloudBudget(max_cloud_usd=1.0, tenants={"acme": SpendCap(max_cloud_usd=0.5)})
    assert one == two and hash(one) == hash(two)
