"""Routing policies: the NetGPT score-threshold rule and baselines (the budget: ``budget.py``).

Every policy is pure and synchronous: features, an edge-success score and the network state in;
a frozen :class:`RouteDecision` out. The rule (see ``docs/concepts.md``): keep the step on the
edge iff ``s >= tau`` with ``tau = q_c - (lambda_t * (L_c - L_e) + lambda_c * price_c) / V``;
``tau`` falls as RTT rises and rises with bandwidth.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.budget import BudgetSlot, CloudBudget
from langchain_netgpt.routing.decision import (
    CLOUD,
    EDGE,
    check_score,
    clip01,
    decide_route,
)
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.latency import LatencyEstimate, LatencyModel
from langchain_netgpt.routing.network import NetworkState

__all__ = [
    "CLOUD",
    "EDGE",
    "AlwaysCloud",
    "AlwaysEdge",
    "BasePolicy",
    "BudgetSlot",
    "CloudBudget",
    "FixedThresholdPolicy",
    "NetGPTPolicy",
    "RandomPolicy",
    "RouteDecision",
    "RoutePolicy",
]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one step goes, and why.

    Attributes:
        target: Name of the chosen target (``"edge"`` or ``"cloud"`` by default).
        score: The edge-success score ``s`` the decision used.
        threshold: The threshold ``tau`` the score was compared with, clipped to ``[0, 1]``
            (a raw ``tau`` above 1 sends everything to the cloud, below 0 keeps everything).
        expected_edge_s: Expected edge latency.
        expected_cloud_s: Expected cloud latency (network included; ``inf`` if the link is down).
        expected_cloud_price_usd: Expected price of the cloud call.
        reason: One human-readable sentence.
        policy: Name of the policy that decided.
        overridden_by: What overrode the policy's choice (``"budget"``), if anything.
        propensity: Probability with which the policy chose ``target`` (1 for deterministic
            policies and for choices forced by an override; below 1 for exploring policies such
            as :class:`~langchain_netgpt.routing.exploration.EpsilonGreedyPolicy`). Off-policy
            estimators divide by it.
        alternatives: The other targets in fallback order (multi-target routing, see
            :class:`~langchain_netgpt.routing.qos.QoSPolicy`); empty: the other side of edge/cloud.
    """

    target: str
    score: float
    threshold: float
    expected_edge_s: float
    expected_cloud_s: float
    expected_cloud_price_usd: float
    reason: str
    policy: str
    overridden_by: str | None = None
    propensity: float = 1.0
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (an infinite latency becomes ``None``)."""
        data = asdict(self)
        for key in ("expected_edge_s", "expected_cloud_s"):
            if not math.isfinite(data[key]):
                data[key] = None
        return data


@runtime_checkable
class RoutePolicy(Protocol):
    """Decides edge or cloud for one step."""

    @property
    def name(self) -> str:
        """Short name of the policy (recorded in decisions and traces)."""
        ...

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Choose a target.

        Args:
            features: The step's features.
            score: Edge-success score in ``[0, 1]``.
            network: The network state now.
            threshold_shift: Added to the threshold by a budget controller (negative keeps more
                steps on the edge, see :class:`CloudBudget`); policies without a threshold
                ignore it.
        """
        ...


