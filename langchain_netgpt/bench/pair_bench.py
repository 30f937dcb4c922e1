"""The replay benchmark over pair-outcome files: tasks, service times, scorers, replay.

Each row of a pair-outcome file (:mod:`~langchain_netgpt.recorded.pair_outcomes`) becomes a
:class:`PairTask`: its request features, its text, both sides' quality and both sides' tokens
(the recorded answers tokenised with each model's own tokeniser; where a side recorded no answer,
its output length is the train half's mean for that side, stated in the report). A multi-turn
row is one routed dialogue: the side that takes the first turn answers every later turn (its
KV cache stays warm; the cloud is called once per turn, each call paying the network), and each
later answer is as long as that side's first one.

The scenario machinery is the BFCL replay's (:mod:`~langchain_netgpt.bench.replay`): a mahimahi
trace with a base RTT under an arrival process, a causal network forecast, one FIFO edge server.
What a policy may see is what a deployed router knows (features, scores, the forecast, the edge
queue); outcomes are the recorded ones.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_bench import PairBenchConfig

        config = PairBenchConfig(seeds=[0])
        assert config.value_correct_usd == 0.05
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_netgpt.bench.pair_profiles import (
    DEFAULT_CLOUD_PROFILE,
    DEFAULT_EDGE_PROFILE,
    PAIR_PROFILES,
    PairSideProfile,
    token_counter,
)
from langchain_netgpt.bench.replay import Scenario, stable_seed
from langchain_netgpt.bench.workload import ArrivalProcess, EdgeQueue
from langchain_netgpt.recorded.pair_outcomes import PairRow, pair_features, pair_text
from langchain_netgpt.routing.decision import CLOUD, decide_route
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.latency import LatencyEstimate, LatencyModel
from langchain_netgpt.routing.network import NetworkState, TraceForecast

__all__ = [
    "DEFAULT_VALUE_REASON",
    "PairBenchConfig",
    "PairTask",
    "ReplayArrays",
    "ScenarioSteps",
    "build_pair_tasks",
    "replay_pairs",
]

DEFAULT_VALUE_REASON = (
    "V = $0.05 per right answer, fixed from the pair's list prices before any test half was "
    "read: on the train half of seed 0, GPT-4-1106 costs $0.0043 per GSM8K question at $10/$30 "
    "per million tokens, so at V = $0.05 a cloud call pays for itself when it raises the chance "
    "of a right answer by about 9 points (0.0043 / 0.05), well under the pair's 25-point mean "
    "gap (always-edge is not optimal) yet far from free (always-cloud is not either). lambda_t = "
    "$0.0005/s is NetGPTPolicy's default (a second of waiting is worth $1.80 an hour); lambda_c = "
    "1 counts cloud dollars at face value."
)
"""Why the default prices are what they are (printed in every pairs report)."""


def _default_workloads() -> dict[str, Any]:
    from langchain_netgpt.bench.workload import BurstyArrivals, PoissonArrivals

    return {
        # About a third of one Mixtral GPU's capacity if every question stayed on the edge.
        "poisson": PoissonArrivals(rate_per_s=0.2),
        # The same mean load in bursts of ~8 questions in 10 s, then 40 s of near silence.
        "bursty": BurstyArrivals(
            on_rate_per_s=0.8, off_rate_per_s=0.05, mean_on_s=10.0, mean_off_s=40.0
        ),
    }


class PairBenchConfig(BaseModel):
    """Everything a ``--pairs`` run depends on besides its files (same config, same report).

    Args:
        seeds: One train/test split (and arrivals, random draws) per seed.
        test_fraction: Held-out share of each category.
        drop_contaminated: Leave out rows marked ``contaminated`` (RouteLLM's decontaminated set).
        edge_profile: Name in :data:`~langchain_netgpt.bench.pair_profiles.PAIR_PROFILES`.
        cloud_profile: Name in the same table.
        value_correct_usd: ``V``, value of a right answer (see :data:`DEFAULT_VALUE_REASON`).
        latency_usd_per_s: ``lambda_t``.
        cloud_usd_weight: ``lambda_c``.
        latency_price_grid: ``lambda_t`` values of the economics table.
        value_grid: ``V`` values of the economics table.
        base_rtts_ms: Base RTT per trace, in order (cycled).
        workloads: Arrival processes by name.
        window_s: Bandwidth averaging window of the monitor.
        network_forecast: What the policies are told about the link (``"causal"``).
        embedders: Text representations of the text-aware scorer.
        sweep_points: Thresholds per fixed-threshold sweep.
        bootstrap: Bootstrap resamples per interval.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)
    test_fraction: float = Field(default=0.5, gt=0, lt=1)
    drop_contaminated: bool = True
    edge_profile: str = DEFAULT_EDGE_PROFILE
    cloud_profile: str = DEFAULT_CLOUD_PROFILE
    value_correct_usd: float = Field(default=0.05, gt=0, allow_inf_nan=False)
    latency_usd_per_s: float = Field(default=0.0005, ge=0, allow_inf_nan=False)
    cloud_usd_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    latency_price_grid: list[float] = Field(default_factory=lambda: [0.0, 0.0005, 0.001, 0.002])
    value_grid: list[float] = Field(default_factory=lambda: [0.01, 0.02, 0.05, 0.1, 0.2])
    base_rtts_ms: list[float] = Field(default_factory=lambda: [40.0, 80.0, 150.0], min_length=1)
    workloads: dict[str, ArrivalProcess] = Field(default_factory=_default_workloads, min_length=1)
    window_s: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    network_forecast: TraceForecast = "causal"
    embedders: list[str] = Field(default_factory=lambda: ["minilm", "hashed"], min_length=1)
    sweep_points: int = Field(default=21, ge=2)
    bootstrap: int = Field(default=1000, ge=100)

    @field_validator("edge_profile", "cloud_profile")
    @classmethod
    def _known_profile(cls, name: str) -> str:
        if name not in PAIR_PROFILES:
            raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PAIR_PROFILES)}")
        return name

    @field_validator("latency_price_grid", "value_grid", "base_rtts_ms")
    @classmethod
    def _finite_non_negative(cls, values: list[float]) -> list[float]:
        if not values or any(not 0 <= v < float("inf") for v in values):
            raise ValueError(f"values must be finite and >= 0, got {values}")
        return values

    @property
    def edge(self) -> PairSideProfile:
        """The edge's speed profile."""
        return PAIR_PROFILES[self.edge_profile]

    @property
    def cloud(self) -> PairSideProfile:
        """The cloud's speed and price profile."""
        return PAIR_PROFILES[self.cloud_profile]


