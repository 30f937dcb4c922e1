"""The routing runtime: features, scores, the network, the policy, its gates and the executor.

Everything a routed step needs at run time lives here. The front doors (``NetGPTRouter``, the
middleware and the LangGraph node) sit beside this package; the offline parts (``export``,
``learn``, ``bench``, ``recorded``) are never imported by it.

The names below are the runtime's public configuration and types; the most used of them are also
re-exported from :mod:`langchain_netgpt`. They load on first access, so importing one submodule
does not import the others.

Example:
    .. code-block:: python

        from langchain_netgpt.routing import RetryPolicy

        retry = RetryPolicy(attempts=3, base_backoff_s=0.1, jitter=0.0)
        assert retry.attempts == 3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_netgpt._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_netgpt.routing.exploration import EpsilonGreedyPolicy
    from langchain_netgpt.routing.features import RequestFeatures, ToolsSummary
    from langchain_netgpt.routing.latency import LatencyModel, SideProfile
    from langchain_netgpt.routing.network import NetworkMonitor, NetworkState
    from langchain_netgpt.routing.policy import (
        AlwaysCloud,
        AlwaysEdge,
        CloudBudget,
        FixedThresholdPolicy,
        NetGPTPolicy,
        RandomPolicy,
        RouteDecision,
        RoutePolicy,
    )
    from langchain_netgpt.routing.privacy import PrivacyRules
    from langchain_netgpt.routing.prompt_completion import (
        EdgePromptCompleter,
        LocalContext,
        PromptCompletion,
    )
    from langchain_netgpt.routing.qos import (
        LeastLoadedPolicy,
        MultiTargetPolicy,
        QoSPolicy,
        RandomTargetPolicy,
        RoundRobinPolicy,
    )
    from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
    from langchain_netgpt.routing.scoring import EdgeScorer, HeuristicScorer, LearnedScorer
    from langchain_netgpt.routing.self_offload import escalation_message, escalation_reason
    from langchain_netgpt.routing.targets import LoadSnapshot, TargetSpec

_LAZY = {
    "EpsilonGreedyPolicy": "exploration",
    "RequestFeatures": "features",
    "ToolsSummary": "features",
    "LatencyModel": "latency",
    "SideProfile": "latency",
    "NetworkMonitor": "network",
    "NetworkState": "network",
    "AlwaysCloud": "policy",
    "AlwaysEdge": "policy",
    "CloudBudget": "policy",
    "FixedThresholdPolicy": "policy",
    "NetGPTPolicy": "policy",
    "RandomPolicy": "policy",
    "RouteDecision": "policy",
    "RoutePolicy": "policy",
    "PrivacyRules": "privacy",
    "EdgePromptCompleter": "prompt_completion",
    "LocalContext": "prompt_completion",
    "PromptCompletion": "prompt_completion",
    "LeastLoadedPolicy": "qos",
    "MultiTargetPolicy": "qos",
    "QoSPolicy": "qos",
    "RandomTargetPolicy": "qos",
    "RoundRobinPolicy": "qos",
    "CircuitBreakerConfig": "reliability",
    "RetryPolicy": "reliability",
    "EdgeScorer": "scoring",
    "HeuristicScorer": "scoring",
    "LearnedScorer": "scoring",
    "escalation_message": "self_offload",
    "escalation_reason": "self_offload",
    "LoadSnapshot": "targets",
    "TargetSpec": "targets",
}
"""Public name -> the ``langchain_netgpt.routing`` submodule that defines it."""

__all__ = [
    "AlwaysCloud",
    "AlwaysEdge",
    "CircuitBreakerConfig",
    "CloudBudget",
    "EdgePromptCompleter",
    "EdgeScorer",
    "EpsilonGreedyPolicy",
    "FixedThresholdPolicy",
    "HeuristicScorer",
    "LatencyModel",
    "LearnedScorer",
    "LeastLoadedPolicy",
    "LoadSnapshot",
    "LocalContext",
    "MultiTargetPolicy",
    "NetGPTPolicy",
    "NetworkMonitor",
    "NetworkState",
    "PrivacyRules",
    "PromptCompletion",
    "QoSPolicy",
    "RandomPolicy",
    "RandomTargetPolicy",
    "RequestFeatures",
    "RetryPolicy",
    "RoundRobinPolicy",
    "RouteDecision",
    "RoutePolicy",
    "SideProfile",
    "TargetSpec",
    "ToolsSummary",
    "escalation_message",
    "escalation_reason",
]


__getattr__ = lazy_getattr(
    __name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()}
)
