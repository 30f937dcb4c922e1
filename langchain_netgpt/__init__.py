"""langchain-netgpt: network-aware edge/cloud routing for LangChain and LangGraph agents.

The top level holds the front doors (:class:`NetGPTRouter`, :class:`NetGPTRoutingMiddleware`,
:func:`create_netgpt_agent`, :func:`netgpt_router_node`), the edge model and the configuration
and types most users construct. Everything else public lives in its subpackage, each with its own
``__all__``: :mod:`langchain_netgpt.routing` (policies, scorers, the network, reliability,
privacy, targets), :mod:`langchain_netgpt.tracing` (traces, sinks, stores),
:mod:`langchain_netgpt.errors`, :mod:`langchain_netgpt.edge`, :mod:`langchain_netgpt.cloud`,
:mod:`langchain_netgpt.export`, :mod:`langchain_netgpt.learn`.

Heavy parts (the in-process HuggingFace edge model, the stand-in cloud server) load lazily, so
``import langchain_netgpt`` needs neither torch nor transformers.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from langchain_netgpt._lazy import lazy_getattr
from langchain_netgpt.errors import NetGPTError, RoutingError
from langchain_netgpt.router import NetGPTRouter
from langchain_netgpt.routing.network import NetworkMonitor, NetworkState
from langchain_netgpt.routing.policy import CloudBudget, NetGPTPolicy
from langchain_netgpt.routing.targets import TargetSpec
from langchain_netgpt.tracing import JsonlTraceSink, RouteTrace, TraceStore

if TYPE_CHECKING:
    from langchain_netgpt.edge import HuggingFaceEdgeModel
    from langchain_netgpt.graph import NetGPTState, create_netgpt_agent, netgpt_router_node
    from langchain_netgpt.middleware import NetGPTRoutingMiddleware

__version__ = "0.1.0"

# The front doors, the edge model, what users configure (the engine's configuration object joins
# here), what routing records, and the errors: the base class and the one a routed call raises
# when every side failed. Everything else is in a subpackage's __all__.
__all__ = [
    "CloudBudget",
    "HuggingFaceEdgeModel",
    "JsonlTraceSink",
    "NetGPTError",
    "NetGPTPolicy",
    "NetGPTRouter",
    "NetGPTRoutingMiddleware",
    "NetGPTState",
    "NetworkMonitor",
    "NetworkState",
    "RouteTrace",
    "RoutingError",
    "TargetSpec",
    "TraceStore",
    "__version__",
    "create_netgpt_agent",
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

# Names the top level exported before issue 16, and the subpackage that exports them now: they
# still resolve, with a DeprecationWarning that names the new import.
_MOVED = {
    **dict.fromkeys(
        (
            "AlwaysCloud",
            "AlwaysEdge",
            "CircuitBreakerConfig",
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
            "escalation_message",
            "escalation_reason",
        ),
        "langchain_netgpt.routing",
    ),
    **dict.fromkeys(
        (
            "BudgetExceededError",
            "CircuitOpenError",
            "CloudUnavailableError",
            "ConfigurationError",
            "EdgeModelError",
            "InvalidNetworkStateError",
            "InvalidToolCallError",
            "MissingExtraError",
            "PrivateStepError",
            "StepTimeoutError",
            "TraceFormatError",
            "TraceStoreError",
        ),
        "langchain_netgpt.errors",
    ),
    "InMemoryTraceSink": "langchain_netgpt.tracing",
    "TraceSink": "langchain_netgpt.tracing",
    "LearnedThresholdPolicy": "langchain_netgpt.learn",
}


_lazy_getattr = lazy_getattr(__name__, {**_LAZY, **_MOVED})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"langchain_netgpt.{name} moved out of the top level: import it from {_MOVED[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
    return _lazy_getattr(name)
