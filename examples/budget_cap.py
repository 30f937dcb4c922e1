"""A CloudBudget holds the cloud's share at its cap while the policy asks for the cloud every time.

Offline: scripted edge and cloud models. Run: python examples/budget_cap.py
"""

from __future__ import annotations

from langchain_netgpt import CloudBudget, NetGPTRouter
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.testing import ScriptedChatModel

STEPS = 60
CAP = 0.3
WINDOW = 20


def run(budget: CloudBudget | None) -> list[dict]:
    """Route STEPS questions with an always-cloud policy; return each step's route."""
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["answer from the edge"]),
        cloud=ScriptedChatModel(responses=["answer from the cloud"]),
        policy=AlwaysCloud(),
        budget=budget,
    )
    return [router.invoke(f"question {i}").response_metadata["netgpt"] for i in range(STEPS)]


def main() -> dict[str, object]:
    unlimited = run(None)
    budget = CloudBudget(max_cloud_share=CAP, window_steps=WINDOW)
    capped = run(budget)
    targets = [route["target"] for route in capped]
    # The cloud share over every sliding window of WINDOW steps.
    shares = [
        targets[i - WINDOW : i].count("cloud") / WINDOW for i in range(WINDOW, len(targets) + 1)
    ]
    refused = [route for route in capped if route["overridden_by"] == "budget"]
    print(f"always-cloud policy, {STEPS} steps")
    print(f"  no budget:   {sum(r['target'] == 'cloud' for r in unlimited):>2} cloud steps")
    capped_cloud = targets.count("cloud")
    print(f"  cap {CAP:.0%} of {WINDOW}: {capped_cloud:>2} cloud steps, {len(refused)} refused")
    print(f"  cloud share per window: max {max(shares):.2f}, last {shares[-1]:.2f}")
    print("  first 20 steps: " + "".join("C" if t == "cloud" else "e" for t in targets[:20]))
    print(f"  why: {refused[0]['reason']}")
    return {
        "unlimited_cloud_steps": sum(r["target"] == "cloud" for r in unlimited),
        "capped_targets": targets,
        "window_shares": shares,
        "refused": len(refused),
    }


if __name__ == "__main__":
    main()