@dataclass(frozen=True, slots=True)
class SideTokens:
    """One side's tokens: the first turn's input, each later turn's new input, the answer.

    ``output`` is ``None`` where the side recorded no answer (estimated per split).
    """

    first_input: int
    later_inputs: tuple[int, ...]
    output: int | None


@dataclass(slots=True)
class PairTask:
    """One row ready to replay."""

    row: PairRow
    features: RequestFeatures
    text: str
    edge_quality: float
    cloud_quality: float
    edge_tokens: SideTokens
    cloud_tokens: SideTokens
    later_turn_bytes: tuple[int, ...]
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The row's id."""
        return self.row.id

    @property
    def category(self) -> str:
        """The row's category."""
        return self.row.category


def _side_tokens(row: PairRow, response: str | None, count: Callable[[str], int]) -> SideTokens:
    first = sum(count(m.content) for m in row.messages) + 4 * len(row.messages)
    if row.tools:
        import json

        first += count(json.dumps(row.tools, separators=(",", ":")))
    later = tuple(count(t) + 4 for t in row.later_user_turns)
    return SideTokens(first, later, None if response is None else count(response))


def build_pair_tasks(
    rows: Sequence[PairRow], edge: PairSideProfile, cloud: PairSideProfile
) -> list[PairTask]:
    """Features, text and tokens of every row (tokens with each side's own tokeniser)."""
    count_edge, count_cloud = token_counter(edge.tokenizer), token_counter(cloud.tokenizer)
    tasks = []
    for row in rows:
        tasks.append(
            PairTask(
                row=row,
                features=pair_features(row),
                text=pair_text(row),
                edge_quality=row.edge.quality,
                cloud_quality=row.cloud.quality,
                edge_tokens=_side_tokens(row, row.edge.response, count_edge),
                cloud_tokens=_side_tokens(row, row.cloud.response, count_cloud),
                later_turn_bytes=tuple(30 + len(t.encode()) for t in row.later_user_turns),
            )
        )
    return tasks


