"""Router-data export throughput and memory: synthetic route traces to Parquet.

Traces are generated lazily (a generator, one ``RouteTrace`` at a time, built with
``model_construct`` like the executor builds them), with realistic values: network states drawn
around LTE-like bandwidth/RTT, request features from varied prompts and tool sets, edge/cloud
decisions with fallbacks, a share of feedback-rated steps. Three runs in one process:

* ``generate``: the generator alone (the cost of the source, for the ratio);
* ``export``: ``export_router_data(generator, out.parquet)`` over ``--traces`` traces;
* ``export_from_json``: ``--json-traces`` traces written to a JSONL trace file beforehand (not
  timed), read back with ``read_jsonl_traces`` (``RouteTrace.from_json``, as a store does);
* ``export_from_json_fields``: the same file read with ``read_router_traces`` (the fast path
  ``netgpt export --traces ... --kind router`` takes: messages are not built).

Peak RSS is the process's high-water mark (``ru_maxrss``) after each run; the baseline is taken
after imports. Usage: python benchmarks/export_throughput.py [--traces 1000000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from langchain_netgpt import NetworkState, RouteTrace
from langchain_netgpt.export import export_router_data, read_router_traces
from langchain_netgpt.routing import RequestFeatures
from langchain_netgpt.tracing import AttemptRecord, read_jsonl_traces

QUESTIONS = [
    "What is the weather in Paris tomorrow?",
    "Convert 125 EUR to USD and then to JPY.",
    "Book a table for 4 at 8pm, and also send the invite to Ana and Bo.",
    "Summarise the tool result above in one sentence.",
    "Find flights from Oslo to Rome on 2026-03-02, both ways.",
    "Compute the area of a circle of radius 7.5.",
]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _attempt(target: str, *, ok: bool, latency_s: float) -> AttemptRecord:
    # Every field given, as the executor does: model_construct would otherwise call the default
    # factory of `problems` through a slow signature inspection.
    return AttemptRecord.model_construct(
        target=target,
        ok=ok,
        latency_s=latency_s,
        error_type=None if ok else "InvalidToolCallError",
        error=None,
        tool_calls_valid=ok,
        problems=[] if ok else ["missing required property"],
        output=None,
    )


def _network(rng: random.Random) -> NetworkState:
    up = rng.lognormvariate(1.5, 0.9)
    return NetworkState.model_construct(
        bandwidth_up_mbps=up,
        bandwidth_down_mbps=up * rng.uniform(2, 6),
        rtt_ms=rng.lognormvariate(4.0, 0.6),
        loss=rng.choice((0.0, 0.0, 0.0, 0.01, 0.05)),
    )


def _features(rng: random.Random) -> dict[str, Any]:
    tokens = rng.randint(80, 4000)
    return RequestFeatures(
        prompt_tokens=tokens,
        question_tokens=rng.randint(5, 60),
        new_tokens=rng.randint(10, tokens),
        payload_bytes=tokens * 4,
        message_count=rng.randint(1, 9),
        tool_count=rng.randint(0, 6),
        schema_bytes=rng.randint(0, 4000),
        schema_depth=rng.randint(0, 3),
        required_params=rng.randint(0, 8),
        turn_index=rng.randint(0, 4),
        after_tool_result=rng.random() < 0.3,
        multi_call_hints=rng.randint(0, 3),
        previous_target=rng.choice((None, "edge", "cloud")),
    ).to_dict()


def synthetic_traces(n: int, seed: int = 0) -> Iterator[RouteTrace]:
    """``n`` realistic traces, generated one at a time."""
    rng = random.Random(seed)
    prompts = [[HumanMessage(q)] for q in QUESTIONS]
    answers = [
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        AIMessage("The area is 176.7."),
    ]
    t0 = 1_767_225_600.0
    # Pools of distinct network states and request features, drawn per trace: the exporter does
    # the same work per trace as with all-distinct values, and generation stays cheap.
    networks = [_network(rng) for _ in range(997)]
    features = [_features(rng) for _ in range(1009)]
    for i in range(n):
        network = networks[rng.randrange(997)]
        q = rng.randrange(len(QUESTIONS))
        score = rng.random()
        threshold = rng.uniform(0.2, 0.8)
        decided = "edge" if score >= threshold else "cloud"
        fallback = decided == "edge" and rng.random() < 0.15
        final = "cloud" if fallback else decided
        latency = rng.lognormvariate(-0.5, 0.7) + (0.3 if fallback else 0.0)
        attempts = [_attempt(decided, ok=not fallback, latency_s=latency)]
        if fallback:
            attempts.append(_attempt("cloud", ok=True, latency_s=0.3))
        yield RouteTrace.model_construct(
            schema_version=1,
            trace_id=f"{seed:04x}{i:012x}",
            created_at=t0 + i * 0.05,
            run_id=None,
            session_id=f"session-{i // 20}",
            mode="invoke",
            decided_target=decided,
            score=score,
            threshold=threshold,
            policy="netgpt",
            reason="score vs threshold",
            overridden_by=None,
            propensity=1.0 if rng.random() < 0.9 else 0.1,
            expected_edge_s=0.4,
            expected_cloud_s=1.1,
            expected_cloud_price_usd=0.0004,
            network=network,
            features=features[rng.randrange(1009)],
            attempts=attempts,
            final_target=final,
            fallback=fallback,
            fallback_reason=None,
            latency_s=latency,
            cloud_price_usd=0.0004 if final == "cloud" else 0.0,
            bytes_sent=0,
            bytes_received=0,
            usage=None,
            tool_calls_valid=rng.random() > 0.1,
            error=None,
            quality=rng.random() if rng.random() < 0.2 else None,
            tools=[],
            tool_choice=None,
            messages=prompts[q],
            output=answers[q % 2],
        )


def _timed(label: str, n: int, body: Any) -> dict[str, Any]:
    start = time.perf_counter()
    body()
    seconds = time.perf_counter() - start
    return {
        "run": label,
        "traces": n,
        "seconds": seconds,
        "rows_per_s": n / seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--json-traces", type=int, default=100_000)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "export_throughput.json"
    )
    args = parser.parse_args()
    baseline = _peak_rss_mb()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(
            _timed("generate", args.traces, lambda: sum(1 for _ in synthetic_traces(args.traces)))
        )
        results.append(
            _timed(
                "export",
                args.traces,
                lambda: export_router_data(synthetic_traces(args.traces), f"{folder}/r.parquet"),
            )
        )
        size_mb = Path(folder, "r.parquet").stat().st_size / 1e6

        # A JSONL trace file written beforehand (untimed), read back the two ways.
        trace_file = Path(folder, "traces.jsonl")
        with trace_file.open("w") as file:
            for trace in synthetic_traces(args.json_traces, seed=1):
                file.write(trace.to_json() + "\n")
        results.append(
            _timed(
                "export_from_json",
                args.json_traces,
                lambda: export_router_data(read_jsonl_traces(trace_file), f"{folder}/j.parquet"),
            )
        )
        results.append(
            _timed(
                "export_from_json_fields",
                args.json_traces,
                lambda: export_router_data(read_router_traces(trace_file), f"{folder}/k.parquet"),
            )
        )
    generate, export = results[0], results[1]
    export["rows_per_s_excluding_generation"] = args.traces / (
        export["seconds"] - generate["seconds"]
    )
    print(f"{'run':<24}{'traces':>10}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>13}")
    for r in results:
        print(
            f"{r['run']:<24}{r['traces']:>10}{r['seconds']:>10.1f}{r['rows_per_s']:>12,.0f}"
            f"{r['peak_rss_mb']:>13.0f}"
        )
    print(
        f"baseline RSS after imports: {baseline:.0f} MB; parquet file: {size_mb:.1f} MB; "
        f"export excluding generation: {export['rows_per_s_excluding_generation']:,.0f} rows/s"
    )
    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "baseline_rss_mb": baseline,
        "parquet_mb": size_mb,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
