"""The learned router ("PolicyNet") and the versioned policy file ``netgpt train-router`` writes.

A learned policy is a scorer (:class:`~langchain_netgpt.routing.scoring.LearnedScorer`, ``P(edge
answers well | features)``) and a threshold that depends on the network only:
``tau(network) = sigmoid(w . phi(network))`` with
``phi = [1, log1p(rtt_ms), log1p(bandwidth_up_mbps), log1p(bandwidth_down_mbps), loss]``
(the last four standardised with the training means and scales). The step stays on the edge iff
``score >= tau``. Both live in one JSON file::

    {"kind": "netgpt.policy", "schema_version": 1, "scorer": {...}, "threshold": {...},
     "trained_on": {...}, "estimate": {...}}

Only the standard library and pydantic are used here: loading and using a policy needs no numpy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from langchain_netgpt._json_limits import loads_config
from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.decision import EDGE, check_score, clip01, decide_route
from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.policy import BasePolicy, RouteDecision
from langchain_netgpt.routing.scoring import LearnedScorer
from langchain_netgpt.routing.text_scorer import CloudRelativeScorer, TextScorer

__all__ = [
    "NETWORK_FEATURE_NAMES",
    "POLICY_FILE_KIND",
    "POLICY_SCHEMA_VERSION",
    "LearnedThresholdPolicy",
    "PolicyFile",
    "load_policy",
    "load_policy_scorer",
    "network_features",
    "read_policy_file",
]

POLICY_FILE_KIND = "netgpt.policy"
POLICY_SCHEMA_VERSION = 1
"""Bumped whenever a field of the policy file changes meaning."""

NETWORK_FEATURE_NAMES: tuple[str, ...] = (
    "log1p_rtt_ms",
    "log1p_bandwidth_up_mbps",
    "log1p_bandwidth_down_mbps",
    "loss",
)
"""The network features ``phi`` the learned threshold reads (after the intercept)."""


def network_features(
    rtt_ms: float, bandwidth_up_mbps: float, bandwidth_down_mbps: float, loss: float
) -> tuple[float, float, float, float]:
    """``phi(network)`` without the intercept, in :data:`NETWORK_FEATURE_NAMES` order."""
    return (
        math.log1p(rtt_ms),
        math.log1p(bandwidth_up_mbps),
        math.log1p(bandwidth_down_mbps),
        loss,
    )


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


class LearnedThresholdPolicy(BasePolicy):
    """Keep the step on the edge iff ``score >= tau(network) = sigmoid(w . phi(network))``.

    Use it with the scorer it was trained with (:func:`load_policy_scorer`): the threshold is
    calibrated against that scorer's scores.

    Args:
        bias: Intercept ``w_0``.
        weights: One weight per :data:`NETWORK_FEATURE_NAMES` entry (standardised features).
        means: Training means of the network features.
        scales: Training standard deviations of the network features (> 0).
        latency_model: Latency and price expectations recorded in decisions.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetworkState
            from langchain_netgpt.learn import LearnedThresholdPolicy

            policy = LearnedThresholdPolicy(
                bias=0.0, weights=[-1.0, 0.5, 0.5, 0.0], means=[4, 2, 3, 0], scales=[1, 1, 1, 1]
            )
            good = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=30)
            bad = NetworkState(bandwidth_up_mbps=0.5, bandwidth_down_mbps=1, rtt_ms=900)
            assert policy.threshold(bad) < policy.threshold(good)
    """

    name: str = "policynet"
    bias: float = Field(allow_inf_nan=False, description="Intercept of the threshold's logit.")
    weights: list[float] = Field(description="Weights of the standardised network features.")
    means: list[float] = Field(description="Training means of the network features.")
    scales: list[float] = Field(description="Training scales of the network features (> 0).")
    feature_names: list[str] = Field(default_factory=lambda: list(NETWORK_FEATURE_NAMES))

    @field_validator("weights", "means", "scales")
    @classmethod
    def _four_finite(cls, values: list[float]) -> list[float]:
        n = len(NETWORK_FEATURE_NAMES)
        if len(values) != n or not all(math.isfinite(v) for v in values):
            raise ConfigurationError(
                f"LearnedThresholdPolicy needs {n} finite numbers per vector "
                f"({list(NETWORK_FEATURE_NAMES)}), got {values!r}",
                value=values,
            )
        return values

    @field_validator("scales")
    @classmethod
    def _positive(cls, values: list[float]) -> list[float]:
        if any(v <= 0 for v in values):
            raise ConfigurationError(
                f"LearnedThresholdPolicy.scales must be > 0, got {values!r}",
                field="scales",
                value=values,
            )
        return values

    @field_validator("feature_names")
    @classmethod
    def _same_features(cls, names: list[str]) -> list[str]:
        if tuple(names) != NETWORK_FEATURE_NAMES:
            raise ConfigurationError(
                f"the threshold was trained on network features {names}, but this version "
                f"computes {list(NETWORK_FEATURE_NAMES)}; retrain it",
                field="feature_names",
                value=names,
            )
        return names

    def logit(self, network: NetworkState) -> float:
        """``w . phi(network)``: the threshold before the sigmoid."""
        phi = network_features(
            network.rtt_ms, network.bandwidth_up_mbps, network.bandwidth_down_mbps, network.loss
        )
        z = self.bias
        for w, x, m, s in zip(self.weights, phi, self.means, self.scales, strict=True):
            z += w * (x - m) / s
        return z

    def threshold(self, network: NetworkState, features: RequestFeatures | None = None) -> float:
        """``tau(network)`` in ``(0, 1)`` (the features are not used: the threshold is per link)."""
        return _sigmoid(self.logit(network))

    def decide(
        self,
        features: RequestFeatures,
        score: float,
        network: NetworkState,
        *,
        threshold_shift: float = 0.0,
    ) -> RouteDecision:
        """Keep the step on the edge iff ``score >= tau(network) + threshold_shift``."""
        s = check_score(score)
        tau = self.threshold(network) + threshold_shift
        target = decide_route(s, tau).target
        est = self.latency_model.estimate(features, network)
        sign = ">=" if target == EDGE else "<"
        reason = (
            f"{target}: score {s:.2f} {sign} learned threshold {clip01(tau):.2f} "
            f"(rtt {network.rtt_ms:.0f} ms, up {network.bandwidth_up_mbps:.1f} Mbit/s)"
        )
        return self.make_decision(target, s, tau, est, reason)


class PolicyFile(BaseModel):
    """The contents of a policy file (see the module docstring).

    Attributes:
        kind: Always ``"netgpt.policy"``.
        schema_version: :data:`POLICY_SCHEMA_VERSION`.
        scorer: The learned edge-success scorer (a text-aware scorer from
            ``netgpt train-router --pairs`` fits here too).
        threshold: The learned network-dependent threshold.
        trained_on: Provenance: data file, rows, split, seed, reward parameters.
        estimate: Held-out value estimates of the learned and the logging policy.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["netgpt.policy"] = "netgpt.policy"
    schema_version: int = POLICY_SCHEMA_VERSION
    scorer: LearnedScorer | CloudRelativeScorer | TextScorer
    threshold: LearnedThresholdPolicy
    trained_on: dict[str, Any] = Field(default_factory=dict)
    estimate: dict[str, Any] = Field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write the file as JSON (atomically: a temp file then a rename)."""
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(target)


def read_policy_file(path: str | Path) -> PolicyFile:
    """Read and validate a policy file.

    Raises:
        FileNotFoundError: The file does not exist.
        ConfigurationError: It is not JSON, not a ``netgpt.policy`` file, of another schema
            version, or its scorer / threshold are invalid (the message names the file).
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"policy file {str(file)!r} does not exist")
    try:
        data = loads_config(file.read_text(encoding="utf-8"), source=str(file), what="policy file")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{file}: not a JSON policy file ({exc})") from exc
    if not isinstance(data, dict) or data.get("kind") != POLICY_FILE_KIND:
        kind = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise ConfigurationError(
            f"{file}: not a policy file (kind {kind!r}, expected {POLICY_FILE_KIND!r}); "
            "write one with `netgpt train-router`",
            field="kind",
            value=kind,
        )
    if data.get("schema_version") != POLICY_SCHEMA_VERSION:
        raise ConfigurationError(
            f"{file}: schema_version {data.get('schema_version')!r}, expected "
            f"{POLICY_SCHEMA_VERSION}; retrain with `netgpt train-router`",
            field="schema_version",
            value=data.get("schema_version"),
        )
    try:
        return PolicyFile.model_validate(data)
    except (ValidationError, ValueError) as exc:
        raise ConfigurationError(f"{file}: invalid policy file: {exc}") from exc


def load_policy(path: str | Path) -> LearnedThresholdPolicy:
    """The routing policy of a policy file, for ``NetGPTRouter(policy=...)``.

    Raises:
        FileNotFoundError: The file does not exist.
        ConfigurationError: The file is not a valid policy file.
    """
    return read_policy_file(path).threshold


def load_policy_scorer(path: str | Path) -> LearnedScorer | CloudRelativeScorer | TextScorer:
    """The scorer of a policy file, for ``NetGPTRouter(scorer=...)``.

    Raises:
        FileNotFoundError: The file does not exist.
        ConfigurationError: The file is not a valid policy file.
    """
    return read_policy_file(path).scorer