def output_estimates(train: Sequence[PairTask]) -> tuple[int, int, str]:
    """Mean recorded output tokens of each side on ``train`` (256 where none was recorded)."""
    edge = [t.edge_tokens.output for t in train if t.edge_tokens.output is not None]
    cloud = [t.cloud_tokens.output for t in train if t.cloud_tokens.output is not None]
    e = round(sum(edge) / len(edge)) if edge else 256
    c = round(sum(cloud) / len(cloud)) if cloud else 256
    how = (
        f"a side's missing answer is estimated at that side's mean recorded length on the train "
        f"half ({e} edge / {c} cloud tokens; 256 where a side recorded no answer at all)"
    )
    return e, c, how


@dataclass(frozen=True, slots=True)
class ScenarioSteps:
    """Everything about the test steps of one scenario that does not depend on the policy."""

    tasks: list[PairTask]
    arrivals: list[float]
    networks: list[NetworkState]
    estimates: list[LatencyEstimate]
    edge_service_s: list[float]
    cloud_latency_s: list[float]
    cloud_price_usd: list[float]

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        test: Sequence[PairTask],
        config: PairBenchConfig,
        latency_model: LatencyModel,
        outputs: tuple[int, int],
        seed: int,
    ) -> ScenarioSteps:
        """Order the test steps, draw arrivals and precompute network, service and cloud time."""
        order = list(test)
        random.Random(stable_seed(seed, "order", scenario.name)).shuffle(order)
        arrivals = scenario.workload.times(
            len(order), random.Random(stable_seed(seed, "arrivals", scenario.name))
        )
        edge, _cloud = config.edge.side, config.cloud.side
        networks, estimates, services, latencies, prices = [], [], [], [], []
        for item, at in zip(order, arrivals, strict=True):
            network = scenario.network(at, item.features.payload_bytes)
            networks.append(network)
            estimates.append(latency_model.estimate(item.features, network))
            e_out = item.edge_tokens.output if item.edge_tokens.output is not None else outputs[0]
            c_out = item.cloud_tokens.output if item.cloud_tokens.output is not None else outputs[1]
            service = edge.overhead_s + item.edge_tokens.first_input / edge.prefill_tokens_per_s
            service += e_out / edge.decode_tokens_per_s
            for new in item.edge_tokens.later_inputs:
                service += edge.overhead_s + new / edge.prefill_tokens_per_s
                service += e_out / edge.decode_tokens_per_s
            services.append(service)
            latency, price = _cloud_dialogue(scenario, item, at, c_out, config)
            latencies.append(latency)
            prices.append(price)
        return cls(order, arrivals, networks, estimates, services, latencies, prices)


_ENVELOPE_BYTES = 400
_BYTES_PER_TOKEN = 6.0


def _cloud_dialogue(
    scenario: Scenario, item: PairTask, at: float, out_tokens: int, config: PairBenchConfig
) -> tuple[float, float]:
    """Latency and price of the whole dialogue in the cloud, started at ``at``."""
    side = config.cloud.side
    tokens = item.cloud_tokens
    up_bytes = item.features.payload_bytes
    context = tokens.first_input
    clock = at
    price = 0.0
    inputs = (tokens.first_input, *tokens.later_inputs)
    for turn, new in enumerate(inputs):
        if turn:
            context += out_tokens + new
            up_bytes += int(out_tokens * _BYTES_PER_TOKEN) + item.later_turn_bytes[turn - 1]
        compute = side.overhead_s + new / side.prefill_tokens_per_s
        compute += out_tokens / side.decode_tokens_per_s
        clock += scenario.cloud_latency_s(
            at_s=clock,
            up_bytes=up_bytes,
            down_bytes=int(_ENVELOPE_BYTES + out_tokens * _BYTES_PER_TOKEN),
            compute_s=compute,
        )
        price += (
            context * side.usd_per_1k_input_tokens + out_tokens * side.usd_per_1k_output_tokens
        ) / 1000
    return clock - at, price


