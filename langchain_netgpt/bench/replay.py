"""Trace-driven replay of routing policies over recorded BFCL outcomes, in simulated time.

Each scenario is a network trace (mahimahi, with a base RTT) and an arrival process. Steps arrive
on the simulated clock; the policy sees the step's features and score, the network state the
trace gives at that moment, and how long the busy edge would make it wait. An edge step is served
by a single FIFO edge server; its outcome (correctness) is the recorded one, and its service
time is modelled from the recorded input/output tokens on the package's GPU edge profile
(:data:`~langchain_netgpt.routing.latency.DEFAULT_EDGE`) by default, or is the recorded wall time,
or the CPU profile (:data:`EDGE_SPEEDS`). A cloud step pays the uplink transfer of its payload over
the trace, the base RTT, the cloud's compute time
(:class:`~langchain_netgpt.routing.latency.SideProfile`) and the downlink transfer of the answer;
its outcome is BFCL ground truth right with probability ``cloud_accuracy`` (one seeded draw per
task, shared by every policy), or a recorded cloud outcome when a cloud results file is given.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.replay import BenchConfig

        config = BenchConfig(seed=1, cloud_accuracy=0.85)
        assert config.workloads["poisson"].mean_rate_per_s > 0
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_netgpt.bench.metrics import StepResult
from langchain_netgpt.bench.workload import (
    ArrivalProcess,
    BurstyArrivals,
    EdgeQueue,
    PoissonArrivals,
)
from langchain_netgpt.recorded.bfcl_tasks import BfclTask
from langchain_netgpt.recorded.edge_outcomes import EdgeOutcome
from langchain_netgpt.recorded.splits import split_by_category, stable_seed
from langchain_netgpt.routing.features import RequestFeatures, ToolsSummary
from langchain_netgpt.routing.latency import CPU_EDGE, DEFAULT_CLOUD, DEFAULT_EDGE, SideProfile
from langchain_netgpt.routing.network import LinkTrace, NetworkMonitor, NetworkState, TraceForecast
from langchain_netgpt.routing.policy import NetGPTPolicy

__all__ = [
    "EDGE_SPEEDS",
    "BenchConfig",
    "ReplayTask",
    "Scenario",
    "TraceSpec",
    "edge_speed_statement",
    "pair_traces",
    "prepare_tasks",
    "replay",
    "split_tasks",
    "stable_seed",
]


EDGE_SPEEDS: dict[str, SideProfile | None] = {
    "gpu": DEFAULT_EDGE,
    "cpu": CPU_EDGE,
    "recorded": None,
}
"""Edge service-time models by name: the package's GPU edge profile (the default, the deployment
NetGPT is for), the bundled model's CPU profile, or the recorded wall times (``None``)."""

_POLICY_DEFAULTS = NetGPTPolicy()
"""The policy's own utility parameters: the benchmark scores with what NetGPT optimises."""


def edge_speed_statement(profile: SideProfile | None) -> str:
    """The sentence every report states about how edge results were obtained."""
    if profile is None:
        return "edge correctness and edge speed measured (recorded wall times)"
    name = next(
        (
            f"{key} ({'DEFAULT_EDGE' if key == 'gpu' else 'CPU_EDGE'})"
            for key, value in EDGE_SPEEDS.items()
            if value == profile
        ),
        "custom",
    )
    return (
        "edge correctness measured; edge speed modelled from recorded tokens on the "
        f"{name} profile ({profile.overhead_s:g} s + input/{profile.prefill_tokens_per_s:g} "
        f"tok/s + output/{profile.decode_tokens_per_s:g} tok/s)"
    )


def _default_workloads() -> dict[str, PoissonArrivals | BurstyArrivals]:
    return {
        # About half the bundled CPU edge's capacity (~5 s a step) if every step stayed there.
        "poisson": PoissonArrivals(rate_per_s=0.1),
        # The same mean load in bursts of ~4 steps in 10 s, then 40 s of near silence.
        "bursty": BurstyArrivals(
            on_rate_per_s=0.4, off_rate_per_s=0.04, mean_on_s=10.0, mean_off_s=40.0
        ),
    }


