"""A realistic routing log to learn from: the real router replaying BFCL tasks under LTE traces.

:func:`replay_router_log` runs :class:`~langchain_netgpt.NetGPTRouter` (sync ``invoke``) over BFCL
tasks with an exploring policy, and returns the traces:

- the edge answers what the bundled SmolLM2-135M really answered on the task (a recorded
  outcomes file, :func:`~langchain_netgpt.recorded.edge_outcomes.load_edge_outcomes`): its
  calls, its errors, its token counts;
- the cloud answers BFCL's ground-truth call;
- the network is replayed from a mahimahi LTE trace (``NetworkMonitor.from_trace`` on a replay
  clock), under several base RTTs;
- the policy is :class:`~langchain_netgpt.routing.exploration.EpsilonGreedyPolicy` around
  :class:`~langchain_netgpt.NetGPTPolicy`, so every trace carries its propensity;
- each trace's ``quality`` is the BFCL checker's verdict on the returned calls.

No model is loaded: both sides are :class:`~langchain_netgpt.testing.ScriptedChatModel`
instances, so a step takes milliseconds of wall time. Its ``latency_s`` is therefore replaced
by the replayed latency: the edge's from the recorded token counts on an edge device profile
(:data:`~langchain_netgpt.routing.latency.DEFAULT_EDGE`; the recording itself ran on a shared CPU),
the cloud's from the base RTT plus the time the trace's packets take to carry the request and the
response, plus the cloud profile's compute time. A fallback step pays for both tries.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.bfcl_tasks import BfclTask, check_calls
from langchain_netgpt.recorded.edge_outcomes import (
    BUNDLED_EDGE_OUTCOMES,
    EdgeOutcome,
    load_edge_outcomes,
    tasks_by_id,
)
from langchain_netgpt.router import NetGPTRouter
from langchain_netgpt.routing.exploration import EpsilonGreedyPolicy
from langchain_netgpt.routing.latency import DEFAULT_CLOUD, DEFAULT_EDGE, SideProfile
from langchain_netgpt.routing.network import LinkTrace, NetworkMonitor
from langchain_netgpt.routing.policy import NetGPTPolicy
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink, RouteTrace

__all__ = ["BUNDLED_EDGE_OUTCOMES", "RouterReplayConfig", "replay_router_log"]

_BFCL_FILES = ("simple_python", "multiple", "parallel", "irrelevance")


class RouterReplayConfig(BaseModel):
    """Where the replay's data lives and how it explores.

    Args:
        bfcl_dir: Folder of the BFCL files (``BFCL_v4_<category>.json`` and ``possible_answer/``).
        traces_dir: Folder of mahimahi traces (``<name>.down`` / ``<name>.up``).
        outcomes: Recorded edge outcomes (default: the bundled model's recording).
        trace_names: Traces to replay, one scenario each per base RTT.
        base_rtts_ms: Base RTTs of the scenarios (traces carry capacity, not RTT).
        passes: Times every task is asked per scenario.
        step_interval_s: Trace time between two steps.
        epsilon: Exploration probability of the logging policy.
        seed: Seed of the exploration and of the task order.
        edge_profile: Edge device the replayed edge latency is computed for.
        cloud_profile: Cloud compute profile of the replayed cloud latency.

    Example:
        .. code-block:: python

            from langchain_netgpt.learn.routing_log import RouterReplayConfig

            config = RouterReplayConfig(bfcl_dir="data/bfcl", traces_dir="data/traces")
            assert config.epsilon == 0.2
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bfcl_dir: Path
    traces_dir: Path
    outcomes: Path = BUNDLED_EDGE_OUTCOMES
    trace_names: tuple[str, ...] = Field(
        default=("Verizon-LTE-short", "TMobile-LTE-short", "ATT-LTE-driving-2016"), min_length=1
    )
    base_rtts_ms: tuple[float, ...] = Field(default=(30, 150, 600, 1500, 3000), min_length=1)
    passes: int = Field(default=1, ge=1)
    max_tasks: int | None = Field(
        default=None, ge=1, description="Use only the first N recorded tasks (recording order)."
    )
    step_interval_s: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    epsilon: float = Field(default=0.2, gt=0, le=1)
    seed: int = 0
    edge_profile: SideProfile = DEFAULT_EDGE
    cloud_profile: SideProfile = DEFAULT_CLOUD


def _ground_truth_answer(task: BfclTask) -> AIMessage:
    """The cloud's answer: BFCL's first accepted value of every parameter."""
    if task.ground_truth is None:
        return AIMessage(content="None of the available functions applies to this request.")
    calls = []
    for index, entry in enumerate(task.ground_truth):
        for name, params in entry.items():
            args = {}
            for param, allowed in params.items():
                chosen = next((v for v in allowed if v != ""), None)
                if chosen is not None:
                    args[param] = chosen
            calls.append({"name": task.tool_name(name), "args": args, "id": f"call_gt_{index}"})
    return AIMessage(content="", tool_calls=calls)


def _edge_answer(task: BfclTask, outcome: EdgeOutcome) -> AIMessage:
    """The edge's answer: what the recorded model did (its exception is raised again)."""
    if outcome.error is not None:
        raise RuntimeError(f"recorded edge failure: {outcome.error}")
    if not outcome.calls:
        return AIMessage(content=outcome.text)
    calls = []
    for index, call in enumerate(outcome.calls):
        try:
            name = task.tool_name(call["name"])
        except KeyError:
            name = str(call["name"])  # a name the task does not offer: the router will refuse it
        calls.append({"name": name, "args": dict(call.get("args") or {}), "id": f"call_e{index}"})
    return AIMessage(content="", tool_calls=calls)


def _compute_s(profile: SideProfile, in_tokens: int, out_tokens: int) -> float:
    return (
        profile.overhead_s
        + in_tokens / profile.prefill_tokens_per_s
        + out_tokens / profile.decode_tokens_per_s
    )


def _replay_clock(now: list[float]) -> Callable[[], float]:
    """A clock that reads the replay's own time (advanced by the loop, one step at a time)."""
    return lambda: now[0]


def replay_router_log(
    config: RouterReplayConfig,
    *,
    on_step: Callable[[int, int], None] | None = None,
) -> list[RouteTrace]:
    """Run the router over the recorded BFCL tasks under replayed networks; return its traces.

    Args:
        config: Data locations and exploration settings.
        on_step: Called as ``on_step(done, total)`` after each step.

    Returns:
        One trace per step, with ``quality`` (BFCL correctness), ``propensity`` and the replayed
        ``latency_s``.

    Raises:
        BenchmarkDataError: The outcomes or BFCL files are missing or malformed.
        FileNotFoundError: A trace file is missing.
    """
    outcomes, ordered = _recorded_tasks(config)
    rng = random.Random(config.seed)
    current: list[BfclTask] = []

    def edge_reply(_: Sequence[BaseMessage]) -> AIMessage:
        return _edge_answer(current[0], outcomes[current[0].id])

    def cloud_reply(_: Sequence[BaseMessage]) -> AIMessage:
        return _ground_truth_answer(current[0])

    edge = ScriptedChatModel(responses=[edge_reply], model_name="replayed-smollm2-135m")
    cloud = ScriptedChatModel(responses=[cloud_reply], model_name="bfcl-ground-truth")
    total = len(config.trace_names) * len(config.base_rtts_ms) * config.passes * len(ordered)
    traces: list[RouteTrace] = []
    for trace_name in config.trace_names:
        down = config.traces_dir / f"{trace_name}.down"
        up = config.traces_dir / f"{trace_name}.up"
        links = (LinkTrace.from_file(up), LinkTrace.from_file(down))
        for base_rtt in config.base_rtts_ms:
            now = [0.0]
            sink = InMemoryTraceSink()
            router = NetGPTRouter(
                edge=edge,
                cloud=cloud,
                policy=EpsilonGreedyPolicy(
                    base=NetGPTPolicy(), epsilon=config.epsilon, seed=rng.randrange(2**31)
                ),
                monitor=NetworkMonitor.from_trace(
                    down, up, base_rtt_ms=base_rtt, clock=_replay_clock(now)
                ),
                sinks=[sink],
            )
            for _ in range(config.passes):
                for task in rng.sample(ordered, len(ordered)):
                    current[:] = [task]
                    # The task id is the session: fit_router keeps a task's steps on one side.
                    router.bind_tools(task.tools).invoke(
                        task.messages, config={"metadata": {"session_id": task.id}}
                    )
                    step = (task, outcomes[task.id], now[0], base_rtt)
                    traces.append(_replayed(sink.traces[-1], step, config, *links))
                    now[0] += config.step_interval_s
                    if on_step is not None:
                        on_step(len(traces), total)
    return traces


def _recorded_tasks(config: RouterReplayConfig) -> tuple[dict[str, EdgeOutcome], list[BfclTask]]:
    """The recorded outcomes, and their BFCL tasks in recording order.

    Raises:
        BenchmarkDataError: No recorded task is among the BFCL files.
    """
    outcomes = load_edge_outcomes(config.outcomes).rows
    files = [config.bfcl_dir / f"BFCL_v4_{c}.json" for c in _BFCL_FILES]
    tasks = {
        i: t for i, t in tasks_by_id([f for f in files if f.is_file()]).items() if i in outcomes
    }
    # Recording order (the file is append-only), so a given max_tasks always picks the same tasks.
    ordered = [tasks[i] for i in outcomes if i in tasks][: config.max_tasks]
    if not ordered:
        raise BenchmarkDataError(
            f"no task of {config.outcomes} was found in {config.bfcl_dir}",
            path=str(config.outcomes),
        )
    return outcomes, ordered


def _replayed(
    trace: RouteTrace,
    step: tuple[BfclTask, EdgeOutcome, float, float],
    config: RouterReplayConfig,
    up: LinkTrace,
    down: LinkTrace,
) -> RouteTrace:
    """The trace with BFCL quality and the replayed latency of the sides it tried.

    ``step`` is the task, its recorded edge outcome, the replay time and the base RTT (ms).
    """
    task, outcome, at_s, base_rtt_ms = step
    output = trace.output
    calls: list[dict[str, Any]] = (
        [dict(call) for call in output.tool_calls] if isinstance(output, AIMessage) else []
    )
    quality = 1.0 if output is not None and check_calls(task, calls).correct else 0.0
    in_tokens = max(outcome.input_tokens, 1)
    latency = 0.0
    for attempt in trace.attempts:
        if attempt.target == "edge":
            latency += _compute_s(config.edge_profile, in_tokens, outcome.output_tokens)
        else:
            answer = _ground_truth_answer(task)
            text = str(answer.tool_calls or answer.content)
            start = at_s + latency
            up_s = up.delivery_time_s(start_s=start, nbytes=trace.features["payload_bytes"])
            # The response: the answer's JSON in an OpenAI chat-completion envelope (~400 bytes).
            down_s = down.delivery_time_s(start_s=start + up_s, nbytes=400 + len(text))
            compute = _compute_s(config.cloud_profile, in_tokens, len(text) // 4 + 1)
            latency += base_rtt_ms / 1000 + up_s + down_s + compute
    return trace.model_copy(update={"quality": quality, "latency_s": latency})