@dataclass(frozen=True, slots=True)
class ReplayArrays:
    """Per-step outcomes of one policy's replay (in the scenario's step order)."""

    cloud: list[bool]
    quality: list[float]
    latency_s: list[float]
    price_usd: list[float]

    def utility(
        self, value_usd: float, latency_usd_per_s: float, cloud_usd_weight: float
    ) -> list[float]:
        """Per-step utility ``V * quality - lambda_t * latency - lambda_c * price``."""
        return [
            value_usd * q - latency_usd_per_s * lat - cloud_usd_weight * p
            for q, lat, p in zip(self.quality, self.latency_s, self.price_usd, strict=True)
        ]


ChooseStep = Callable[[int, float], bool]
"""``choose(step_index, edge_wait_s) -> True`` to send the step to the cloud."""


def replay_pairs(steps: ScenarioSteps, choose: ChooseStep) -> ReplayArrays:
    """Replay one policy over the scenario's steps (one FIFO edge server)."""
    queue = EdgeQueue()
    cloud, quality, latency, price = [], [], [], []
    for i, (item, at) in enumerate(zip(steps.tasks, steps.arrivals, strict=True)):
        to_cloud = choose(i, queue.wait_s(at))
        cloud.append(to_cloud)
        if to_cloud:
            quality.append(item.cloud_quality)
            latency.append(steps.cloud_latency_s[i])
            price.append(steps.cloud_price_usd[i])
        else:
            service = steps.edge_service_s[i]
            wait = queue.serve(at_s=at, service_s=service)
            quality.append(item.edge_quality)
            latency.append(wait + service)
            price.append(0.0)
    return ReplayArrays(cloud, quality, latency, price)


def threshold_policy(steps: ScenarioSteps, scorer: str, threshold: float) -> ChooseStep:
    """Cloud iff the step's score is below ``threshold`` (network- and queue-blind)."""
    scores = [item.scores[scorer] for item in steps.tasks]
    return lambda i, wait: decide_route(scores[i], threshold).target == CLOUD


def netgpt_closed_form(
    steps: ScenarioSteps,
    scorer: str,
    *,
    value_usd: float,
    latency_usd_per_s: float,
    cloud_usd_weight: float,
    cloud_quality: float,
    latency_model: LatencyModel,
    see_network: bool = True,
    see_queue: bool = True,
) -> ChooseStep:
    """NetGPT's closed form: cloud iff ``s < tau(network, queue)`` at these prices.

    ``see_network=False`` (an ablation) shows the policy one fixed, typical link (the network
    state of the step whose expected cloud latency is the scenario's median) instead of the
    forecast at each step; ``see_queue=False`` hides the edge queue's wait.
    """
    from langchain_netgpt.routing.policy import NetGPTPolicy

    policy = NetGPTPolicy(
        value_correct_usd=value_usd,
        latency_usd_per_s=latency_usd_per_s,
        cloud_usd_weight=cloud_usd_weight,
        cloud_quality=cloud_quality,
        latency_model=latency_model,
    )
    scores = [item.scores[scorer] for item in steps.tasks]
    estimates = steps.estimates
    if not see_network:
        by_cloud_s = sorted(range(len(estimates)), key=lambda i: (estimates[i].cloud_s, i))
        typical = steps.networks[by_cloud_s[len(by_cloud_s) // 2]]
        estimates = [latency_model.estimate(t.features, typical) for t in steps.tasks]

    def choose(i: int, wait: float) -> bool:
        # The edge queue is part of the edge's latency: a busy edge raises the bar for staying.
        est = estimates[i]
        if see_queue:
            est = replace(est, edge_s=est.edge_s + wait)
        return decide_route(scores[i], policy.raw_threshold(est)).target == CLOUD

    return choose