class BasePolicy(BaseModel):
    """Base of the package's policies: a latency model and :meth:`make_decision`.

    Subclasses set ``name`` and implement ``decide`` (see :class:`RoutePolicy`); a policy with a
    threshold decides with :func:`~langchain_netgpt.routing.decision.decide_route`.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.policy import BasePolicy, RouteDecision

            class EdgeWhenShort(BasePolicy):
                name: str = "short-edge"

                def decide(self, features, score, network, *, threshold_shift=0.0):
                    est = self.latency_model.estimate(features, network)
                    target = "edge" if features.prompt_tokens < 500 else "cloud"
                    return self.make_decision(target, score, 0.5, est, f"{target}: length")

            assert EdgeWhenShort().name == "short-edge"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_model: LatencyModel = Field(
        default_factory=LatencyModel, description="Latency and price expectations."
    )

    def make_decision(
        self,
        target: str,
        score: float,
        threshold: float,
        est: LatencyEstimate,
        reason: str,
    ) -> RouteDecision:
        """A :class:`RouteDecision` of this policy (the threshold is clipped to ``[0, 1]``)."""
        return RouteDecision(
            target=target,
            score=score,
            threshold=clip01(threshold),
            expected_edge_s=est.edge_s,
            expected_cloud_s=est.cloud_s,
            expected_cloud_price_usd=est.cloud_price_usd,
            reason=reason,
            policy=self.name,  # type: ignore[attr-defined]
        )


class NetGPTPolicy(BasePolicy):
    """The NetGPT network-aware score-threshold rule ("FuncDyn").

    Edge utility ``s*V - lambda_t*L_e``; cloud utility ``q_c*V - lambda_t*L_c - lambda_c*price``.
    The step stays on the edge iff ``s >= tau``. With ``escalation_recall = d > 0`` (the share of
    edge failures that are detected, e.g. schema-invalid tool calls, and escalated to the cloud),
    the edge's utility includes that fallback and ``tau = ((1-d)*C + lambda_t*L_e) / (V - d*C)``
    with ``C`` the cloud utility; ``d = 0`` gives the closed form above.

    Defaults describe a tool-calling agent step worth $0.002 when right, a user who would pay
    $0.0005 to save a second, cloud dollars counted at face value, and a cloud model right 90% of
    the time on steps the router sees.

    Args:
        value_correct_usd: ``V``, value of a correct step in USD.
        latency_usd_per_s: ``lambda_t``, price of one second of latency in USD.
        cloud_usd_weight: ``lambda_c``, weight of one cloud dollar (1 = face value).
        cloud_quality: ``q_c``, probability the cloud answers a step well.
        escalation_recall: ``d``, share of edge failures caught and escalated to the cloud.
        latency_model: Latency and price expectations per side.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetGPTPolicy, NetworkState

            policy = NetGPTPolicy()
            good = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=30)
            bad = NetworkState(bandwidth_up_mbps=0.5, bandwidth_down_mbps=1, rtt_ms=900)
            assert policy.threshold(bad) < policy.threshold(good)
    """

    name: str = "netgpt"
    value_correct_usd: float = Field(default=0.002, gt=0, allow_inf_nan=False)
    latency_usd_per_s: float = Field(default=0.0005, ge=0, allow_inf_nan=False)
    cloud_usd_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    cloud_quality: float = Field(default=0.9, ge=0, le=1)
    escalation_recall: float = Field(default=0.0, ge=0, le=1)

    _reference: RequestFeatures | None = PrivateAttr(default=None)

    def raw_threshold(self, est: LatencyEstimate) -> float:
        """The unclipped threshold ``tau`` under these latency and price expectations.

        ``-inf`` when the link is down (the cloud cannot answer in finite time) or the edge's
        escalation makes every step worth keeping.
        """
        v = self.value_correct_usd
        lt = self.latency_usd_per_s
        if not math.isfinite(est.cloud_s):
            return -math.inf  # the link is down: the cloud cannot answer in finite time
        cloud_utility = (
            self.cloud_quality * v - lt * est.cloud_s - self.cloud_usd_weight * est.cloud_price_usd
        )
        d = self.escalation_recall
        denominator = v - d * cloud_utility
        if denominator <= 0:
            return -math.inf
        return ((1 - d) * cloud_utility + lt * est.edge_s) / denominator

    def _reference_features(self) -> RequestFeatures:
        if self._reference is None:
            # A typical single-turn tool-calling step (BFCL simple: ~1.2 kB, one tool).
            self._reference = RequestFeatures(
                prompt_tokens=300,
                question_tokens=30,
                new_tokens=300,
                payload_bytes=1200,
                message_count=1,
                tool_count=1,
                schema_bytes=600,
                schema_depth=1,
                required_params=2,
            )
        return self._reference

    def threshold(self, network: NetworkState, features: RequestFeatures | None = None) -> float:
        """The fallback threshold ``tau`` for a step under a network state, clipped to [0, 1].

        Args:
            network: The network state.
            features: The step; a typical single-turn tool-calling step when omitted.

        Returns:
            ``tau`` in ``[0, 1]``: non-increasing in RTT, non-decreasing in bandwidth.
        """
        f = features or self._reference_features()
        return clip01(self.raw_threshold(self.latency_model.estimate(f, network)))

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Keep the step on the edge iff ``score >= tau + threshold_shift``."""
        s = check_score(score)
        est = self.latency_model.estimate(features, network)
        tau = self.raw_threshold(est) + threshold_shift
        target = decide_route(s, tau).target
        sign = ">=" if target == EDGE else "<"
        reason = f"{target}: score {s:.2f} {sign} threshold {clip01(tau):.2f}"
        reason += f" (rtt {network.rtt_ms:.0f} ms, up {network.bandwidth_up_mbps:.1f} Mbit/s)"
        return self.make_decision(target, s, tau, est, reason)

    @classmethod
    def load(cls, path: str | Path) -> NetGPTPolicy:
        """Load a policy written by :meth:`save` (or by ``netgpt train-router``).

        Raises:
            ConfigurationError: The file is not a valid policy.
        """
        import json

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}: not a JSON policy file ({exc})") from exc
        return cls.model_validate(data)

    def save(self, path: str | Path) -> None:
        """Write the policy's parameters as JSON (atomically)."""
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(target)


