"""TraceStore throughput: single writes, batched writes and streaming queries, against JSONL.

Traces are router-sized (a question, a tool schema, an answer with a tool call: about 2-3 KB of
JSON each). Measured in one run, on a fresh file in a temporary folder of the given ``--dir``:

* single writes: ``TraceStore.write`` one at a time (one committed transaction each), with
  ``synchronous="FULL"`` (fsync per commit, the default) and ``"NORMAL"``; the baseline is
  ``JsonlTraceSink`` with and without ``fsync``;
* batched writes: ``write_many`` in batches of ``--batch`` traces;
* queries: ``query()`` over every row (parsing each trace back into a ``RouteTrace``), a filtered
  ``query(route=...)``, and ``count()``; the baseline is ``read_jsonl_traces``.

The same measures run on the PostgreSQL store (``TraceStore("postgresql://...")``) beside SQLite:
against ``--postgres URL``, or a throwaway local server (``TemporaryPostgres``, the distribution's
binaries, fsync on like a production server) unless ``--no-postgres``. A PostgreSQL "FULL" write
waits for the server's WAL flush (``synchronous_commit=on``), "NORMAL" does not.

Usage: python benchmarks/trace_store.py [--single 500] [--rows 20000] [--batch 500]
       [--dir /tmp] [--postgres URL | --no-postgres] [--out benchmarks/results/trace_store.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_netgpt import JsonlTraceSink, NetworkState, RouteTrace, TraceStore
from langchain_netgpt.testing.postgres_server import TemporaryPostgres
from langchain_netgpt.tracing import read_jsonl_traces

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city, in metric or imperial units.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["metric", "imperial"]},
            },
            "required": ["city"],
        },
    },
}


def make_trace(i: int) -> RouteTrace:
    target = "edge" if i % 3 else "cloud"
    return RouteTrace(
        mode="invoke",
        decided_target=target,
        score=0.4 + (i % 50) / 100,
        threshold=0.55,
        policy="netgpt",
        reason=f"{target}: score vs threshold",
        network=NetworkState(bandwidth_up_mbps=2.0, bandwidth_down_mbps=8.0, rtt_ms=80 + i % 40),
        features={"prompt_tokens": 120 + i % 30, "tool_count": 1, "turn_index": i % 5},
        final_target=target,
        session_id=f"session-{i % 100}",
        latency_s=0.2 + (i % 7) / 10,
        tool_calls_valid=i % 4 != 0,
        tools=[WEATHER],
        messages=[
            SystemMessage("You are a helpful assistant that calls tools when needed."),
            HumanMessage(f"What is the weather like in city number {i} today, in metric units?"),
        ],
        output=AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": f"City{i}", "unit": "metric"}, "id": "c"}
            ],
        ),
    )


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_single_store(folder: Path, traces: list[RouteTrace], synchronous: str) -> float:
    with TraceStore(folder / f"single-{synchronous}.db", synchronous=synchronous) as store:  # type: ignore[arg-type]
        start = time.perf_counter()
        for trace in traces:
            store.write(trace)
        return rate(len(traces), time.perf_counter() - start)


def bench_single_jsonl(folder: Path, traces: list[RouteTrace], fsync: bool) -> float:
    sink = JsonlTraceSink(folder / f"single-{fsync}.jsonl", fsync=fsync)
    start = time.perf_counter()
    for trace in traces:
        sink.write(trace)
    elapsed = time.perf_counter() - start
    sink.close()
    return rate(len(traces), elapsed)


def bench_postgres(url: str, traces: list[RouteTrace], single: int, rows: int, batch: int) -> dict:
    """The SQLite measures, on PostgreSQL (each in a fresh schema)."""
    results: dict[str, Any] = {"single_writes_per_s": {}}
    for sync in ("FULL", "NORMAL"):
        with TraceStore(url, schema=f"bench_single_{sync.lower()}", synchronous=sync) as store:  # type: ignore[arg-type]
            start = time.perf_counter()
            for trace in traces[:single]:
                store.write(trace)
            results["single_writes_per_s"][f"store_{sync.lower()}"] = rate(
                single, time.perf_counter() - start
            )
    with TraceStore(url, schema="bench_batched") as store:
        start = time.perf_counter()
        for i in range(0, rows, batch):
            store.write_many(traces[i : i + batch])
        results["batched_writes_per_s"] = {"store_full": rate(rows, time.perf_counter() - start)}
        start = time.perf_counter()
        read = sum(1 for _ in store.query(batch_size=1000))
        query_all = rate(read, time.perf_counter() - start)
        start = time.perf_counter()
        cloud = sum(1 for _ in store.query(route="cloud"))
        query_route = rate(cloud, time.perf_counter() - start)
        start = time.perf_counter()
        counted = store.count(valid=True)
        count_s = time.perf_counter() - start
    results["query_rows_per_s"] = {"store_all": query_all, "store_route_filter": query_route}
    results["count_s"] = {"valid_true": count_s, "rows": counted}
    return results


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=500, help="traces written one at a time")
    parser.add_argument("--rows", type=int, default=20_000, help="traces written in batches")
    parser.add_argument("--batch", type=int, default=500, help="traces per write_many")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the scratch files")
    parser.add_argument(
        "--postgres", default=None, help="PostgreSQL URL (default: a temporary one)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "trace_store.json",
    )
    return parser.parse_args()


def bench_sqlite(
    folder: Path, traces: list[RouteTrace], args: argparse.Namespace
) -> dict[str, Any]:
    """The SQLite store against JSONL: single and batched writes, queries, count, file sizes."""
    results: dict[str, Any] = {}
    single = traces[: args.single]
    results["single_writes_per_s"] = {
        "store_full": bench_single_store(folder, single, "FULL"),
        "store_normal": bench_single_store(folder, single, "NORMAL"),
        "jsonl_fsync": bench_single_jsonl(folder, single, fsync=True),
        "jsonl": bench_single_jsonl(folder, single, fsync=False),
    }

    path = folder / "batched.db"
    with TraceStore(path) as store:
        start = time.perf_counter()
        for i in range(0, args.rows, args.batch):
            store.write_many(traces[i : i + args.batch])
        batched = rate(args.rows, time.perf_counter() - start)
    results["batched_writes_per_s"] = {"store_full": batched, "batch": args.batch}

    jsonl = folder / "all.jsonl"
    sink = JsonlTraceSink(jsonl)
    for trace in traces[: args.rows]:
        sink.write(trace)
    sink.close()

    with TraceStore(path) as store:
        start = time.perf_counter()
        read = sum(1 for _ in store.query(batch_size=1000))
        query_all = rate(read, time.perf_counter() - start)
        start = time.perf_counter()
        cloud = sum(1 for _ in store.query(route="cloud"))
        query_route = rate(cloud, time.perf_counter() - start)
        start = time.perf_counter()
        counted = store.count(valid=True)
        count_s = time.perf_counter() - start
    start = time.perf_counter()
    read_jsonl = sum(1 for _ in read_jsonl_traces(jsonl))
    jsonl_read = rate(read_jsonl, time.perf_counter() - start)
    results["query_rows_per_s"] = {
        "store_all": query_all,
        "store_route_filter": query_route,
        "jsonl_read_all": jsonl_read,
        "rows": read,
        "route_rows": cloud,
    }
    results["count_s"] = {"valid_true": count_s, "rows": counted}
    results["file_bytes"] = {"store": path.stat().st_size, "jsonl": jsonl.stat().st_size}
    return results


def print_table(results: dict[str, Any], args: argparse.Namespace) -> None:
    """The measures as a table, the ratios, and PostgreSQL beside SQLite when it ran."""
    single, queries = results["single_writes_per_s"], results["query_rows_per_s"]
    rows = [
        ("single write, store FULL", single["store_full"], "writes/s"),
        ("single write, store NORMAL", single["store_normal"], "writes/s"),
        ("single write, JSONL fsync", single["jsonl_fsync"], "writes/s"),
        ("single write, JSONL", single["jsonl"], "writes/s"),
        (
            f"write_many x{args.batch}, store FULL",
            results["batched_writes_per_s"]["store_full"],
            "writes/s",
        ),
        ("query() all rows", queries["store_all"], "rows/s"),
        ("query(route='cloud')", queries["store_route_filter"], "rows/s"),
        ("read_jsonl_traces all rows", queries["jsonl_read_all"], "rows/s"),
        (f"count(valid=True) over {args.rows}", results["count_s"]["valid_true"] * 1000, "ms"),
    ]
    trace_bytes = results["trace_json_bytes"]
    print(f"trace JSON: {trace_bytes:.0f} bytes/trace; {args.rows} rows for batched and queries")
    print(f"{'measure':<36} {'value':>12}  unit")
    for name, value, unit in rows:
        print(f"{name:<36} {value:>12,.1f}  {unit}")
    for name, value in results["ratios"].items():
        print(f"{name:<36} {value:>12.2f}  x")
    if "postgres" in results:
        pg, lite = results["postgres"], results
        side_by_side = [
            ("single write FULL", "single_writes_per_s", "store_full", "writes/s"),
            ("single write NORMAL", "single_writes_per_s", "store_normal", "writes/s"),
            (f"write_many x{args.batch}", "batched_writes_per_s", "store_full", "writes/s"),
            ("query() all rows", "query_rows_per_s", "store_all", "rows/s"),
            ("query(route='cloud')", "query_rows_per_s", "store_route_filter", "rows/s"),
        ]
        print(f"\n{'PostgreSQL vs SQLite':<28} {'postgres':>12} {'sqlite':>12} {'pg/sqlite':>9}")
        for name, group, key, unit in side_by_side:
            a, b = pg[group][key], lite[group][key]
            print(f"{name:<28} {a:>12,.1f} {b:>12,.1f} {a / b:>9.2f}  {unit}")
        a, b = pg["count_s"]["valid_true"] * 1000, lite["count_s"]["valid_true"] * 1000
        print(f"{'count(valid=True)':<28} {a:>12,.1f} {b:>12,.1f} {a / b:>9.2f}  ms")


def main() -> None:
    args = _parse_args()
    traces = [make_trace(i) for i in range(max(args.single, args.rows))]
    trace_bytes = sum(len(t.to_json()) for t in traces[:1000]) / min(1000, len(traces))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = bench_sqlite(Path(tmp), traces, args)

    if not args.no_postgres:
        server = None if args.postgres else TemporaryPostgres(fsync=True).start()
        try:
            url = args.postgres or server.url  # type: ignore[union-attr]
            results["postgres"] = bench_postgres(url, traces, args.single, args.rows, args.batch)
        finally:
            if server is not None:
                server.stop()

    single, queries = results["single_writes_per_s"], results["query_rows_per_s"]
    results["trace_json_bytes"] = trace_bytes
    results["ratios"] = {
        "single_store_full_vs_jsonl_fsync": single["store_full"] / single["jsonl_fsync"],
        "batched_vs_single_full": results["batched_writes_per_s"]["store_full"]
        / single["store_full"],
        "query_vs_jsonl_read": queries["store_all"] / queries["jsonl_read_all"],
    }
    results["machine"] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    results["args"] = {"single": args.single, "rows": args.rows, "batch": args.batch}
    print_table(results, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
