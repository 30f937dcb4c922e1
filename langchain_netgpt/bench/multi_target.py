"""Several targets under load: a discrete-event simulation of QoS routing over BFCL tasks.

Two edge experts and a cloud serve a stream of BFCL tool-calling tasks arriving Poisson or in
bursts. What is measured and what is modelled:

* **Expert ``edge-grammar``** is the bundled SmolLM2-135M with schema-constrained decoding: its
  per-task correctness and token counts are the **recorded** outcomes
  (``bench/data/edge_outcomes_smollm2_135m.jsonl``); its service time is **modelled** from those
  tokens at a small-GPU edge speed (:data:`~langchain_netgpt.routing.latency.DEFAULT_EDGE`).
* **Expert ``edge-short``** is the same model with a smaller generation budget on a 2x faster
  device (**modelled**): a task whose recorded answer needs more than ``short_budget_tokens``
  tokens is cut short (counted wrong); the others keep their recorded verdict.
* **The cloud** answers right with probability ``cloud_accuracy`` (one seeded draw per task);
  its latency is the upload and download over a **real** mahimahi LTE trace plus base RTT and
  compute at gpt-4o-mini speed; it costs gpt-4o-mini list prices.
* **Load and interference (modelled):** an edge expert runs ``concurrency`` requests at once,
  each slowed by ``interference`` per other running request (batch slowdown); more wait FIFO. The
  policy learns service times from completions
  (:class:`~langchain_netgpt.routing.targets.LoadTracker`) and is given the same concurrency and
  interference it is simulated with.

Every policy sees the same arrivals, tasks and cloud draws. A step is scored with
``V*correct - lambda_t*latency - lambda_c*price - P*slo_violated`` (the QoS it delivers).

Example:
    .. code-block:: python

        from langchain_netgpt.bench.multi_target import MultiTargetConfig

        config = MultiTargetConfig(requests=50)
        assert config.short_budget_tokens < 96
"""

from __future__ import annotations

import heapq
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.bench.replay import (
    BenchConfig,
    ReplayTask,
    Scenario,
    cloud_draws,
    pair_traces,
    prepare_tasks,
    split_tasks,
)
from langchain_netgpt.bench.workload import ArrivalProcess, BurstyArrivals, PoissonArrivals
from langchain_netgpt.recorded.bfcl_tasks import load_bfcl
from langchain_netgpt.recorded.edge_outcomes import load_edge_outcomes
from langchain_netgpt.routing.latency import DEFAULT_CLOUD, DEFAULT_EDGE, LatencyModel, SideProfile
from langchain_netgpt.routing.network import TraceForecast
from langchain_netgpt.routing.policy import NetGPTPolicy
from langchain_netgpt.routing.qos import (
    LeastLoadedPolicy,
    MultiTargetPolicy,
    QoSPolicy,
    RandomTargetPolicy,
    RoundRobinPolicy,
)
from langchain_netgpt.routing.targets import LoadTracker, TargetSpec

__all__ = [
    "MultiTargetConfig",
    "MultiTargetResult",
    "multi_target_bench_row",
    "run_multi_target",
]

GRAMMAR, SHORT, CLOUD = "edge-grammar", "edge-short", "cloud"
_FAST_EDGE = SideProfile(
    overhead_s=0.03, prefill_tokens_per_s=8000.0, decode_tokens_per_s=160.0, prompt_cache=True
)


def _workloads() -> dict[str, PoissonArrivals | BurstyArrivals]:
    return {
        "poisson": PoissonArrivals(rate_per_s=3.0),
        "bursty": BurstyArrivals(
            on_rate_per_s=10.0, off_rate_per_s=1.0, mean_on_s=5.0, mean_off_s=15.0
        ),
    }


