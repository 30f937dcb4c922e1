"""langchain-netgpt: network-aware edge/cloud routing for LangChain and LangGraph agents.

The public names are re-exported here. Heavy parts (the in-process HuggingFace edge model, the
stand-in cloud server) load lazily, so ``import langchain_netgpt`` needs neither torch nor
transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_netgpt.errors import (
    BudgetExceededError,
    CloudUnavailableError,
    ConfigurationError,
    EdgeModelError,
    InvalidNetworkStateError,
    InvalidToolCallError,
    MissingExtraError,
    NetGPTError,
    RoutingError,
    StepTimeoutError,
    TraceFormatError,
)
from langchain_netgpt.features import RequestFeatures
from langchain_netgpt.latency import LatencyModel, SideProfile
from langchain_netgpt.network import NetworkMonitor, NetworkState
from langchain_netgpt.policy import (
    AlwaysCloud,
    AlwaysEdge,
    CloudBudget,
    FixedThresholdPolicy,
    NetGPTPolicy,
    RandomPolicy,
    RouteDecision,
    RoutePolicy,
)
from langchain_netgpt.router import NetGPTRouter
from langchain_netgpt.scoring import EdgeScorer, HeuristicScorer, LearnedScorer
from langchain_netgpt.tracing import (
    InMemoryTraceSink,
    JsonlTraceSink,
    RouteTrace,
    TraceSink,
)

if TYPE_CHECKING:
    from langchain_netgpt.edge import HuggingFaceEdgeModel

__version__ = "0.1.0"

__all__ = [
    "AlwaysCloud",
    "AlwaysEdge",
    "BudgetExceededError",
    "CloudBudget",
    "CloudUnavailableError",
    "ConfigurationError",
    "EdgeModelError",
    "EdgeScorer",
    "FixedThresholdPolicy",
    "HeuristicScorer",
    "HuggingFaceEdgeModel",
    "InMemoryTraceSink",
    "InvalidNetworkStateError",
    "InvalidToolCallError",
    "JsonlTraceSink",
    "LatencyModel",
    "LearnedScorer",
    "MissingExtraError",
    "NetGPTError",
    "NetGPTPolicy",
    "NetGPTRouter",
    "NetworkMonitor",
    "NetworkState",
    "RandomPolicy",
    "RequestFeatures",
    "RouteDecision",
    "RoutePolicy",
    "RouteTrace",
    "RoutingError",
    "SideProfile",
    "StepTimeoutError",
    "TraceFormatError",
    "TraceSink",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "HuggingFaceEdgeModel":
        from langchain_netgpt.edge import HuggingFaceEdgeModel

        return HuggingFaceEdgeModel
    raise AttributeError(f"module 'langchain_netgpt' has no attribute {name!r}")
