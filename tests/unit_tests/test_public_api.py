from __future__ import annotations

import subprocess
import sys
import textwrap

import langchain_netgpt

EXPECTED = {
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
        from langchain_netgpt import (
            CloudBudget,
            NetGPTPolicy,
            NetGPTRouter,
            NetworkMonitor,
            NetworkState,
            RouteTrace,
        )
        from langchain_netgpt.routing import (
            HeuristicScorer,
            LatencyModel,
            RequestFeatures,
            RouteDecision,
        )
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