class MultiTargetConfig(BaseModel):
    """Everything the simulation depends on besides its files (same config, same numbers).

    Args:
        seed: Seeds the split, the arrivals, the task draws, the cloud draws and random policies.
        requests: Requests per workload (tasks drawn with replacement from the test split).
        workloads: Arrival processes by name.
        base_rtt_ms: Propagation RTT added to the trace.
        network_forecast: What the policies are told about the link (see
            :attr:`~langchain_netgpt.bench.replay.BenchConfig.network_forecast`). ``"oracle"``
            (the trace read ahead) by default: the published multi-target tables were measured
            with it; ``"causal"`` gives the policies only what a deployed router knows.
        cloud_accuracy: Probability the cloud answers a task right.
        value_correct_usd: ``V``.
        latency_usd_per_s: ``lambda_t``.
        cloud_usd_weight: ``lambda_c``.
        slo_penalty_usd: Cost of a missed SLO (in the score and in the QoS policy).
        edge_slo_s: Latency SLO of both edge experts.
        cloud_slo_s: Latency SLO of the cloud.
        grammar_concurrency: Requests ``edge-grammar`` serves at once.
        short_concurrency: Requests ``edge-short`` serves at once.
        interference: Batch slowdown per extra concurrent request on an edge expert.
        short_budget_tokens: ``edge-short``'s generation budget.
        policy_interference: The interference the QoS policy assumes (``None``: the simulated
            one; 0 shows what a policy blind to batch slowdown loses).

    Raises:
        pydantic.ValidationError: A value is out of range (the message names the field).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    requests: int = Field(default=600, ge=10, le=100_000)
    workloads: dict[str, ArrivalProcess] = Field(default_factory=_workloads, min_length=1)
    base_rtt_ms: float = Field(default=80.0, ge=0, allow_inf_nan=False)
    network_forecast: TraceForecast = "oracle"
    cloud_accuracy: float = Field(default=0.9, ge=0, le=1)
    value_correct_usd: float = Field(default=0.002, gt=0, allow_inf_nan=False)
    latency_usd_per_s: float = Field(default=0.0005, ge=0, allow_inf_nan=False)
    cloud_usd_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    slo_penalty_usd: float = Field(default=0.001, ge=0, allow_inf_nan=False)
    edge_slo_s: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    cloud_slo_s: float = Field(default=3.0, gt=0, allow_inf_nan=False)
    grammar_concurrency: int = Field(default=2, ge=1)
    short_concurrency: int = Field(default=2, ge=1)
    interference: float = Field(default=0.3, ge=0, le=10, allow_inf_nan=False)
    short_budget_tokens: int = Field(default=48, ge=1)
    policy_interference: float | None = Field(default=None, ge=0, le=10, allow_inf_nan=False)


@dataclass(slots=True)
class _Job:
    index: int
    target: str
    at_s: float
    remaining_s: float = 0.0  # work left, in seconds of service alone
    started_s: float = -1.0
    concurrent: int = 1


@dataclass(slots=True)
class _Expert:
    spec: TargetSpec
    running: list[_Job] = field(default_factory=list)
    queue: list[_Job] = field(default_factory=list)
    busy_s: float = 0.0  # integral of running/concurrency over time

    def slowdown(self) -> float:
        return 1.0 + self.spec.interference * max(0, len(self.running) - 1)


@dataclass(frozen=True, slots=True)
class MultiTargetResult:
    """One policy under one workload.

    Attributes:
        policy: Policy name.
        workload: Workload name.
        mean_qos_usd: Mean score per step (utility with the SLO penalty).
        accuracy: Share of steps answered right.
        slo_violation_rate: Share of steps slower than their target's SLO.
        p50_s: Median latency.
        p95_s: 95th-percentile latency.
        share: Share of steps per target.
        utilisation: Edge experts: time-average share of their slots busy; cloud: share of steps.
        cloud_usd: Total cloud spend.
    """

    policy: str
    workload: str
    mean_qos_usd: float
    accuracy: float
    slo_violation_rate: float
    p50_s: float
    p95_s: float
    share: dict[str, float]
    utilisation: dict[str, float]
    cloud_usd: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "policy": self.policy,
            "workload": self.workload,
            "mean_qos_usd": self.mean_qos_usd,
            "accuracy": self.accuracy,
            "slo_violation_rate": self.slo_violation_rate,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "share": self.share,
            "utilisation": self.utilisation,
            "cloud_usd": self.cloud_usd,
        }


@dataclass(frozen=True, slots=True)
class _Outcome:
    correct: bool
    service_s: float


def _expert_outcomes(item: ReplayTask, config: MultiTargetConfig) -> dict[str, _Outcome]:
    e = item.edge
    grammar = _Outcome(e.correct, item.edge_service_s(DEFAULT_EDGE))
    budget = config.short_budget_tokens
    out_tokens = min(e.output_tokens, budget)
    short_s = (
        _FAST_EDGE.overhead_s
        + e.input_tokens / _FAST_EDGE.prefill_tokens_per_s
        + out_tokens / _FAST_EDGE.decode_tokens_per_s
    )
    return {GRAMMAR: grammar, SHORT: _Outcome(e.correct and e.output_tokens <= budget, short_s)}


def _category_quality(
    train: Sequence[ReplayTask], config: MultiTargetConfig
) -> dict[str, dict[str, float]]:
    """Per-expert accuracy by category on the train split (the policies' quality estimate)."""
    counts: dict[str, dict[str, list[int]]] = {}
    for item in train:
        for name, outcome in _expert_outcomes(item, config).items():
            c = counts.setdefault(name, {}).setdefault(item.task.category, [0, 0])
            c[0] += outcome.correct
            c[1] += 1
    return {
        name: {cat: (ok + 1) / (n + 2) for cat, (ok, n) in by_cat.items()}  # Laplace-smoothed
        for name, by_cat in counts.items()
    }


def _targets(
    config: MultiTargetConfig, *, interference: float | None = None
) -> dict[str, TargetSpec]:
    beta = config.interference if interference is None else interference
    return {
        GRAMMAR: TargetSpec(
            kind="edge",
            slo_s=config.edge_slo_s,
            concurrency=config.grammar_concurrency,
            interference=beta,
            profile=DEFAULT_EDGE,
        ),
        SHORT: TargetSpec(
            kind="edge",
            slo_s=config.edge_slo_s,
            concurrency=config.short_concurrency,
            interference=beta,
            profile=_FAST_EDGE,
        ),
        CLOUD: TargetSpec(kind="cloud", slo_s=config.cloud_slo_s, profile=DEFAULT_CLOUD),
    }


ChooseFn = Callable[[ReplayTask, float, dict[str, float], LoadTracker], str]


def _policies(config: MultiTargetConfig, scenario: Scenario) -> dict[str, ChooseFn]:
    weights: dict[str, Any] = {
        "value_correct_usd": config.value_correct_usd,
        "latency_usd_per_s": config.latency_usd_per_s,
        "cloud_usd_weight": config.cloud_usd_weight,
        "cloud_quality": config.cloud_accuracy,
    }
    lm = LatencyModel(edge=DEFAULT_EDGE, cloud=DEFAULT_CLOUD)
    targets = _targets(config, interference=config.policy_interference)

    def ranked(policy: MultiTargetPolicy) -> ChooseFn:
        def choose(item: ReplayTask, at_s: float, q: dict[str, float], t: LoadTracker) -> str:
            net = scenario.network(at_s, item.features.payload_bytes)
            return policy.rank(targets, q, t.snapshot(), item.features, net).ranking[0]

        return choose

    two = NetGPTPolicy(latency_model=lm, **weights)

    def two_target(item: ReplayTask, at_s: float, q: dict[str, float], t: LoadTracker) -> str:
        net = scenario.network(at_s, item.features.payload_bytes)
        return GRAMMAR if two.decide(item.features, q[GRAMMAR], net).target == "edge" else CLOUD

    qos = QoSPolicy(latency_model=lm, slo_penalty_usd=config.slo_penalty_usd, **weights)
    return {
        "qos": ranked(qos),
        "least-loaded": ranked(LeastLoadedPolicy(latency_model=lm)),
        "round-robin": ranked(RoundRobinPolicy(latency_model=lm)),
        "random": ranked(RandomTargetPolicy(latency_model=lm, seed=config.seed)),
        "netgpt-two-target": two_target,
    }


class _Simulation:
    """The state of one policy's pass: edge experts with their queues, the cloud in flight.

    Time only moves forward (:meth:`drain`); an edge expert shares its speed among its running
    jobs (batch slowdown), and a job waits FIFO when every slot is taken.
    """

    def __init__(
        self,
        steps: int,
        specs: dict[str, TargetSpec],
        scenario: Scenario,
        config: MultiTargetConfig,
    ) -> None:
        self.specs = specs
        self.scenario = scenario
        self.config = config
        self.tracker = LoadTracker(specs)
        self.experts = {n: _Expert(s) for n, s in specs.items() if s.kind == "edge"}
        self.latency: list[float] = [0.0] * steps
        self.correct: list[bool] = [False] * steps
        self.chosen: list[str] = [""] * steps
        self.cloud_done: list[tuple[float, int]] = []  # (finish time, step) heap
        self.cloud_usd = 0.0
        self.clock = 0.0

    def _advance(self, to_s: float) -> None:
        dt = to_s - self.clock
        for ex in self.experts.values():
            if ex.running and dt > 0:
                rate = 1.0 / ex.slowdown()
                for job in ex.running:
                    job.remaining_s -= dt * rate
                ex.busy_s += dt * len(ex.running) / (ex.spec.concurrency or 1)
        self.clock = to_s

    def _start(self, ex: _Expert, job: _Job) -> None:
        ex.running.append(job)
        job.started_s = self.clock

    def _next_edge_finish(self) -> tuple[float, str] | None:
        best: tuple[float, str] | None = None
        for n, ex in self.experts.items():
            if ex.running:
                left = min(j.remaining_s for j in ex.running) * ex.slowdown()
                t = self.clock + max(0.0, left)
                if best is None or t < best[0]:
                    best = (t, n)
        return best

    def _finish_edge(self, n: str) -> None:
        ex = self.experts[n]
        job = min(ex.running, key=lambda j: j.remaining_s)
        ex.running.remove(job)
        self.latency[job.index] = self.clock - job.at_s
        self.tracker.finish(n, elapsed_s=self.clock - job.started_s, concurrent=job.concurrent)
        if ex.queue:
            self._start(ex, ex.queue.pop(0))
        for j in ex.running:  # the request count each running job saw rises to its max
            j.concurrent = max(j.concurrent, len(ex.running))

    def drain(self, until_s: float) -> None:
        """Finish, in time order, every edge job and cloud call done by ``until_s``."""
        while True:
            edge_next = self._next_edge_finish()
            cloud_next = self.cloud_done[0][0] if self.cloud_done else None
            t_edge = edge_next[0] if edge_next is not None else None
            if (
                t_edge is not None
                and t_edge <= until_s
                and (cloud_next is None or t_edge <= cloud_next)
            ):
                self._advance(t_edge)
                self._finish_edge(edge_next[1])  # type: ignore[index]
            elif cloud_next is not None and cloud_next <= until_s:
                self._advance(cloud_next)
                _, i = heapq.heappop(self.cloud_done)
                self.tracker.finish(CLOUD, elapsed_s=self.latency[i])
            else:
                self._advance(until_s)
                return

    def send_to_cloud(self, i: int, at_s: float, item: ReplayTask, right: bool) -> None:
        """Step ``i`` goes to the cloud: its latency over the trace, its price, its verdict."""
        cloud = DEFAULT_CLOUD
        e = item.edge
        in_tok, out_tok = e.input_tokens or item.features.prompt_tokens, e.output_tokens
        compute = (
            cloud.overhead_s
            + in_tok / cloud.prefill_tokens_per_s
            + out_tok / cloud.decode_tokens_per_s
        )
        self.latency[i] = self.scenario.cloud_latency_s(
            at_s=at_s,
            up_bytes=item.features.payload_bytes,
            down_bytes=int(400 + out_tok * 6.0),
            compute_s=compute,
        )
        self.cloud_usd += (
            in_tok * cloud.usd_per_1k_input_tokens + out_tok * cloud.usd_per_1k_output_tokens
        ) / 1000
        self.correct[i] = right
        heapq.heappush(self.cloud_done, (at_s + self.latency[i], i))

    def send_to_edge(self, i: int, at_s: float, item: ReplayTask, target: str) -> None:
        """Step ``i`` goes to the edge expert ``target``: it runs now, or waits in the queue."""
        outcome = _expert_outcomes(item, self.config)[target]
        self.correct[i] = outcome.correct
        ex = self.experts[target]
        job = _Job(i, target, at_s, outcome.service_s)
        if len(ex.running) < (ex.spec.concurrency or 1):
            self._start(ex, job)
            for j in ex.running:
                j.concurrent = max(j.concurrent, len(ex.running))
        else:
            ex.queue.append(job)

    def result(
        self, name: str, workload: str, steps: Sequence[tuple[float, ReplayTask]]
    ) -> MultiTargetResult:
        """The pass scored: QoS, accuracy, SLO misses, latency percentiles, shares, load."""
        config, latency, correct, chosen = self.config, self.latency, self.correct, self.chosen
        makespan = max(at + lat for (at, _), lat in zip(steps, latency, strict=True))
        n = len(steps)
        slo = {t: s.slo_s for t, s in self.specs.items()}
        violated = [latency[i] > (slo[chosen[i]] or float("inf")) for i in range(n)]
        v, lt = config.value_correct_usd, config.latency_usd_per_s
        qos = [
            v * correct[i] - lt * latency[i] - config.slo_penalty_usd * violated[i]
            for i in range(n)
        ]
        qos_total = sum(qos) - config.cloud_usd_weight * self.cloud_usd
        share = {t: chosen.count(t) / n for t in self.specs}
        util = {t: self.experts[t].busy_s / makespan for t in self.experts}
        util[CLOUD] = share[CLOUD]
        ordered = sorted(latency)
        return MultiTargetResult(
            policy=name,
            workload=workload,
            mean_qos_usd=qos_total / n,
            accuracy=sum(correct) / n,
            slo_violation_rate=sum(violated) / n,
            p50_s=statistics.median(ordered),
            p95_s=ordered[min(n - 1, int(0.95 * n))],
            share=share,
            utilisation=util,
            cloud_usd=self.cloud_usd,
        )


def _simulate(
    name: str,
    workload: str,
    choose: ChooseFn,
    steps: Sequence[tuple[float, ReplayTask]],
    quality: Mapping[str, Mapping[str, float]],
    cloud_right: Mapping[str, bool],
    scenario: Scenario,
    config: MultiTargetConfig,
) -> MultiTargetResult:
    sim = _Simulation(len(steps), _targets(config), scenario, config)
    for i, (at_s, item) in enumerate(steps):
        sim.drain(at_s)
        cat = item.task.category
        q = {n: quality[n].get(cat, 0.5) for n in sim.experts}
        q[CLOUD] = config.cloud_accuracy
        target = choose(item, at_s, q, sim.tracker)
        sim.chosen[i] = target
        sim.tracker.start(target)
        if target == CLOUD:
            sim.send_to_cloud(i, at_s, item, cloud_right[item.task.id])
        else:
            sim.send_to_edge(i, at_s, item, target)
    sim.drain(float("inf"))
    return sim.result(name, workload, steps)


def run_multi_target(
    data_files: Sequence[str | Path],
    edge_outcomes: str | Path,
    trace_files: Sequence[str | Path],
    config: MultiTargetConfig | None = None,
) -> dict[str, Any]:
    """Simulate every policy under every workload; return a JSON-ready report.

    Args:
        data_files: BFCL files.
        edge_outcomes: Recorded outcomes of the bundled edge model.
        trace_files: Mahimahi files; the first trace (``X.down``/``X.up``) carries the cloud.
        config: The simulation settings.

    Raises:
        BenchmarkDataError: The outcomes file is bad.
        ValueError: No task has a recorded outcome, or no trace file is given.
    """
    config = config or MultiTargetConfig()
    outcomes = load_edge_outcomes(edge_outcomes)
    tasks = [task for file in data_files for task in load_bfcl(file)]
    items = prepare_tasks(tasks, outcomes.rows)
    if len(items) < 4:
        raise ValueError(f"need at least 4 tasks with recorded outcomes, got {len(items)}")
    traces = pair_traces(trace_files)
    if not traces:
        raise ValueError("no network trace file given (expected mahimahi .down/.up files)")
    train, test = split_tasks(items, test_fraction=0.5, seed=config.seed)
    quality = _category_quality(train, config)
    cloud_right = cloud_draws(
        test, BenchConfig(seed=config.seed, cloud_accuracy=config.cloud_accuracy)
    )
    results: list[MultiTargetResult] = []
    for w_index, (workload, process) in enumerate(sorted(config.workloads.items())):
        rng = random.Random(config.seed * 1000 + w_index)
        arrivals = process.times(config.requests, rng)
        steps = [(t, rng.choice(test)) for t in arrivals]
        scenario = Scenario(
            traces[0],
            base_rtt_ms=config.base_rtt_ms,
            workload_name=workload,
            workload=process,
            forecast=config.network_forecast,
        )
        for name, choose in _policies(config, scenario).items():
            results.append(
                _simulate(name, workload, choose, steps, quality, cloud_right, scenario, config)
            )
    return {
        "config": config.model_dump(mode="json"),
        "trace": traces[0].name,
        "tasks": {"with_outcomes": len(items), "train": len(train), "test": len(test)},
        "measured_vs_modelled": __doc__.split("Every policy")[0].strip() if __doc__ else "",
        "results": [r.to_dict() for r in results],
    }


def format_table(report: Mapping[str, Any]) -> str:
    """The report as a fixed-width table (one row per workload and policy)."""
    head = (
        f"{'workload':8} {'policy':18} {'QoS uUSD':>9} {'acc':>5} {'SLO miss':>8} "
        f"{'p50 s':>6} {'p95 s':>6}  utilisation (grammar/short/cloud share)"
    )
    lines = [head, "-" * len(head)]
    for r in report["results"]:
        u = r["utilisation"]
        lines.append(
            f"{r['workload']:8} {r['policy']:18} {r['mean_qos_usd'] * 1e6:9.0f} "
            f"{r['accuracy']:5.2f} {r['slo_violation_rate']:8.2f} {r['p50_s']:6.2f} "
            f"{r['p95_s']:6.2f}  {u[GRAMMAR]:.2f}/{u[SHORT]:.2f}/{u[CLOUD]:.2f}"
        )
    return "\n".join(lines)


def multi_target_bench_row(
    data_files: Sequence[str | Path],
    edge_outcomes: str | Path,
    trace_files: Sequence[str | Path],
    config: MultiTargetConfig | None = None,
) -> dict[str, str]:
    """The ``netgpt bench`` row: QoS routing vs the best baseline per workload (or why not run)."""
    import json

    try:
        report = run_multi_target(data_files, edge_outcomes, trace_files, config)
    except (ValueError, OSError) as exc:
        return {"part": "multi-target", "result": f"not measured: {exc}"}
    parts = []
    for workload in sorted({r["workload"] for r in report["results"]}):
        rows = {r["policy"]: r for r in report["results"] if r["workload"] == workload}
        qos = rows.pop("qos")
        best = max(rows.values(), key=lambda r: r["mean_qos_usd"])
        parts.append(
            f"{workload}: QoS {qos['mean_qos_usd'] * 1e6:.0f} uUSD/step, SLO miss "
            f"{qos['slo_violation_rate']:.0%} vs best baseline {best['policy']} "
            f"{best['mean_qos_usd'] * 1e6:.0f}, {best['slo_violation_rate']:.0%}"
        )
    return {"part": "multi-target", "result": "; ".join(parts), "json": json.dumps(report)}
