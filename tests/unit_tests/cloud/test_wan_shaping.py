from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from langchain_netgpt.cloud import (
    LinkQueue,
    WanEmulator,
    WanMiddleware,
    WanProfile,
    one_way_delay_s,
    transfer_time_s,
)
from langchain_netgpt.routing.network import LinkTrace

TRACES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "network-traces"


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_way_delay_is_half_the_rtt_when_bandwidth_is_unlimited() -> None:
    assert one_way_delay_s(50_000, rtt_ms=300) == pytest.approx(0.150)


def test_transfer_time_is_bits_over_bandwidth() -> None:
    assert transfer_time_s(1_250_000, bandwidth_mbps=10) == pytest.approx(1.0)


def test_one_way_delay_adds_half_the_rtt_to_the_transfer_time() -> None:
    assert one_way_delay_s(125_000, rtt_ms=100, bandwidth_mbps=4) == pytest.approx(0.05 + 0.25)


def test_no_bytes_take_no_transfer_time() -> None:
    assert transfer_time_s(0, bandwidth_mbps=0.001) == 0.0


def test_back_to_back_messages_queue_behind_each_other() -> None:
    link = LinkQueue(rtt_ms=100, bandwidth_mbps=8)  # 1 MB/s

    arrivals = [link.send(100_000, at_s=0.0) for _ in range(3)]

    assert arrivals == pytest.approx([0.15, 0.25, 0.35])


def test_a_message_sent_after_the_link_went_idle_does_not_wait() -> None:
    link = LinkQueue(rtt_ms=100, bandwidth_mbps=8)
    link.send(100_000, at_s=0.0)

    assert link.send(100_000, at_s=5.0) == pytest.approx(5.0 + 0.1 + 0.05)


def test_stream_chunks_are_paced_by_the_bandwidth() -> None:
    link = LinkQueue(rtt_ms=0, bandwidth_mbps=0.08)  # 10 kB/s
    arrivals = [link.send(500, at_s=0.0) for _ in range(4)]  # 50 ms per chunk

    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]

    assert gaps == pytest.approx([0.05, 0.05, 0.05])


def test_slowly_produced_chunks_each_arrive_half_an_rtt_after_they_were_produced() -> None:
    link = LinkQueue(rtt_ms=200)

    arrivals = [link.send(300, at_s=t) for t in (0.0, 0.5, 1.0)]

    assert arrivals == pytest.approx([0.1, 0.6, 1.1])


@given(
    sends=st.lists(st.tuples(st.floats(0, 10), st.integers(0, 200_000)), min_size=1, max_size=30),
    rtt_ms=st.floats(0, 1000),
    bandwidth_mbps=st.floats(0.1, 1000),
)
def test_link_queue_delivers_in_order_and_never_faster_than_an_idle_link(
    sends: list[tuple[float, int]], rtt_ms: float, bandwidth_mbps: float
) -> None:
    link = LinkQueue(rtt_ms=rtt_ms, bandwidth_mbps=bandwidth_mbps)
    ready = 0.0
    previous = 0.0
    for step, nbytes in sends:
        ready += step
        arrival = link.send(nbytes, at_s=ready)
        idle = one_way_delay_s(nbytes, rtt_ms=rtt_ms, bandwidth_mbps=bandwidth_mbps)
        assert arrival >= ready + idle - 1e-9
        assert arrival >= previous - 1e-9
        previous = arrival


def test_trace_transfer_follows_the_trace_capacity() -> None:
    trace = LinkTrace([1, 2, 3, 4], name="one-packet-per-ms")  # 12 Mbit/s

    assert transfer_time_s(15_000, link=trace, start_s=0.0) == pytest.approx(0.010, abs=0.0011)


def test_trace_outage_holds_bytes_until_the_link_comes_back() -> None:
    trace = LinkTrace([1, 2000], name="outage")  # one packet at 1 ms, then nothing until 2 s

    assert transfer_time_s(1500, link=trace, start_s=0.005) == pytest.approx(2.001 - 0.005)


