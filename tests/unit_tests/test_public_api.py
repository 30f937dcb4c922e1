from __future__ import annotations

import subprocess
import sys
import textwrap

import langchain_netgpt

EXPECTED = {
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
}


def test_public_names_are_pinned() -> None:
    assert set(langchain_netgpt.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in langchain_netgpt.__all__:
        if name != "HuggingFaceEdgeModel":  # resolves lazily; needs the edge extra
            assert getattr(langchain_netgpt, name) is not None


def test_import_is_fast_and_pulls_in_no_torch_or_transformers() -> None:
    code = textwrap.dedent(
        """
        import sys, time
        t0 = time.perf_counter()
        from langchain_netgpt import (NetGPTRouter, NetGPTPolicy, NetworkState, NetworkMonitor,
            RequestFeatures, HeuristicScorer, LatencyModel, CloudBudget, RouteDecision, RouteTrace)
        elapsed = time.perf_counter() - t0
        names = ("torch", "transformers", "xgrammar", "fastapi", "numpy")
        heavy = [m for m in names if m in sys.modules]
        print(f"{elapsed:.3f} {','.join(heavy) or '-'}")
        """
    )
    best = min(
        float(out.split()[0])
        for out in (
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
            for _ in range(5)
        )
    )
    last = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert last.stdout.split()[1] == "-", f"heavy modules imported: {last.stdout}"
    assert best < 1.0, f"import took {best:.2f} s"


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        langchain_netgpt.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
