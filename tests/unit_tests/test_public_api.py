from __future__ import annotations

import subprocess
import sys
import textwrap

import langchain_netgpt

EXPECTED = {
    "AlwaysCloud",
    "LeastLoadedPolicy",
    "LoadSnapshot",
    "MultiTargetPolicy",
    "QoSPolicy",
    "RandomTargetPolicy",
    "RoundRobinPolicy",
    "TargetSpec",
    "AlwaysEdge",
    "BudgetExceededError",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "PrivacyRules",
    "PrivateStepError",
    "RetryPolicy",
    "CloudBudget",
    "CloudUnavailableError",
    "ConfigurationError",
    "EdgeModelError",
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
    "TraceStore",
    "TraceStoreError",
    "__version__",
    "NetGPTRoutingMiddleware",
    "NetGPTState",
    "create_netgpt_agent",
    "netgpt_router_node",
    "EdgePromptCompleter",
    "LocalContext",
    "PromptCompletion",
    "escalation_message",
    "escalation_reason",
}


def test_public_names_are_pinned() -> None:
    assert set(langchain_netgpt.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in langchain_netgpt.__all__:
        assert getattr(langchain_netgpt, name) is not None  # lazy names resolve on access


def test_importing_the_public_names_pulls_in_no_heavy_library() -> None:
    # Import *time* is measured by benchmarks/import_time.py, not asserted here.
    code = textwrap.dedent(
        """
        import sys
        from langchain_netgpt import (NetGPTRouter, NetGPTPolicy, NetworkState, NetworkMonitor,
            RequestFeatures, HeuristicScorer, LatencyModel, CloudBudget, RouteDecision, RouteTrace)
        import langchain_netgpt.edge, langchain_netgpt.cloud, langchain_netgpt.cli
        names = ("torch", "transformers", "xgrammar", "fastapi", "uvicorn", "numpy", "gguf")
        print(",".join(m for m in names if m in sys.modules) or "-")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "-", f"heavy modules imported: {out.stdout}"


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        langchain_netgpt.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