def test_real_trace_delivers_a_megabyte_near_its_mean_rate() -> None:
    trace = LinkTrace.from_file(TRACES / "Verizon-LTE-short.down")
    ideal = 1_000_000 * 8 / (trace.mean_mbps * 1e6)

    measured = transfer_time_s(1_000_000, link=trace, start_s=0.0)

    assert 0.2 * ideal < measured < 5 * ideal


def test_emulator_uses_the_uplink_trace_for_uploads(tmp_path: Path) -> None:
    fast = tmp_path / "fast"
    fast.write_text("\n".join(["1"] * 100 + ["2"]))  # 101 packets in the first 2 ms
    slow = tmp_path / "slow"
    slow.write_text("1\n1000\n")
    wan = WanEmulator(WanProfile(rtt_ms=40, trace_down=fast, trace_up=slow), clock=ManualClock())

    up = wan.schedule_upload(4500, at_s=0.0)  # three packets: at 0 ms, 1 ms and 1000 ms
    down = wan.schedule_download(4500, at_s=0.0)  # three packets within the first 2 ms

    assert up == pytest.approx(1.001 + 0.02)
    assert down == pytest.approx(0.002 + 0.02)


def test_emulator_replay_time_counts_from_its_start() -> None:
    clock = ManualClock()
    wan = WanEmulator(WanProfile(rtt_ms=10), clock=clock)
    clock.now += 2.5

    assert wan.now_s() == pytest.approx(2.5)


def test_emulator_restart_empties_the_link_queues() -> None:
    clock = ManualClock()
    wan = WanEmulator(WanProfile(rtt_ms=0, bandwidth_mbps=0.008), clock=clock)  # 1 kB/s
    wan.schedule_download(10_000)  # busy for 10 s
    wan.restart()

    assert wan.schedule_download(1_000) == pytest.approx(1.0)


def test_emulator_reports_the_trace_bandwidth_now(tmp_path: Path) -> None:
    clock = ManualClock()
    trace = tmp_path / "trace"
    trace.write_text("\n".join(str(ms) for ms in range(1, 1001)))  # 12 Mbit/s
    wan = WanEmulator(WanProfile(trace_down=trace), clock=clock)
    clock.now += 1.0

    assert wan.bandwidth_mbps("down") == pytest.approx(12.0, rel=0.01)


@pytest.mark.parametrize(
    "bad",
    [
        {"rtt_ms": -1},
        {"rtt_ms": float("nan")},
        {"bandwidth_mbps": 0},
        {"bandwidth_mbps": float("inf")},
        {"bandwidth_mbps": 5, "trace_down": "x.down"},
        {"trace_up": "x.up"},
        {"rtt_ms": 10, "latency": 3},
    ],
)
def test_profile_rejects_impossible_links(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WanProfile.model_validate(bad)


def test_profile_without_delay_or_limit_is_ideal() -> None:
    assert WanProfile().is_ideal


def test_emulator_reports_a_missing_trace_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WanEmulator(WanProfile(trace_down=tmp_path / "missing.down"))


async def _echo_app(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_middleware_adds_one_rtt_to_a_request() -> None:
    app = WanMiddleware(_echo_app, emulator=WanEmulator(WanProfile(rtt_ms=200)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wan") as client:
        t0 = time.perf_counter()
        response = await client.post("/", content=b"ping")
        elapsed = time.perf_counter() - t0

    assert response.content == b"ping"
    assert 0.2 <= elapsed < 0.2 * 1.2


async def test_middleware_does_not_block_the_event_loop() -> None:
    app = WanMiddleware(_echo_app, emulator=WanEmulator(WanProfile(rtt_ms=200)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wan") as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(client.post("/", content=b"x") for _ in range(5)))
        elapsed = time.perf_counter() - t0

    assert elapsed < 0.2 * 1.5  # five concurrent exchanges overlap instead of adding up