class BenchConfig(BaseModel):
    """Everything a benchmark run depends on besides its files (same config, same report).

    The utility every policy is scored with (and NetGPT optimises) is
    ``value_correct_usd * correct - latency_usd_per_s * latency - cloud_usd_weight * price``.
    Its defaults are read from :class:`~langchain_netgpt.routing.policy.NetGPTPolicy`'s own defaults
    (``V`` = $0.002, ``lambda_t`` = $0.0005/s, ``lambda_c`` = 1), so the policy is scored on the
    utility it optimises and the two cannot drift apart.

    Args:
        seed: Seeds the split, the arrivals, the cloud's right/wrong draws and random policies.
        test_fraction: Share of each category held out for scoring (the rest trains the
            learned scorer and calibrates the edge latency model).
        cloud_accuracy: Probability the simulated cloud answers a step right (ignored when
            recorded cloud outcomes are given).
        cloud: The cloud's compute speed and token prices (default: gpt-4o-mini list prices).
        edge_profile: Edge speed. A profile serves each edge step in
            ``overhead + input_tokens / prefill + output_tokens / decode`` from its recorded
            tokens; the default, :data:`~langchain_netgpt.routing.latency.DEFAULT_EDGE`, is the
            small GPU near the user the package is for (the recording's wall times come from a
            shared CPU and measure that box, not the product). ``None`` serves the recorded wall
            time. :data:`EDGE_SPEEDS` names the choices.
        value_correct_usd: ``V``, value of a correct step.
        latency_usd_per_s: ``lambda_t``, price of a second of latency.
        cloud_usd_weight: ``lambda_c``, weight of a cloud dollar.
        base_rtts_ms: Base RTT per trace, in the order traces are given (cycled if shorter).
        workloads: Arrival processes by name; every trace is replayed under each.
        window_s: Window over which the monitor averages the trace's bandwidth.
        network_forecast: What the policies are told about the link (see
            :meth:`~langchain_netgpt.routing.network.NetworkMonitor.from_trace`): ``"causal"`` (the
            default) reads only the trace before the step, as a deployed router must;
            ``"oracle"`` also reads ahead (the wait the payload will really meet), an upper
            bound on what network forecasting can give.
        budget_cloud_share: Cloud-share cap of the budget-constrained policy (default 0.5, the
            operating point the benchmark reports).
        budget_window_steps: Window of that cap.
        sweep_points: Operating points per threshold sweep.
        cloud_weight_sweep: ``lambda_c`` values swept to trace the NetGPT policies' curve
            (up to 100: with ``V`` = $0.002 a short step's cloud price must weigh ~100x to
            outweigh a correct answer, so the curve reaches the all-edge end).
        random_shares: Cloud shares of the random baseline's curve.
        fallback_on_invalid: An edge answer with an invalid tool call falls back to the cloud,
            as :class:`~langchain_netgpt.NetGPTRouter` does (the cloud call starts when the edge
            has answered, so the step pays both). Off for the always-edge baseline, which
            measures the edge model alone, and for the oracle.

    Raises:
        pydantic.ValidationError: A value is out of range (the message names the field).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    test_fraction: float = Field(default=0.5, gt=0, lt=1)
    cloud_accuracy: float = Field(default=0.9, ge=0, le=1)
    cloud: SideProfile = Field(default=DEFAULT_CLOUD)
    edge_profile: SideProfile | None = Field(default=DEFAULT_EDGE)
    value_correct_usd: float = Field(
        default=_POLICY_DEFAULTS.value_correct_usd, gt=0, allow_inf_nan=False
    )
    latency_usd_per_s: float = Field(
        default=_POLICY_DEFAULTS.latency_usd_per_s, ge=0, allow_inf_nan=False
    )
    cloud_usd_weight: float = Field(
        default=_POLICY_DEFAULTS.cloud_usd_weight, ge=0, allow_inf_nan=False
    )
    base_rtts_ms: list[float] = Field(default_factory=lambda: [40.0, 80.0, 150.0], min_length=1)
    workloads: dict[str, ArrivalProcess] = Field(default_factory=_default_workloads, min_length=1)
    window_s: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    network_forecast: TraceForecast = "causal"
    budget_cloud_share: float = Field(default=0.5, ge=0, le=1)
    budget_window_steps: int = Field(default=50, gt=0)
    sweep_points: int = Field(default=21, ge=2)
    cloud_weight_sweep: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0]
    )
    random_shares: list[float] = Field(
        default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    )
    fallback_on_invalid: bool = True

    @field_validator("base_rtts_ms")
    @classmethod
    def _rtts_non_negative(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0 <= value < 10_000:
                raise ValueError(f"base_rtts_ms values must be in [0, 10000) ms, got {value!r}")
        return values

    @field_validator("cloud_weight_sweep")
    @classmethod
    def _weights_non_negative(cls, values: list[float]) -> list[float]:
        if any(not 0 <= v < float("inf") for v in values):
            raise ValueError(f"cloud_weight_sweep values must be finite and >= 0, got {values}")
        return values

    @field_validator("random_shares")
    @classmethod
    def _shares_in_range(cls, values: list[float]) -> list[float]:
        if any(not 0 <= v <= 1 for v in values):
            raise ValueError(f"random_shares values must lie in [0, 1], got {values}")
        return values


@dataclass(frozen=True, slots=True)
class ReplayTask:
    """One task ready to replay: its features, scores and recorded outcomes.

    Attributes:
        task: The BFCL task.
        features: Request features of its first turn with its tools.
        edge: The recorded edge outcome.
        cloud: A recorded cloud outcome, or ``None`` to simulate the cloud from ground truth.
        scores: Edge-success score per scorer name (filled once the scorers exist).
    """

    task: BfclTask
    features: RequestFeatures
    edge: EdgeOutcome
    cloud: EdgeOutcome | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def edge_service_s(self, profile: SideProfile | None) -> float:
        """Edge service time: recorded, or from the recorded tokens at ``profile``'s speed."""
        if profile is None:
            return self.edge.latency_s
        return (
            profile.overhead_s
            + self.edge.input_tokens / profile.prefill_tokens_per_s
            + self.edge.output_tokens / profile.decode_tokens_per_s
        )

    @property
    def edge_valid(self) -> bool:
        """The edge's answer was schema-valid, or a correct abstention."""
        return self.edge.schema_valid or (self.edge.correct and not self.edge.made_call)


