from __future__ import annotations

import math
from pathlib import Path

import pytest

from langchain_netgpt import NetworkMonitor, NetworkState
from langchain_netgpt.errors import InvalidNetworkStateError, TraceFormatError
from langchain_netgpt.routing.network import LinkTrace
from tests.conftest import TRACES


@pytest.mark.parametrize("field", ["bandwidth_up_mbps", "bandwidth_down_mbps", "rtt_ms", "loss"])
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, -math.inf])
def test_network_state_rejects_impossible_values_naming_the_field(field: str, bad: float) -> None:
    values = {"bandwidth_up_mbps": 1.0, "bandwidth_down_mbps": 1.0, "rtt_ms": 10.0, field: bad}
    with pytest.raises(InvalidNetworkStateError, match=field) as info:
        NetworkState(**values)
    assert isinstance(info.value, ValueError)
    assert info.value.field == field


def test_network_state_rejects_loss_of_one_or_more() -> None:
    with pytest.raises(InvalidNetworkStateError, match="loss"):
        NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=1, rtt_ms=1, loss=1.0)


def test_network_state_rejects_non_numbers() -> None:
    with pytest.raises(InvalidNetworkStateError, match="rtt_ms"):
        NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=1, rtt_ms="fast")


def test_zero_bandwidth_means_infinite_transfer_time() -> None:
    down = NetworkState(bandwidth_up_mbps=0, bandwidth_down_mbps=10, rtt_ms=50)
    assert down.transfer_s(up_bytes=100, down_bytes=0) == math.inf
    assert down.transfer_s(up_bytes=0, down_bytes=1_250_000) == pytest.approx(1.0)


def test_loss_inflates_transfer_time() -> None:
    clean = NetworkState(bandwidth_up_mbps=8, bandwidth_down_mbps=8, rtt_ms=0)
    lossy = NetworkState(bandwidth_up_mbps=8, bandwidth_down_mbps=8, rtt_ms=0, loss=0.5)
    assert lossy.transfer_s(up_bytes=1000, down_bytes=0) == pytest.approx(
        2 * clean.transfer_s(up_bytes=1000, down_bytes=0)
    )


def test_link_trace_bandwidth_counts_packets_in_the_window() -> None:
    link = LinkTrace([1, 1, 2, 3, 4], name="toy")  # 5 packets of 1500 B every 4 ms
    assert link.bandwidth_mbps(at_s=0.004, window_s=0.004) == pytest.approx(15.0)
    assert link.mean_mbps == pytest.approx(15.0)


def test_link_trace_loops_with_its_period() -> None:
    link = LinkTrace([10, 20], name="toy")  # period 20 ms; opportunities at 0 (=20) and 10
    assert link.packets_between(0.0, 0.020) == 2
    assert link.packets_between(0.0, 0.200) == 20


def test_link_trace_delivery_waits_through_an_outage() -> None:
    # Opportunities at 0 (the looped 1000), 1, 2 and 3 ms, then nothing until 1 s.
    link = LinkTrace([1, 2, 3, 1000], name="outage")
    assert link.delivery_time_s(start_s=0.0, nbytes=1500) == pytest.approx(0.001)
    assert link.delivery_time_s(start_s=0.0, nbytes=4 * 1500) == pytest.approx(0.004)
    assert link.delivery_time_s(start_s=0.004, nbytes=1500) == pytest.approx(0.997, abs=0.002)
    assert link.delivery_time_s(start_s=0.0, nbytes=0) == 0.0


def test_link_trace_rejects_decreasing_timestamps() -> None:
    with pytest.raises(TraceFormatError, match="non-decreasing"):
        LinkTrace([5, 3], name="bad")


def test_trace_file_with_garbage_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.down"
    bad.write_text("1\n2\nthree\n")
    with pytest.raises(TraceFormatError, match="line 3") as info:
        LinkTrace.from_file(bad)
    assert info.value.line == 3


def test_empty_trace_file_is_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.up"
    empty.write_text("\n")
    with pytest.raises(TraceFormatError, match="empty"):
        LinkTrace.from_file(empty)


@pytest.mark.parametrize("name", ["ATT-LTE-driving-2016", "TMobile-LTE-short", "Verizon-LTE-short"])
def test_real_lte_traces_replay_with_varying_bandwidth(name: str) -> None:
    monitor = NetworkMonitor.from_trace(
        TRACES / f"{name}.down", TRACES / f"{name}.up", base_rtt_ms=40
    )
    states = [monitor.state(at_s=float(t)) for t in range(0, 120, 5)]
    downs = {round(s.bandwidth_down_mbps, 2) for s in states}
    assert len(downs) > 5  # a cellular link changes
    assert all(s.rtt_ms >= 40 for s in states)


