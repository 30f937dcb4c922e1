"""Load-aware routing among several targets: :class:`QoSPolicy` and its baselines.

Every target ``t`` (see :class:`~langchain_netgpt.routing.targets.TargetSpec`) gets an expected
utility:

``U_t = q_t*V - lambda_t*(W_t + S_t + N_t) - lambda_t*I_t - lambda_c*price_t - P*p_violate_t``

with ``q_t`` its quality estimate for this request, ``S_t`` its service time (measured EWMA, a
prior, or its speed profile and the request's tokens) slowed by the requests it runs beside,
``W_t`` the queueing delay (requests beyond its concurrency wait for a slot), ``N_t`` the network
(clouds only: RTT and transfers from the monitor), ``I_t`` the interference one more request adds
to the requests already running (each of the ``k`` running is slowed by ``interference*S_t`` for
about half a service time: ``I_t = k*interference*S_t/2``), ``price_t`` the cloud's price and
``p_violate_t`` the probability of missing the target's SLO (latency ``S_t + N_t`` plus an
exponential tail of mean ``W_t + service_cv*S_t``). The policy ranks targets by ``U_t``; the
router tries them in that order (the first that answers well wins).

Baselines: :class:`LeastLoadedPolicy`, :class:`RoundRobinPolicy`, :class:`RandomTargetPolicy`.
Each also works as a two-target :class:`~langchain_netgpt.routing.RoutePolicy`
(``edge=``/``cloud=``).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.latency import LatencyModel, SideProfile
from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.policy import RouteDecision
from langchain_netgpt.routing.scoring import EdgeScorer
from langchain_netgpt.routing.targets import LoadSnapshot, LoadTracker, TargetSpec

__all__ = [
    "LeastLoadedPolicy",
    "MultiTargetPolicy",
    "QoSPolicy",
    "RandomTargetPolicy",
    "RoundRobinPolicy",
    "TargetChoice",
    "TargetEstimate",
    "TargetRouting",
]

_IDLE = LoadSnapshot(in_flight=0, queued=0, service_s=None)
_TWO_TARGETS = {"edge": TargetSpec(kind="edge"), "cloud": TargetSpec(kind="cloud")}


@dataclass(frozen=True, slots=True)
class TargetEstimate:
    """What one target is expected to do with one request.

    Attributes:
        name: The target.
        kind: ``"edge"`` or ``"cloud"``.
        quality: Probability it answers well.
        wait_s: Expected queueing delay.
        service_s: Expected service time (slowed by the requests running beside it).
        network_s: Expected network time (clouds).
        interference_s: Delay one more request adds to the requests already running.
        price_usd: Expected price.
        slo_violation_p: Probability of missing the SLO (0 without one).
        utility: Expected utility in USD.
    """

    name: str
    kind: str
    quality: float
    wait_s: float
    service_s: float
    network_s: float
    interference_s: float
    price_usd: float
    slo_violation_p: float
    utility: float

    @property
    def latency_s(self) -> float:
        """Expected latency of the request: wait, service and network."""
        return self.wait_s + self.service_s + self.network_s


@dataclass(frozen=True, slots=True)
class TargetChoice:
    """A multi-target policy's answer: targets best first, and what it expected of each.

    Attributes:
        ranking: Every target, best first (the router falls back in this order).
        estimates: Expectations per target.
        reason: One human-readable sentence.
        propensity: Probability the policy chose ``ranking[0]``.
    """

    ranking: tuple[str, ...]
    estimates: Mapping[str, TargetEstimate]
    reason: str
    propensity: float = 1.0


@runtime_checkable
class MultiTargetPolicy(Protocol):
    """Ranks several targets for one request, given their quality estimates and loads."""

    @property
    def name(self) -> str:
        """Short name of the policy (recorded in decisions and traces)."""
        ...

    def rank(
        self,
        targets: Mapping[str, TargetSpec],
        quality: Mapping[str, float],
        loads: Mapping[str, LoadSnapshot],
        features: RequestFeatures,
        network: NetworkState,
    ) -> TargetChoice:
        """Rank the targets, best first."""
        ...


def _side_s(profile: SideProfile, prefill_tokens: int, out_tokens: int) -> float:
    return (
        profile.overhead_s
        + prefill_tokens / profile.prefill_tokens_per_s
        + out_tokens / profile.decode_tokens_per_s
    )


class _TargetPolicy(BaseModel):
    """Shared parts: the utility weights, per-target estimates and the two-target adapter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value_correct_usd: float = Field(default=0.002, gt=0, allow_inf_nan=False)
    latency_usd_per_s: float = Field(default=0.0005, ge=0, allow_inf_nan=False)
    cloud_usd_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    cloud_quality: float = Field(
        default=0.9, ge=0, le=1, description="Quality of a cloud without its own estimate."
    )
    slo_penalty_usd: float = Field(
        default=0.002, ge=0, allow_inf_nan=False, description="Cost of one missed SLO."
    )
    service_cv: float = Field(
        default=0.25,
        ge=0,
        allow_inf_nan=False,
        description="Spread of a service time around its mean, as a share of the mean.",
    )
    latency_model: LatencyModel = Field(
        default_factory=LatencyModel, description="Speeds used when a target has no profile."
    )

    def estimate(
        self,
        name: str,
        spec: TargetSpec,
        quality: float,
        load: LoadSnapshot,
        features: RequestFeatures,
        network: NetworkState,
    ) -> TargetEstimate:
        """Expected wait, service, network, interference, price, SLO risk and utility."""
        lm = self.latency_model
        out_tokens = lm.expected_output_tokens
        edge = spec.kind == "edge"
        profile = spec.profile or (lm.edge if edge else lm.cloud)
        warm = profile.prompt_cache and features.previous_target == name
        prefill = features.new_tokens if warm else features.prompt_tokens
        if edge and load.service_s is not None:
            alone = load.service_s  # measured; a cloud's time is mostly its (changing) link
        elif spec.service_s is not None:
            alone = spec.service_s
        else:
            alone = _side_s(profile, prefill, out_tokens)
        network_s = price = 0.0
        if not edge:
            down = int(lm.response_envelope_bytes + out_tokens * lm.bytes_per_output_token)
            network_s = network.rtt_ms / 1000 + network.transfer_s(
                up_bytes=features.payload_bytes, down_bytes=down
            )
            price = (
                features.prompt_tokens * profile.usd_per_1k_input_tokens
                + out_tokens * profile.usd_per_1k_output_tokens
            ) / 1000
        beta, slots, n = spec.interference, spec.concurrency, load.in_flight
        if slots is None or n < slots:
            wait = 0.0
            service = alone * (1 + beta * n)
            interference = n * beta * alone / 2
        else:
            service = alone * (1 + beta * (slots - 1))
            wait = (n - slots + 1) * service / slots
            interference = 0.0
        fixed = service + network_s
        p_violate = 0.0
        if spec.slo_s is not None:
            if fixed >= spec.slo_s:
                p_violate = 1.0
            else:
                spread = wait + self.service_cv * service
                p_violate = math.exp(-(spec.slo_s - fixed) / spread) if spread > 0 else 0.0
        lt = self.latency_usd_per_s
        utility = (
            quality * self.value_correct_usd
            - lt * (wait + fixed + interference)
            - self.cloud_usd_weight * price
            - self.slo_penalty_usd * p_violate
        )
        if not math.isfinite(utility):
            utility = -math.inf  # the link is down: this cloud cannot answer in finite time
        return TargetEstimate(
            name, spec.kind, quality, wait, service, network_s, interference, price, p_violate,
            utility,
        )  # fmt: skip

    def estimate_all(
        self,
        targets: Mapping[str, TargetSpec],
        quality: Mapping[str, float],
        loads: Mapping[str, LoadSnapshot],
        features: RequestFeatures,
        network: NetworkState,
    ) -> dict[str, TargetEstimate]:
        """:meth:`estimate` for every target (an unknown load counts as idle).

        Raises:
            ValueError: A target has no quality estimate.
        """
        out: dict[str, TargetEstimate] = {}
        for name, spec in targets.items():
            q = quality.get(name)
            if q is None:
                raise ValueError(f"no quality estimate for target {name!r}; got {sorted(quality)}")
            out[name] = self.estimate(name, spec, q, loads.get(name, _IDLE), features, network)
        return out

    # -- two-target adapter (RoutePolicy) ------------------------------------------------------
    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Choose ``"edge"`` or ``"cloud"`` as a two-target policy (no load known).

        ``threshold_shift`` (a budget's push) lowers the cloud's quality by that much.
        """
        if not (isinstance(score, int | float) and 0.0 <= score <= 1.0):
            raise ValueError(f"score must be a probability in [0, 1], got {score!r}")
        quality = {"edge": float(score), "cloud": _clip01(self.cloud_quality + threshold_shift)}
        choice = self.rank(_TWO_TARGETS, quality, {}, features, network)  # type: ignore[attr-defined]
        return to_decision(self, choice, quality)  # type: ignore[arg-type]


def _clip01(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def to_decision(
    policy: MultiTargetPolicy, choice: TargetChoice, quality: Mapping[str, float]
) -> RouteDecision:
    """A :class:`~langchain_netgpt.routing.RouteDecision` from a multi-target choice.

    ``score`` is the chosen target's quality; ``threshold`` the quality the best edge target
    would need to tie the best cloud (0 without both kinds); the expectations are those of the
    best edge and the best cloud.
    """
    target = choice.ranking[0]
    est = choice.estimates
    edges = [e for e in est.values() if e.kind == "edge"]
    clouds = [e for e in est.values() if e.kind == "cloud"]
    best_edge = max(edges, key=lambda e: e.utility) if edges else None
    best_cloud = max(clouds, key=lambda e: e.utility) if clouds else None
    threshold = 0.0
    v = getattr(policy, "value_correct_usd", 0.0)
    if best_edge is not None and best_cloud is not None and v > 0 and best_cloud.utility > -1e300:
        rest = best_edge.utility - best_edge.quality * v
        threshold = _clip01((best_cloud.utility - rest) / v)
    return RouteDecision(
        target=target,
        score=float(quality.get(target, 0.0)),
        threshold=threshold,
        expected_edge_s=best_edge.latency_s if best_edge is not None else 0.0,
        expected_cloud_s=best_cloud.latency_s if best_cloud is not None else math.inf,
        expected_cloud_price_usd=best_cloud.price_usd if best_cloud is not None else 0.0,
        reason=choice.reason,
        policy=policy.name,
        propensity=choice.propensity,
        alternatives=choice.ranking[1:],
    )


class QoSPolicy(_TargetPolicy):
    """Pick the target with the best expected utility, load, interference and SLOs counted.

    See the module docstring for the utility. With two idle targets and no SLOs it makes the
    same choice as :class:`~langchain_netgpt.NetGPTPolicy` (edge iff ``s >= tau``).

    Args:
        value_correct_usd: ``V``, value of a correct step in USD.
        latency_usd_per_s: ``lambda_t``, price of one second of latency (the request's own, and
            the interference it adds to others).
        cloud_usd_weight: ``lambda_c``, weight of one cloud dollar.
        cloud_quality: Quality of a cloud target without its own estimate.
        slo_penalty_usd: Cost of one expected SLO violation.
        service_cv: Spread of service times (widens the SLO-risk tail).
        latency_model: Speeds for targets without a profile.

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage

            from langchain_netgpt import NetworkState
            from langchain_netgpt.routing import RequestFeatures
            from langchain_netgpt.routing.qos import QoSPolicy
            from langchain_netgpt.routing.targets import LoadSnapshot, TargetSpec

            targets = {
                "small": TargetSpec(kind="edge", service_s=1.0, slo_s=3.0),
                "cloud": TargetSpec(kind="cloud"),
            }
            busy = {"small": LoadSnapshot(in_flight=4, queued=3, service_s=1.0)}
            choice = QoSPolicy().rank(
                targets,
                {"small": 0.8, "cloud": 0.9},
                busy,
                RequestFeatures.from_messages([HumanMessage("Weather in Paris?")]),
                NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=40),
            )
            assert choice.ranking[0] == "cloud"  # the edge queue would break its SLO
    """

    name: str = "qos"

    def rank(
        self,
        targets: Mapping[str, TargetSpec],
        quality: Mapping[str, float],
        loads: Mapping[str, LoadSnapshot],
        features: RequestFeatures,
        network: NetworkState,
    ) -> TargetChoice:
        """Rank targets by expected utility (ties keep the configured order)."""
        est = self.estimate_all(targets, quality, loads, features, network)
        order = {name: i for i, name in enumerate(targets)}
        ranking = tuple(sorted(est, key=lambda n: (-est[n].utility, order[n])))
        best = est[ranking[0]]
        reason = (
            f"{best.name}: best expected utility {best.utility * 1e6:.0f} uUSD "
            f"(q {best.quality:.2f}, wait {best.wait_s:.2f} s, latency {best.latency_s:.2f} s, "
            f"SLO risk {best.slo_violation_p:.2f})"
        )
        return TargetChoice(ranking, est, reason)


class LeastLoadedPolicy(_TargetPolicy):
    """Baseline: the target with the fewest requests in flight (ties: configured order).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.qos import LeastLoadedPolicy

            policy = LeastLoadedPolicy()
    """

    name: str = "least-loaded"

    def rank(
        self,
        targets: Mapping[str, TargetSpec],
        quality: Mapping[str, float],
        loads: Mapping[str, LoadSnapshot],
        features: RequestFeatures,
        network: NetworkState,
    ) -> TargetChoice:
        """Rank by in-flight count."""
        est = self.estimate_all(targets, quality, loads, features, network)
        order = list(targets)
        ranking = tuple(
            sorted(order, key=lambda n: (loads.get(n, _IDLE).in_flight, order.index(n)))
        )
        load = loads.get(ranking[0], _IDLE).in_flight
        return TargetChoice(ranking, est, f"{ranking[0]}: least loaded ({load} in flight)")


class RoundRobinPolicy(_TargetPolicy):
    """Baseline: the targets in turn (thread safe).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.qos import RoundRobinPolicy

            policy = RoundRobinPolicy()
    """

    name: str = "round-robin"
    _next: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def rank(
        self,
        targets: Mapping[str, TargetSpec],
        quality: Mapping[str, float],
        loads: Mapping[str, LoadSnapshot],
        features: RequestFeatures,
        network: NetworkState,
    ) -> TargetChoice:
        """The next target in turn, then the rest in order."""
        est = self.estimate_all(targets, quality, loads, features, network)
        order = list(targets)
        with self._lock:
            i = self._next % len(order)
            self._next = i + 1
        ranking = tuple(order[i:] + order[:i])
        return TargetChoice(ranking, est, f"{ranking[0]}: round robin")


class RandomTargetPolicy(_TargetPolicy):
    """Baseline: a target drawn uniformly at random (seeded).

    Args:
        seed: Seed of the policy's own generator.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.qos import RandomTargetPolicy

            policy = RandomTargetPolicy(seed=3)
    """

    name: str = "random-target"
    seed: int | None = Field(default=None, description="Seed for reproducibility.")
    _rng: random.Random = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, __context: Any) -> None:
        """Seed the policy's own generator."""
        self._rng = random.Random(self.seed)

    def rank(
        self,
        targets: Mapping[str, TargetSpec],
        quality: Mapping[str, float],
        loads: Mapping[str, LoadSnapshot],
        features: RequestFeatures,
        network: NetworkState,
    ) -> TargetChoice:
        """A uniformly random order."""
        est = self.estimate_all(targets, quality, loads, features, network)
        order = list(targets)
        with self._lock:
            self._rng.shuffle(order)
        return TargetChoice(tuple(order), est, f"{order[0]}: random", 1.0 / len(order))