def _messages(task: BfclTask) -> list[BaseMessage]:
    return [
        SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
        for m in task.messages
    ]


def prepare_tasks(
    tasks: Sequence[BfclTask],
    edge: Mapping[str, EdgeOutcome],
    cloud: Mapping[str, EdgeOutcome] | None = None,
) -> list[ReplayTask]:
    """The tasks that have a recorded edge outcome (and a cloud one, when cloud rows are given).

    Tasks without an outcome (a recording still running) are left out; compare the lengths to
    report coverage.
    """
    out: list[ReplayTask] = []
    for task in tasks:
        outcome = edge.get(task.id)
        if outcome is None or (cloud is not None and task.id not in cloud):
            continue
        features = RequestFeatures.from_messages(
            _messages(task), ToolsSummary.from_tools(task.tools)
        )
        out.append(ReplayTask(task, features, outcome, None if cloud is None else cloud[task.id]))
    return out


def split_tasks(
    tasks: Sequence[ReplayTask], *, test_fraction: float, seed: int
) -> tuple[list[ReplayTask], list[ReplayTask]]:
    """Split by task id into (train, test), stratified by category, seeded.

    Each category is shuffled with its own seeded generator and its first
    ``round(n * test_fraction)`` tasks (at least one, and at least one left to train when the
    category has two or more) go to the test split.
    """
    return split_by_category(
        tasks,
        id_of=lambda t: t.task.id,
        category_of=lambda t: t.task.category,
        test_fraction=test_fraction,
        seed=seed,
    )


@dataclass(frozen=True, slots=True)
class TraceSpec:
    """A network trace: its name and its downlink and uplink files."""

    name: str
    down: Path
    up: Path