def test_trace_monitor_adds_queueing_delay_during_an_outage(tmp_path: Path) -> None:
    trace = tmp_path / "gap.up"
    trace.write_text("\n".join(["1"] * 10 + ["2000"]) + "\n")  # a burst, then 2 s of silence
    monitor = NetworkMonitor.from_trace(trace, base_rtt_ms=30)
    busy = monitor.state(at_s=0.0, payload_bytes=1500)
    outage = monitor.state(at_s=0.5, payload_bytes=1500)
    assert busy.rtt_ms < 40
    assert outage.rtt_ms > 1000


def test_trace_monitor_follows_its_clock(tmp_path: Path) -> None:
    now = [100.0]
    monitor = NetworkMonitor.from_trace(
        TRACES / "Verizon-LTE-short.down", base_rtt_ms=20, clock=lambda: now[0], speed=2.0
    )
    now[0] = 110.0
    assert monitor.now_s() == pytest.approx(20.0)
    assert monitor.state() == monitor.state(at_s=20.0)


def test_live_monitor_refuses_a_replay_time() -> None:
    with pytest.raises(ValueError, match="from_trace"):
        NetworkMonitor().state(at_s=3.0)


def test_observations_move_the_rtt_estimate_towards_what_was_measured() -> None:
    monitor = NetworkMonitor(
        initial=NetworkState(bandwidth_up_mbps=100, bandwidth_down_mbps=100, rtt_ms=20), alpha=0.5
    )
    for _ in range(10):
        monitor.observe(bytes_sent=1000, bytes_received=1000, total_s=0.5, server_s=0.1)
    assert monitor.state().rtt_ms == pytest.approx(400, rel=0.02)
    assert monitor.observations == 10


def test_large_streamed_responses_update_downlink_bandwidth() -> None:
    monitor = NetworkMonitor(
        initial=NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=100, rtt_ms=20), alpha=1.0
    )
    monitor.observe(bytes_sent=500, bytes_received=250_000, total_s=1.1, ttfb_s=0.1)
    assert monitor.state().bandwidth_down_mbps == pytest.approx(2.0)


def test_observation_with_negative_time_is_rejected() -> None:
    with pytest.raises(InvalidNetworkStateError, match="total_s"):
        NetworkMonitor().observe(bytes_sent=1, bytes_received=1, total_s=-1.0)


def test_update_sets_the_state_and_checks_its_type() -> None:
    monitor = NetworkMonitor()
    state = NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=300)
    monitor.update(state)
    assert monitor.state() == state
    with pytest.raises(TypeError, match="NetworkState"):
        monitor.update({"rtt_ms": 5})  # type: ignore[arg-type]


def _gap_trace(tmp_path: Path, gap_ms: int) -> Path:
    """1 ms-spaced deliveries for 2 s, then ``gap_ms`` of silence, then deliveries again."""
    trace = tmp_path / f"gap{gap_ms}.down"
    stamps = list(range(1, 2001)) + [2000 + gap_ms + k for k in range(2000)]
    trace.write_text("\n".join(map(str, stamps)) + "\n")
    return trace


def test_a_short_silence_reads_as_low_bandwidth_not_as_a_dead_link(tmp_path: Path) -> None:
    monitor = NetworkMonitor.from_trace(_gap_trace(tmp_path, 1500), base_rtt_ms=30)
    silent = monitor.state(at_s=3.2)  # the 1-s window [2.2, 3.2) holds no delivery
    busy = monitor.state(at_s=1.5)
    assert 0 < silent.bandwidth_down_mbps < busy.bandwidth_down_mbps
    # The window stretched to the next delivery at 3.5 s: one packet over [2.2, 3.501).
    assert silent.bandwidth_down_mbps == pytest.approx(1500 * 8 / 1.301 / 1e6, rel=1e-3)
    assert silent.rtt_ms > 250  # the wait until that delivery is still in the RTT


