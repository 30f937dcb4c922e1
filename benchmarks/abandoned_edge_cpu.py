"""CPU left busy after a timed-out edge try: with the router's cancel token, and without.

A router with the bundled CPU edge (SmolLM2-135M-Instruct, ``max_new_tokens=1024`` so one answer
takes far longer than the deadline), ``AlwaysEdge`` and a short ``step_timeout_s`` answers a
"write a long story" request: the edge try times out, the fallback (a scripted cloud: the cloud's
own process is not what is measured) answers, and the process's CPU time is sampled in windows
after the answer. The same run measures, as the baseline, the behaviour before cancel tokens: the
same generation started in a worker thread that nobody cancels, abandoned after the same time.

The baseline runs once, last: its generation is still running when the process exits
(``edge_idle_after_answer_s`` is ``inf`` when the edge was still busy 20 s after the answer).

Usage: python benchmarks/abandoned_edge_cpu.py [--timeout-s 3] [--rounds 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.routing import AlwaysEdge
from langchain_netgpt.testing import ScriptedChatModel

PROMPT = [HumanMessage("Write a very long story about a lighthouse keeper, in many chapters.")]
WINDOWS_S = (0.0, 1.0, 2.0, 4.0)


def cpu_windows(start: float) -> dict[str, float]:
    """Process CPU seconds used in each window after ``start`` (wall, perf_counter)."""
    out: dict[str, float] = {}
    for lo, hi in itertools.pairwise(WINDOWS_S):
        while time.perf_counter() < start + lo:
            time.sleep(0.005)
        cpu0 = time.process_time()
        time.sleep(max(0.0, start + hi - time.perf_counter()))
        out[f"cpu_s_{lo:g}_{hi:g}s"] = time.process_time() - cpu0
    return out


def watch_lock(edge: HuggingFaceEdgeModel, start: float, limit_s: float = 20.0) -> dict[str, float]:
    """Watch, in a thread, when the edge's generate lock is free (its generation ended).

    The returned dict gets ``edge_idle_after_answer_s``: seconds from ``start``, ``inf`` when
    the edge was still generating ``limit_s`` after it.
    """
    lock = edge.load().generate_lock
    out: dict[str, float] = {}

    def watch() -> None:
        if lock.acquire(timeout=limit_s):
            lock.release()
            out["edge_idle_after_answer_s"] = time.perf_counter() - start
        else:
            out["edge_idle_after_answer_s"] = float("inf")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    out["_thread"] = thread  # type: ignore[assignment]
    return out


def lock_free_after(watched: dict[str, Any]) -> float:
    watched.pop("_thread").join()
    return float(watched["edge_idle_after_answer_s"])


def with_router(edge: HuggingFaceEdgeModel, timeout_s: float) -> dict[str, Any]:
    cloud = ScriptedChatModel(responses=["the cloud's answer"])
    router = NetGPTRouter(edge=edge, cloud=cloud, policy=AlwaysEdge(), step_timeout_s=timeout_s)
    t0 = time.perf_counter()
    reply = router.invoke(PROMPT)
    answered = time.perf_counter()
    watched = watch_lock(edge, answered)
    assert reply.content == "the cloud's answer", reply
    row = {"answered_after_s": answered - t0, **cpu_windows(answered)}
    row["edge_idle_after_answer_s"] = lock_free_after(watched)
    return row


def without_cancel(edge: HuggingFaceEdgeModel, timeout_s: float) -> dict[str, Any]:
    """The old behaviour: the try is abandoned after ``timeout_s`` but keeps generating."""
    t0 = time.perf_counter()
    worker = threading.Thread(target=edge.invoke, args=(PROMPT,), daemon=True)
    worker.start()
    worker.join(timeout_s)
    answered = time.perf_counter()  # where the fallback would answer
    watched = watch_lock(edge, answered)
    row = {"answered_after_s": answered - t0, **cpu_windows(answered)}
    row["edge_idle_after_answer_s"] = lock_free_after(watched)  # inf: still busy at 20 s
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-s", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/abandoned_edge_cpu.json")
    args = parser.parse_args()
    edge = HuggingFaceEdgeModel.from_bundled(max_new_tokens=1024)
    edge.invoke("Hi")  # load and warm up
    rows: dict[str, list[dict[str, Any]]] = {"router (cancel token)": [], "no cancel (before)": []}
    for _ in range(args.rounds):
        rows["router (cancel token)"].append(with_router(edge, args.timeout_s))
    # Last, once: the abandoned generation runs on to its end (the process exits under it).
    rows["no cancel (before)"].append(without_cancel(edge, args.timeout_s))
    keys = ["answered_after_s", *(k for k in rows["no cancel (before)"][0] if k.startswith("cpu"))]
    keys.append("edge_idle_after_answer_s")
    print(f"step_timeout_s={args.timeout_s}, {args.rounds} rounds, {os.cpu_count()} CPUs; medians")
    print(f"{'':24}" + "".join(f"{k:>26}" for k in keys))
    summary: dict[str, dict[str, float]] = {}
    for name, runs in rows.items():
        summary[name] = {k: statistics.median(r[k] for r in runs) for k in keys}
        print(f"{name:24}" + "".join(f"{summary[name][k]:>26.3f}" for k in keys), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "step_timeout_s": args.timeout_s,
                "rounds": args.rounds,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "median": summary,
                "runs": rows,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"wrote {out}", flush=True)
    os._exit(0)  # do not wait for the abandoned baseline generation


if __name__ == "__main__":
    main()