class TargetRouting:
    """What a router needs to route among named targets: specs, live loads and the policy.

    Built by :class:`~langchain_netgpt.NetGPTRouter` from ``targets=``; the executor starts and
    finishes every call through :attr:`loads`.

    Args:
        targets: The targets by name (configured order breaks ties).
        policy: The multi-target policy.
        scorer: Quality estimate of edge targets that have neither ``quality`` nor ``scorer``.

    Raises:
        ConfigurationError: No edge or no cloud target, or the names are empty.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing import HeuristicScorer
            from langchain_netgpt.routing.qos import QoSPolicy, TargetRouting
            from langchain_netgpt.routing.targets import TargetSpec

            routing = TargetRouting(
                {"a": TargetSpec(kind="edge"), "c": TargetSpec(kind="cloud")},
                QoSPolicy(),
                HeuristicScorer(),
            )
            assert routing.is_cloud("c") and not routing.is_cloud("a")
    """

    def __init__(
        self, targets: Mapping[str, TargetSpec], policy: MultiTargetPolicy, scorer: EdgeScorer
    ) -> None:
        kinds = {name: spec.kind for name, spec in targets.items()}
        if "edge" not in kinds.values() or "cloud" not in kinds.values():
            raise ConfigurationError(
                f"targets need at least one edge and one cloud, got kinds {kinds}",
                field="targets",
                value=kinds,
            )
        if any(not name for name in kinds):
            raise ConfigurationError("target names must be non-empty", field="targets")
        self.targets = dict(targets)
        self.policy = policy
        self.scorer = scorer
        self.kinds = kinds
        self.loads = LoadTracker(targets)
        self._cloud_quality = float(getattr(policy, "cloud_quality", 0.9))

    def is_cloud(self, name: str | None) -> bool:
        """Whether ``name`` is a cloud target."""
        return name is not None and self.kinds.get(name) == "cloud"

    def quality(
        self, features: RequestFeatures, messages: Sequence[BaseMessage], *, cloud_shift: float
    ) -> dict[str, float]:
        """Quality estimate per target (a budget's ``cloud_shift`` lowers the clouds')."""
        out: dict[str, float] = {}
        shared: float | None = None
        for name, spec in self.targets.items():
            if spec.quality is not None:
                q = spec.quality
            elif spec.scorer is not None:
                q = spec.scorer.score(features, messages)
            elif spec.kind == "edge":
                if shared is None:
                    shared = self.scorer.score(features, messages)
                q = shared
            else:
                q = self._cloud_quality
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"quality of target {name!r} must be in [0, 1], got {q!r}")
            out[name] = _clip01(q + cloud_shift) if spec.kind == "cloud" else q
        return out

    def decide(
        self,
        features: RequestFeatures,
        messages: Sequence[BaseMessage],
        network: NetworkState,
        *,
        cloud_shift: float = 0.0,
    ) -> tuple[RouteDecision, dict[str, LoadSnapshot]]:
        """Rank the targets for one request; return the decision and the loads it saw."""
        loads = self.loads.snapshot()
        quality = self.quality(features, messages, cloud_shift=cloud_shift)
        choice = self.policy.rank(self.targets, quality, loads, features, network)
        return to_decision(self.policy, choice, quality), loads

    def best_edge(self, decision: RouteDecision) -> str:
        """The highest-ranked edge target of a decision."""
        for name in (decision.target, *decision.alternatives):
            if self.kinds.get(name) == "edge":
                return name
        return next(n for n, k in self.kinds.items() if k == "edge")