def test_the_link_is_down_only_after_the_outage_length_without_delivery(tmp_path: Path) -> None:
    trace = _gap_trace(tmp_path, 8000)  # silent from 2.0 s to 10.0 s
    monitor = NetworkMonitor.from_trace(trace, base_rtt_ms=30, outage_after_s=5.0)
    assert monitor.state(at_s=6.0).bandwidth_down_mbps > 0  # 4 s of silence so far
    assert monitor.state(at_s=7.5).bandwidth_down_mbps == 0.0  # 5.5 s: down
    strict = NetworkMonitor.from_trace(trace, base_rtt_ms=30, outage_after_s=1.0)
    assert strict.state(at_s=3.5).bandwidth_down_mbps == 0.0


def test_outage_length_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outage_after_s"):
        NetworkMonitor.from_trace(_gap_trace(tmp_path, 100), outage_after_s=0.0)


def _write(path: Path, stamps: list[int]) -> Path:
    path.write_text("\n".join(map(str, stamps)) + "\n")
    return path


def test_causal_forecast_reads_nothing_ahead_of_the_clock(tmp_path: Path) -> None:
    # Two traces that agree up to 3.0 s: one recovers at 3.1 s, the other at 9.0 s.
    head = list(range(1, 2001))
    soon = _write(tmp_path / "soon.up", head + list(range(3100, 12000)))
    late = _write(tmp_path / "late.up", head + list(range(9000, 12000)))
    for at_s in (1.0, 2.5, 3.0):
        states = [
            NetworkMonitor.from_trace(path, base_rtt_ms=30, forecast="causal").state(at_s=at_s)
            for path in (soon, late)
        ]
        assert states[0] == states[1]
    # The oracle forecast knows which one recovers first.
    oracle = [
        NetworkMonitor.from_trace(path, base_rtt_ms=30).state(at_s=3.0) for path in (soon, late)
    ]
    assert oracle[0].rtt_ms < 500 < oracle[1].rtt_ms


def test_causal_forecast_is_the_mean_residual_life_of_the_silences_seen(tmp_path: Path) -> None:
    # Every second: deliveries for 600 ms, then silence; the silences last 400 ms, one in
    # three lasts 1400 ms (the next burst is skipped).
    stamps: list[int] = []
    for second in range(30):
        if second % 3 == 2:
            continue
        stamps.extend(range(second * 1000 + 1, second * 1000 + 601))
    trace = _write(tmp_path / "gaps.up", stamps)
    link = LinkTrace.from_file(trace)
    monitor = NetworkMonitor.from_trace(trace, base_rtt_ms=30, forecast="causal")
    at_s = link.period_ms / 1000 + 0.9  # looped once; 300 ms into the silence after 0.6 s
    seen = [g for _, g in link._long_gaps() if g > 0.3]
    expected = sum(seen) / len(seen) - 0.3
    assert link.expected_wait_s(at_s=at_s) == pytest.approx(expected)
    assert monitor.state(at_s=at_s).rtt_ms == pytest.approx(30 + expected * 1000)
    # Mid-burst no wait is forecast; longer than any silence seen: as long again.
    assert link.expected_wait_s(at_s=link.period_ms / 1000 + 0.3) == 0.0
    never = _write(tmp_path / "never.up", [*range(1, 1001), 9000])
    assert LinkTrace.from_file(never).expected_wait_s(at_s=4.0) == pytest.approx(3.0, abs=0.01)


def test_unknown_forecast_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="forecast must be one of"):
        NetworkMonitor.from_trace(_gap_trace(tmp_path, 100), forecast="psychic")  # type: ignore[arg-type]


def test_live_and_replayed_monitors_are_separate_classes_behind_one_protocol(
    tmp_path: Path,
) -> None:
    from langchain_netgpt.routing.network import NetworkEstimator
    from langchain_netgpt.routing.network_replay import (
        CausalTraceMonitor,
        OracleTraceMonitor,
        TraceReplayMonitor,
    )

    trace = _gap_trace(tmp_path, 100)
    oracle = NetworkMonitor.from_trace(trace)
    causal = NetworkMonitor.from_trace(trace, forecast="causal")
    live = NetworkMonitor()
    assert isinstance(oracle, OracleTraceMonitor) and isinstance(causal, CausalTraceMonitor)
    assert not isinstance(live, TraceReplayMonitor) and not isinstance(oracle, NetworkMonitor)
    for monitor in (oracle, causal, live):
        assert isinstance(monitor, NetworkEstimator)
    oracle.observe(bytes_sent=100, bytes_received=100, total_s=1.0)
    assert oracle.observations == 0  # the trace is the network