class FixedThresholdPolicy(BasePolicy):
    """Keep the step on the edge iff the score clears a fixed threshold (network-blind).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing import FixedThresholdPolicy

            policy = FixedThresholdPolicy(threshold=0.6)
    """

    name: str = "fixed"
    threshold: float = Field(ge=0, le=1, description="Edge iff score >= threshold.")

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Keep the step on the edge iff ``score >= threshold + threshold_shift``."""
        s = check_score(score)
        tau = self.threshold + threshold_shift
        target = decide_route(s, tau).target
        est = self.latency_model.estimate(features, network)
        return self.make_decision(
            target, s, tau, est, f"{target}: score {s:.2f} vs fixed threshold {clip01(tau):.2f}"
        )


class AlwaysEdge(BasePolicy):
    """Baseline: every step on the edge."""

    name: str = "always-edge"

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Choose the edge."""
        s = check_score(score)
        est = self.latency_model.estimate(features, network)
        return self.make_decision(EDGE, s, 0.0, est, "edge: always-edge policy")


class AlwaysCloud(BasePolicy):
    """Baseline: every step in the cloud."""

    name: str = "always-cloud"

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Choose the cloud."""
        s = check_score(score)
        est = self.latency_model.estimate(features, network)
        return self.make_decision(CLOUD, s, 1.0, est, "cloud: always-cloud policy")


class RandomPolicy(BasePolicy):
    """Baseline: the cloud with probability ``cloud_share``, independent of the step.

    Args:
        cloud_share: Probability of choosing the cloud.
        seed: Seed of the policy's own random generator (reproducible runs).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing import RandomPolicy

            policy = RandomPolicy(cloud_share=0.3, seed=7)
    """

    name: str = "random"
    cloud_share: float = Field(ge=0, le=1, description="Probability of the cloud.")
    seed: int | None = Field(default=None, description="Seed for reproducibility.")

    _rng: random.Random = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        """Seed the policy's own generator."""
        self._rng = random.Random(self.seed)

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Draw the target."""
        s = check_score(score)
        target = CLOUD if self._rng.random() < self.cloud_share else EDGE
        est = self.latency_model.estimate(features, network)
        return self.make_decision(
            target,
            s,
            1 - self.cloud_share,
            est,
            f"{target}: random, cloud share {self.cloud_share}",
        )