def pair_traces(paths: Sequence[str | Path]) -> list[TraceSpec]:
    """Group mahimahi files into traces: ``X.down`` and ``X.up`` make one trace ``X``.

    A file without a partner (or without a ``.down``/``.up`` suffix) serves both directions.

    Raises:
        FileNotFoundError: A path does not exist.
    """
    groups: dict[str, dict[str, Path]] = {}
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise FileNotFoundError(f"trace file {str(path)!r} does not exist")
        if path.suffix in (".down", ".up"):
            groups.setdefault(path.stem, {})[path.suffix[1:]] = path
        else:
            groups.setdefault(path.name, {})["both"] = path
    specs: list[TraceSpec] = []
    for name in sorted(groups):
        files = groups[name]
        down = files.get("down") or files.get("both") or files["up"]
        up = files.get("up") or files.get("both") or down
        specs.append(TraceSpec(name, down, up))
    return specs


class Scenario:
    """A trace with its base RTT under one arrival process, ready to replay.

    Args:
        trace: The trace files.
        base_rtt_ms: Propagation RTT of the scenario.
        workload_name: Name of the arrival process.
        workload: The arrival process.
        window_s: Bandwidth averaging window of the monitor.
        forecast: What the monitor tells the policies (see :attr:`BenchConfig.network_forecast`).
    """

    def __init__(
        self,
        trace: TraceSpec,
        *,
        base_rtt_ms: float,
        workload_name: str,
        workload: PoissonArrivals | BurstyArrivals,
        window_s: float = 1.0,
        forecast: TraceForecast = "causal",
    ) -> None:
        self.trace = trace
        self.base_rtt_ms = base_rtt_ms
        self.workload_name = workload_name
        self.workload = workload
        self.monitor = NetworkMonitor.from_trace(
            trace.down,
            trace.up,
            base_rtt_ms=base_rtt_ms,
            window_s=window_s,
            clock=lambda: 0.0,
            forecast=forecast,
        )
        self.down = LinkTrace.from_file(trace.down)
        self.up = self.down if trace.up == trace.down else LinkTrace.from_file(trace.up)

    @property
    def name(self) -> str:
        """``trace/rtt/workload`` label."""
        return f"{self.trace.name} rtt={self.base_rtt_ms:g}ms {self.workload_name}"

    def network(self, at_s: float, payload_bytes: int) -> NetworkState:
        """What the monitor reports at ``at_s`` for a payload of ``payload_bytes``."""
        return self.monitor.state(at_s=at_s, payload_bytes=payload_bytes)

    def cloud_latency_s(
        self, *, at_s: float, up_bytes: int, down_bytes: int, compute_s: float
    ) -> float:
        """Upload over the trace, base RTT, cloud compute, download over the trace."""
        up_s = self.up.delivery_time_s(start_s=at_s, nbytes=up_bytes)
        ready = at_s + up_s + self.base_rtt_ms / 1000 + compute_s
        down_s = self.down.delivery_time_s(start_s=ready, nbytes=down_bytes)
        return ready + down_s - at_s


@dataclass(slots=True)
class StepView:
    """What a replay policy may look at for one step (and, for the oracle only, the outcomes).

    Attributes:
        item: The task (features, scores; its outcomes are for the oracle alone).
        at_s: Arrival time.
        network: Network state from the monitor at arrival.
        edge_wait_s: How long the edge queue would make the step wait.
        cloud_correct: Whether the cloud would answer right (for the oracle alone).
    """

    item: ReplayTask
    at_s: float
    network: NetworkState
    edge_wait_s: float
    cloud_correct: bool


ChooseFn = Callable[[StepView], str]
"""Picks ``"edge"`` or ``"cloud"`` for a step."""


_RESPONSE_ENVELOPE_BYTES = 400
_BYTES_PER_OUTPUT_TOKEN = 6.0


