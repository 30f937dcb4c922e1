"""langchain-netgpt: network-aware edge/cloud routing for LangChain and LangGraph agents.

The public names are re-exported here. Heavy parts (the in-process HuggingFace edge model, the
stand-in cloud server) load lazily, so ``import langchain_netgpt`` needs neither torch nor
transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_netgpt.errors import (
    BudgetExceededError,
    CircuitOpenError,
    CloudUnavailableError,
    ConfigurationError,
    EdgeModelError,
    InvalidNetworkStateError,
    InvalidToolCallError,
    MissingExtraError,
    NetGPTError,
    PrivateStepError,
    RoutingError,
    StepTimeoutError,
    TraceFormatError,
    TraceStoreError,
)
from langchain_netgpt.learn.policy_file import LearnedThresholdPolicy
from langchain_netgpt.router import NetGPTRouter
from langchain_netgpt.routing.exploration import EpsilonGreedyPolicy
from langchain_netgpt.routing.features import RequestFeatures
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
from langchain_netgpt.tracing import (
    InMemoryTraceSink,
    JsonlTraceSink,
    RouteTrace,
    TraceSink,
    TraceStore,
)

if TYPE_CHECKING:
    from langchain_netgpt.edge import HuggingFaceEdgeModel
    from langchain_netgpt.graph import NetGPTState, create_netgpt_agent, netgpt_router_node
    from langchain_netgpt.middleware import NetGPTRoutingMiddleware

__version__ = "0.1.0"

__all__ = [
    "AlwaysCloud",
    "AlwaysEdge",
    "BudgetExceededError",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "CloudBudget",
    "CloudUnavailableError",
    "ConfigurationError",
    "EdgeModelError",
    "EdgePromptCompleter",
    "EdgeScorer",
    "EpsilonGreedyPolicy",
    "FixedThresholdPolicy",
    "HeuristicScorer",
    "HuggingFaceEdgeModel",
    "InMemoryTraceSink",
    "InvalidNetworkStateError",
    "InvalidToolCallError",
    "JsonlTraceSink",
    "LatencyModel",
    "LearnedScorer",
    "LearnedThresholdPolicy",
    "LeastLoadedPolicy",
    "LoadSnapshot",
    "LocalContext",
    "MissingExtraError",
    "MultiTargetPolicy",
    "NetGPTError",
    "NetGPTPolicy",
    "NetGPTRouter",
    "NetGPTRoutingMiddleware",
    "NetGPTState",
    "NetworkMonitor",
    "NetworkState",
    "PrivacyRules",
    "PrivateStepError",
    "PromptCompletion",
    "QoSPolicy",
    "RandomPolicy",
    "RandomTargetPolicy",
    "RequestFeatures",
    "RetryPolicy",
    "RoundRobinPolicy",
    "RouteDecision",
    "RoutePolicy",
    "RouteTrace",
    "RoutingError",
    "SideProfile",
    "StepTimeoutError",
    "TargetSpec",
    "TraceFormatError",
    "TraceSink",
    "TraceStore",
    "TraceStoreError",
    "__version__",
    "create_netgpt_agent",
    "escalation_message",
    "escalation_reason",
    "netgpt_router_node",
]

# Public names whose modules import heavier libraries (torch lazily, langchain.agents, langgraph):
# resolved on first access so `import langchain_netgpt` stays light.
_LAZY = {
    "HuggingFaceEdgeModel": "langchain_netgpt.edge",
    "NetGPTRoutingMiddleware": "langchain_netgpt.middleware",
    "NetGPTState": "langchain_netgpt.graph",
    "create_netgpt_agent": "langchain_netgpt.graph",
    "netgpt_router_node": "langchain_netgpt.graph",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_netgpt' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
