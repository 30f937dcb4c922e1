from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from langchain_netgpt import NetGPTRouter, NetworkMonitor, NetworkState
from langchain_netgpt.demo.agent_tools import add_days, calculator, convert_units, country_facts
from langchain_netgpt.demo.run import DEMO_TASKS, build_agent, demo_policy
from langchain_netgpt.demo.scenario import (
    PHASES,
    ScenarioClock,
    phase_at,
    write_scripted_degradation,
)
from langchain_netgpt.routing.network import LinkTrace
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import InMemoryTraceSink


def test_calculator_evaluates_arithmetic_and_refuses_code() -> None:
    assert calculator.invoke({"expression": "(1234 + 5678) / 3"}) == "2304"
    with pytest.raises(ValueError, match="unsupported"):
        calculator.invoke({"expression": "__import__('os').system('true')"})
    with pytest.raises(ValueError, match="division by zero"):
        calculator.invoke({"expression": "1/0"})


def test_unit_conversion_covers_dimensions_and_rejects_mixing_them() -> None:
    assert convert_units.invoke({"value": 10, "from_unit": "miles", "to_unit": "km"}).endswith(
        "16.09 km"
    )
    assert "22.22" in convert_units.invoke({"value": 72, "from_unit": "F", "to_unit": "celsius"})
    with pytest.raises(ValueError, match="cannot convert length"):
        convert_units.invoke({"value": 1, "from_unit": "km", "to_unit": "kg"})
    with pytest.raises(ValueError, match="unknown unit"):
        convert_units.invoke({"value": 1, "from_unit": "parsec", "to_unit": "km"})


def test_date_arithmetic_and_country_lookup() -> None:
    assert add_days.invoke({"date": "2026-03-01", "days": 45}).startswith("2026-04-15")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        add_days.invoke({"date": "March 1st", "days": 1})
    assert "Tokyo" in country_facts.invoke({"country": "japan"})
    with pytest.raises(ValueError, match="no entry"):
        country_facts.invoke({"country": "Atlantis"})


def test_scripted_degradation_has_the_capacity_of_each_phase(tmp_path: Path) -> None:
    down, up = write_scripted_degradation(tmp_path)
    link = LinkTrace.from_file(down)
    good = link.bandwidth_mbps(at_s=10.0, window_s=5.0)
    worst = link.bandwidth_mbps(at_s=50.0, window_s=5.0)
    assert good == pytest.approx(24.0, rel=0.05)
    assert worst < 0.2
    assert LinkTrace.from_file(up).bandwidth_mbps(at_s=10.0, window_s=5.0) == pytest.approx(
        8.0, rel=0.05
    )


def test_the_scripted_network_degrades_then_recovers_for_the_router(tmp_path: Path) -> None:
    down, up = write_scripted_degradation(tmp_path)
    monitor = NetworkMonitor.from_trace(down, up, base_rtt_ms=40)
    states = {p.name: monitor.state(at_s=p.start_s + 5.5, payload_bytes=3000) for p in PHASES}
    policy = demo_policy()
    thresholds = {name: policy.threshold(state) for name, state in states.items()}
    assert (
        thresholds["edge of coverage"]
        < thresholds["congested cell"]
        < thresholds["LTE, good signal"]
    )
    assert thresholds["recovered"] > thresholds["edge of coverage"]


def test_tasks_are_spread_over_every_phase() -> None:
    assert {phase_at(t.at_s).name for t in DEMO_TASKS} == {p.name for p in PHASES}


def test_scenario_clock_jumps_forward_only() -> None:
    clock = ScenarioClock()
    clock.jump_to(30.0)
    assert clock() >= 30.0
    clock.jump_to(5.0)
    assert clock() >= 30.0


def test_the_agent_calls_a_tool_then_answers_through_the_router() -> None:
    sink = InMemoryTraceSink()
    edge = ScriptedChatModel(
        responses=[
            lambda msgs: (
                tool_call("calculator", {"expression": "17*23"})
                if not isinstance(msgs[-1], ToolMessage)
                else f"The answer is {msgs[-1].content}."
            )
        ]
    )
    router = NetGPTRouter(
        edge=edge,
        cloud=ScriptedChatModel(responses=["cloud"]),
        monitor=NetworkMonitor(
            initial=NetworkState(bandwidth_up_mbps=0.1, bandwidth_down_mbps=0.1, rtt_ms=3000)
        ),
        policy=demo_policy(),
        sinks=[sink],
    )
    state = build_agent(router).invoke({"messages": [HumanMessage("What is 17 * 23?")]})
    assert state["messages"][-1].content == "The answer is 391."
    assert [t.final_target for t in sink.traces] == ["edge", "edge"]
    assert sink.traces[0].tools and sink.traces[0].tool_choice == "any"
    assert sink.traces[1].features["after_tool_result"] is True