def cloud_draws(tasks: Sequence[ReplayTask], config: BenchConfig) -> dict[str, bool]:
    """Whether the cloud answers each task right: recorded, or one seeded draw per task."""
    out: dict[str, bool] = {}
    for item in tasks:
        if item.cloud is not None:
            out[item.task.id] = item.cloud.correct
        else:
            u = random.Random(stable_seed(config.seed, "cloud", item.task.id)).random()
            out[item.task.id] = u < config.cloud_accuracy
    return out


def _cloud_call(
    item: ReplayTask,
    at_s: float,
    scenario: Scenario,
    config: BenchConfig,
    correct_in_cloud: bool,
) -> tuple[float, float, bool, bool]:
    """A cloud call started at ``at_s``: (latency, price, correct, valid)."""
    cloud = config.cloud
    source = item.cloud or item.edge
    out_tokens = source.output_tokens
    in_tokens = source.input_tokens or item.features.prompt_tokens
    if item.cloud is not None and item.cloud.generation_time_s > 0:
        compute = item.cloud.generation_time_s
    else:
        compute = (
            cloud.overhead_s
            + in_tokens / cloud.prefill_tokens_per_s
            + out_tokens / cloud.decode_tokens_per_s
        )
    latency = scenario.cloud_latency_s(
        at_s=at_s,
        up_bytes=item.features.payload_bytes,
        down_bytes=int(_RESPONSE_ENVELOPE_BYTES + out_tokens * _BYTES_PER_OUTPUT_TOKEN),
        compute_s=compute,
    )
    price = (
        in_tokens * cloud.usd_per_1k_input_tokens + out_tokens * cloud.usd_per_1k_output_tokens
    ) / 1000
    # A wrong simulated cloud answer is a plausible wrong call: schema-valid, wrong values.
    valid = True if item.cloud is None else item.cloud.schema_valid or item.cloud.correct
    return latency, price, correct_in_cloud, valid


def replay(
    tasks: Sequence[ReplayTask],
    arrivals: Sequence[float],
    scenario: Scenario,
    choose: ChooseFn,
    config: BenchConfig,
    cloud_correct: Mapping[str, bool],
    *,
    fallback: bool | None = None,
) -> list[StepResult]:
    """Replay one policy: ``tasks[i]`` arrives at ``arrivals[i]``.

    ``fallback`` (default: ``config.fallback_on_invalid``) sends an invalid edge answer on to
    the cloud.

    Raises:
        ValueError: The lengths differ or the policy names an unknown target.
    """
    if len(tasks) != len(arrivals):
        raise ValueError(f"{len(tasks)} tasks but {len(arrivals)} arrival times")
    queue = EdgeQueue()
    fallback = config.fallback_on_invalid if fallback is None else fallback
    v, lt, lc = config.value_correct_usd, config.latency_usd_per_s, config.cloud_usd_weight
    results: list[StepResult] = []
    for item, at_s in zip(tasks, arrivals, strict=True):
        network = scenario.network(at_s, item.features.payload_bytes)
        correct_in_cloud = cloud_correct[item.task.id]
        view = StepView(item, at_s, network, queue.wait_s(at_s), correct_in_cloud)
        target = choose(view)
        wait = 0.0
        fell_back = False
        if target == "edge":
            service = item.edge_service_s(config.edge_profile)
            wait = queue.serve(at_s=at_s, service_s=service)
            latency = wait + service
            correct, valid, price = item.edge.correct, item.edge_valid, 0.0
            if fallback and not valid:
                fell_back = True
                cloud_s, price, correct, valid = _cloud_call(
                    item, at_s + latency, scenario, config, correct_in_cloud
                )
                latency += cloud_s
        elif target == "cloud":
            latency, price, correct, valid = _cloud_call(
                item, at_s, scenario, config, correct_in_cloud
            )
        else:
            raise ValueError(f"policy chose unknown target {target!r}; expected 'edge' or 'cloud'")
        results.append(
            StepResult(
                task_id=item.task.id,
                target=target,
                correct=correct,
                valid=valid,
                latency_s=latency,
                price_usd=price,
                utility=v * correct - lt * latency - lc * price,
                edge_wait_s=wait,
                fallback=fell_back,
            )
        )
    return results
