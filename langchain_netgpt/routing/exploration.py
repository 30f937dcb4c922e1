"""Exploring policies: log routing decisions with known propensities for off-policy learning.

A deterministic policy never tries the action it does not choose, so its traces cannot say what
the other side would have done. :class:`EpsilonGreedyPolicy` follows a base policy most of the
time and picks a target uniformly at random otherwise, and records in
:attr:`RouteDecision.propensity` the probability of the target it chose. Importance-weighted
estimators (``langchain_netgpt.learn``) divide by that probability to estimate the value of any
other policy from the logged steps.

When a budget overrides the decision (the cloud is refused and the step stays on the edge), the
router sets the propensity to 1: the logged action was forced, not drawn.
"""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.policy import CLOUD, EDGE, NetGPTPolicy, RouteDecision, RoutePolicy

__all__ = ["EpsilonGreedyPolicy"]


class EpsilonGreedyPolicy(BaseModel):
    """Follow ``base`` with probability ``1 - epsilon``; otherwise pick a target uniformly.

    The chosen target's probability, ``(1 - epsilon) * [target == base choice] + epsilon / K``
    with ``K = len(targets)``, is recorded as the decision's ``propensity`` (and by the router in
    ``RouteTrace.propensity``), so the traces can be used for off-policy evaluation and learning.

    The base policy must be deterministic (its own choice is taken as certain); wrapping a
    random policy such as :class:`~langchain_netgpt.routing.RandomPolicy` would log wrong
    propensities.

    Args:
        base: The (deterministic) policy to follow when not exploring.
        epsilon: Exploration probability in ``[0, 1]``.
        targets: Targets explored uniformly (at least two distinct names, the base's choices
            among them).
        seed: Seed of the policy's own random generator (reproducible logs).

    Raises:
        ConfigurationError: ``targets`` has fewer than two names or repeats one.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetworkState
            from langchain_netgpt.routing import RequestFeatures
            from langchain_netgpt.routing.exploration import EpsilonGreedyPolicy

            policy = EpsilonGreedyPolicy(epsilon=0.2, seed=7)
            features = RequestFeatures(prompt_tokens=300, question_tokens=30, new_tokens=300,
                                       payload_bytes=1200, message_count=1)
            network = NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=50)
            decision = policy.decide(features, 0.7, network)
            assert decision.propensity in (0.1, 0.9)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    base: RoutePolicy = Field(default_factory=NetGPTPolicy, description="Policy followed.")
    epsilon: float = Field(default=0.1, ge=0, le=1, description="Exploration probability.")
    targets: tuple[str, ...] = Field(default=(EDGE, CLOUD), description="Targets explored.")
    seed: int | None = Field(default=None, description="Seed for reproducibility.")

    _rng: random.Random = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("targets")
    @classmethod
    def _two_distinct(cls, targets: tuple[str, ...]) -> tuple[str, ...]:
        if len(targets) < 2 or len(set(targets)) != len(targets):
            raise ConfigurationError(
                f"EpsilonGreedyPolicy.targets must hold at least two distinct names, "
                f"got {targets!r}",
                field="targets",
                value=targets,
            )
        return targets

    def model_post_init(self, __context: Any) -> None:
        """Seed the policy's own generator."""
        self._rng = random.Random(self.seed)

    @property
    def name(self) -> str:
        """``epsilon-greedy(<base name>)``."""
        return f"epsilon-greedy({self.base.name})"

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Choose a target: the base policy's, or with probability ``epsilon`` a uniform draw.

        Raises:
            ConfigurationError: The base policy chose a target outside ``targets``.
        """
        decision = self.base.decide(features, score, network, threshold_shift=threshold_shift)
        if decision.target not in self.targets:
            raise ConfigurationError(
                f"base policy {self.base.name!r} chose {decision.target!r}, which is not one of "
                f"the explored targets {list(self.targets)}",
                field="targets",
                value=self.targets,
            )
        with self._lock:  # one generator shared by concurrent steps
            explore = self._rng.random() < self.epsilon
            drawn = self._rng.choice(self.targets) if explore else decision.target
        k = len(self.targets)
        propensity = (1 - self.epsilon) * (drawn == decision.target) + self.epsilon / k
        if drawn == decision.target:
            reason = decision.reason
        else:
            reason = f"{drawn}: exploring (epsilon {self.epsilon:g}); base chose {decision.target}"
        return replace(
            decision, target=drawn, reason=reason, policy=self.name, propensity=propensity
        )
