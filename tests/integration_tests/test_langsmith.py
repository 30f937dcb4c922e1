"""Routed runs through the real ``langsmith`` client, tracing on, into a local LangSmith stand-in.

A threaded HTTP server on 127.0.0.1 answers what the client asks (``/info``, the multipart and
JSON batch ingestion endpoints, ``/sessions``, ``/runs/query``) and records every body,
decompressed. The traced workload runs in a subprocess whose environment turns tracing on
(``LANGSMITH_TRACING``, ``LANGSMITH_ENDPOINT``, ...), as a user's would: langsmith caches its
environment and client per process. The tests assert on what the client posted, then read it
back with ``netgpt export --from-langsmith``.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from langchain_netgpt.cli import app
from langchain_netgpt.tracing import read_jsonl_traces

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PROJECT = "netgpt-capture"
SECRET = "tok-3f9a2c71e5d84b06"  # the value of NETGPT_CAPTURE_TOKEN in the traced process
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0"
ROUTE_KEYS = (
    "netgpt.route",
    "netgpt.score",
    "netgpt.threshold",
    "netgpt.rtt_ms",
    "netgpt.bandwidth_mbps",
    "netgpt.fallback",
    "netgpt.latency_ms",
)
SCENARIOS = (
    "router-invoke",
    "router-ainvoke",
    "router-stream",
    "router-astream",
    "middleware-invoke",
    "middleware-ainvoke",
    "router-fallback",
    "router-secret",
    "router-priced-edge",
)
ROUTER_SCENARIOS = {  # scenario: the side that serves it
    "router-invoke": "edge",
    "router-ainvoke": "cloud",
    "router-stream": "edge",
    "router-astream": "cloud",
    "router-fallback": "cloud",
    "router-priced-edge": "edge",
}
EDGE_USD_PER_1K = (0.5, 2.0)  # input, output: the edge price of "router-priced-edge"


# ------------------------------------------------------------------------ the LangSmith stand-in


class LangSmithCapture:
    """Records what the langsmith client sends; answers its queries from what it recorded.

    ``mode``: ``"zstd"`` (compressed multipart, what LangSmith's own /info enables), or
    ``"batch"`` (the JSON ``/runs/batch`` endpoint of servers without multipart).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.ops: list[tuple[str, dict[str, Any]]] = []  # ("post" | "patch", run fields)
        self.queries: list[dict[str, Any]] = []
        self.served_usage: dict[str, dict[str, Any]] = {}  # scenario: the served side's usage
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what was recorded ----------------------------------------------------------------------
    def runs(self) -> dict[str, dict[str, Any]]:
        """Each run as LangSmith stores it: the post, updated by its patches."""
        merged: dict[str, dict[str, Any]] = {}
        with self._lock:
            ops = list(self.ops)
        for kind in ("post", "patch"):
            for op, fields in ops:
                if op == kind:
                    run = merged.setdefault(str(fields["id"]), {})
                    run.update({k: v for k, v in fields.items() if v is not None})
        for run in merged.values():
            run["session_id"] = _session_id(run.get("session_name") or PROJECT)
            run["status"] = "error" if run.get("error") else "success"
        return merged

    def routed(self, scenario: str) -> list[dict[str, Any]]:
        """The routed model runs of one scenario (its models are named after it)."""
        return [
            run
            for run in self.runs().values()
            if any(tag.startswith("netgpt:") for tag in run.get("tags") or [])
            and _metadata(run).get("ls_model_name", "").startswith(scenario + "/")
        ]

    def patches(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [f for op, f in self.ops if op == "patch" and str(f["id"]) == run_id]

    # -- ingestion --------------------------------------------------------------------------------
    def ingest_multipart(self, content_type: str, body: bytes) -> None:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        runs: dict[tuple[str, str], dict[str, Any]] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            op, run_id, *field = name.split(".")
            if op not in ("post", "patch"):
                continue
            value = json.loads(part.get_payload(decode=True))
            fields = runs.setdefault((op, run_id), {"id": run_id})
            if field:
                fields[field[0]] = value
            else:
                fields.update(value)
        with self._lock:
            self.ops.extend((op, fields) for (op, _), fields in runs.items())

    def ingest_batch(self, body: bytes) -> None:
        data = json.loads(body)
        with self._lock:
            for op in ("post", "patch"):
                self.ops.extend((op, fields) for fields in data.get(op) or [])

    # -- queries ----------------------------------------------------------------------------------
    def sessions(self, name: str) -> list[dict[str, Any]]:
        known = {run.get("session_name") for _, run in self.ops if run.get("session_name")}
        if name not in known:
            return []
        return [
            {
                "id": _session_id(name),
                "name": name,
                "tenant_id": str(uuid.UUID(int=0)),
                "start_time": "2026-01-01T00:00:00+00:00",
                "reference_dataset_id": None,
            }
        ]

    def query(self, body: dict[str, Any]) -> dict[str, Any] | None:
        self.queries.append(body)
        wanted = re.findall(r'has\(tags, "([^"]+)"\)', body.get("filter") or "")
        if body.get("filter") and not re.fullmatch(
            r'or\((has\(tags, "[^"]+"\)(, )?)+\)', body["filter"]
        ):
            return None  # a filter this stand-in does not understand: answer 400
        runs = [
            run
            for run in self.runs().values()
            if run["session_id"] in (body.get("session") or [run["session_id"]])
            and (body.get("run_type") in (None, run.get("run_type")))
            and (not wanted or set(wanted) & set(run.get("tags") or []))
        ]
        runs.sort(key=lambda run: run.get("start_time", ""), reverse=True)
        offset = int(body.get("cursor") or 0)
        page = runs[offset : offset + 3]  # small pages, so the client has to follow cursors
        more = offset + 3 < len(runs)
        return {"runs": page, "cursors": {"next": str(offset + 3) if more else None}}


def _session_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"session:{name}"))


def _metadata(run: dict[str, Any]) -> dict[str, Any]:
    return dict((run.get("extra") or {}).get("metadata") or {})


def _lower(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _handler(capture: LangSmithCapture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = bytearray()
                while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                raw = bytes(data)
            else:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            if encoding == "zstd":
                import zstandard

                reader = zstandard.ZstdDecompressor().stream_reader(
                    io.BytesIO(raw), read_across_frames=True
                )
                return reader.read()
            if encoding == "gzip":
                return gzip.decompress(raw)
            return raw

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            capture.requests.append(("GET", url.path, _lower(self.headers)))
            if url.path == "/info":
                self._send(
                    200,
                    {
                        "version": "0.12.0",
                        "batch_ingest_config": {
                            "use_multipart_endpoint": capture.mode != "batch",
                            "scale_up_qsize_trigger": 1000,
                            "scale_up_nthreads_limit": 16,
                            "scale_down_nempty_trigger": 4,
                            "size_limit": 100,
                            "size_limit_bytes": 20_971_520,
                        },
                        "instance_flags": {"zstd_compression_enabled": capture.mode == "zstd"},
                    },
                )
            elif url.path == "/sessions":
                self._send(200, capture.sessions(parse_qs(url.query).get("name", [""])[0]))
            else:
                self._send(404, {"detail": f"no route {url.path}"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            body = self._body()
            capture.requests.append(("POST", url.path, _lower(self.headers)))
            if url.path == "/runs/multipart":
                capture.ingest_multipart(self.headers["Content-Type"], body)
                self._send(202, {})
            elif url.path == "/runs/batch":
                capture.ingest_batch(body)
                self._send(202, {})
            elif url.path == "/runs/query":
                answer = capture.query(json.loads(body))
                self._send(200, answer) if answer is not None else self._send(400, {})
            else:
                self._send(404, {"detail": f"no route {url.path}"})

    return Handler


# ------------------------------------------------------------------------ the traced workload


def run_workload(scenarios: list[str]) -> None:
    """Run the scenarios with tracing on (called in a subprocess), then flush the client."""
    from langchain.agents import create_agent
    from langchain_core.tools import tool
    from langchain_core.tracers.langchain import wait_for_all_tracers

    from langchain_netgpt import NetGPTRouter, NetworkState
    from langchain_netgpt.middleware import NetGPTRoutingMiddleware
    from langchain_netgpt.routing import AlwaysEdge
    from langchain_netgpt.routing.latency import LatencyModel, SideProfile
    from langchain_netgpt.testing import ConstantScorer, FixedNetworkMonitor, ScriptedChatModel
    from langchain_netgpt.testing import tool_call as scripted_call

    bad = NetworkState(bandwidth_up_mbps=0.2, bandwidth_down_mbps=0.5, rtt_ms=1500)
    good = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)

    @tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    def models(name: str, edge: list[Any] | None = None) -> dict[str, Any]:
        return {
            "edge": ScriptedChatModel(
                responses=edge or [f"{name}: edge answer"], model_name=f"{name}/edge"
            ),
            "cloud": ScriptedChatModel(
                responses=[f"{name}: cloud answer"], model_name=f"{name}/cloud"
            ),
        }

    def router(name: str, network: NetworkState, score: float, **kw: Any) -> NetGPTRouter:
        return NetGPTRouter(
            **models(name, **kw), monitor=FixedNetworkMonitor(network), scorer=ConstantScorer(score)
        )

    def agent(name: str, network: NetworkState, score: float) -> Any:
        routing = NetGPTRoutingMiddleware(
            **models(name), monitor=FixedNetworkMonitor(network), scorer=ConstantScorer(score)
        )
        declared = ScriptedChatModel(responses=[RuntimeError("declared model called")])
        return create_agent(declared, [], middleware=[routing])

    priced_edge = SideProfile(
        overhead_s=0.05,
        prefill_tokens_per_s=600,
        decode_tokens_per_s=20,
        usd_per_1k_input_tokens=EDGE_USD_PER_1K[0],
        usd_per_1k_output_tokens=EDGE_USD_PER_1K[1],
    )
    ask = {"messages": [("user", "hello")]}
    runs = {
        "router-invoke": lambda: (
            router(
                "router-invoke", bad, 0.9, edge=[scripted_call("get_weather", {"city": "Paris"})]
            )
            .bind_tools([get_weather])
            .invoke("Weather in Paris?")
        ),
        "router-ainvoke": lambda: asyncio.run(router("router-ainvoke", good, 0.1).ainvoke("hi")),
        "router-stream": lambda: _merged(list(router("router-stream", bad, 0.9).stream("hi"))),
        "router-astream": lambda: _merged(
            asyncio.run(_collect(router("router-astream", good, 0.1)))
        ),
        "middleware-invoke": lambda: agent("middleware-invoke", bad, 0.9).invoke(ask),
        "middleware-ainvoke": lambda: asyncio.run(
            agent("middleware-ainvoke", good, 0.1).ainvoke(ask)
        ),
        "router-fallback": lambda: router(
            "router-fallback", bad, 0.9, edge=[RuntimeError("edge is down")]
        ).invoke("hi"),
        "router-secret": lambda: router("router-secret", bad, 0.9).invoke(
            f"my token is {os.environ['NETGPT_CAPTURE_TOKEN']}; header Authorization: {BEARER}"
        ),
        "router-priced-edge": lambda: NetGPTRouter(
            **models("router-priced-edge"),
            policy=AlwaysEdge(latency_model=LatencyModel(edge=priced_edge)),
        ).invoke("hi"),
    }
    served: dict[str, Any] = {}
    for name in scenarios:
        answer = runs[name]()
        if name in ROUTER_SCENARIOS:  # the router returns the served side's own answer
            served[name] = dict(answer.usage_metadata)
    Path(os.environ["NETGPT_CAPTURE_USAGE"]).write_text(json.dumps(served))
    wait_for_all_tracers()


def _merged(chunks: list[Any]) -> Any:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


async def _collect(router: Any) -> list[Any]:
    return [chunk async for chunk in router.astream("hi")]


def _traced(capture: LangSmithCapture, scenarios: tuple[str, ...]) -> None:
    usage_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"netgpt-usage-{uuid.uuid4().hex}.json"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(
        LANGSMITH_TRACING="true",
        LANGSMITH_ENDPOINT=capture.url,
        LANGSMITH_API_KEY="fake",
        LANGSMITH_PROJECT=PROJECT,
        NETGPT_CAPTURE_TOKEN=SECRET,
        NETGPT_CAPTURE_USAGE=str(usage_file),
        HF_HUB_OFFLINE="1",
    )
    code = (
        "import sys; from tests.integration_tests.test_langsmith import run_workload; "
        "run_workload(sys.argv[1:])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *scenarios],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    capture.served_usage = json.loads(usage_file.read_text())
    usage_file.unlink()


@pytest.fixture(scope="module")
def langsmith_zstd() -> Iterator[LangSmithCapture]:
    capture = LangSmithCapture("zstd")
    try:
        _traced(capture, SCENARIOS)
        yield capture
    finally:
        capture.close()


@pytest.fixture(scope="module")
def langsmith_batch() -> Iterator[LangSmithCapture]:
    capture = LangSmithCapture("batch")
    try:
        _traced(capture, ("router-invoke",))
        yield capture
    finally:
        capture.close()


def only_run(capture: LangSmithCapture, scenario: str) -> dict[str, Any]:
    runs = capture.routed(scenario)
    assert len(runs) == 1, f"{scenario}: expected one routed run, got {len(runs)}"
    return runs[0]


def assert_routed(run: dict[str, Any], target: str) -> None:
    metadata = _metadata(run)
    assert f"netgpt:{target}" in run["tags"]
    assert {key: key in metadata for key in ROUTE_KEYS} == dict.fromkeys(ROUTE_KEYS, True)
    assert metadata["netgpt.route"] == target
    assert metadata["netgpt.latency_ms"] > 0


# ------------------------------------------------------------------------ what was posted


def test_the_client_sent_zstd_compressed_multipart_batches(
    langsmith_zstd: LangSmithCapture,
) -> None:
    posts = [h for method, path, h in langsmith_zstd.requests if path == "/runs/multipart"]
    assert posts and all(h.get("content-encoding") == "zstd" for h in posts)
    assert all(h.get("x-api-key") == "fake" for h in posts)


def test_a_routed_invoke_run_carries_the_route_metadata_and_its_side_tag(
    langsmith_zstd: LangSmithCapture,
) -> None:
    assert_routed(only_run(langsmith_zstd, "router-invoke"), "edge")


def test_a_routed_ainvoke_run_carries_the_route_metadata_and_its_side_tag(
    langsmith_zstd: LangSmithCapture,
) -> None:
    assert_routed(only_run(langsmith_zstd, "router-ainvoke"), "cloud")


def test_a_routed_stream_run_carries_the_route_metadata_and_its_side_tag(
    langsmith_zstd: LangSmithCapture,
) -> None:
    assert_routed(only_run(langsmith_zstd, "router-stream"), "edge")


def test_a_routed_astream_run_carries_the_route_metadata_and_its_side_tag(
    langsmith_zstd: LangSmithCapture,
) -> None:
    assert_routed(only_run(langsmith_zstd, "router-astream"), "cloud")


def test_a_model_run_routed_by_the_middleware_carries_the_route(
    langsmith_zstd: LangSmithCapture,
) -> None:
    assert_routed(only_run(langsmith_zstd, "middleware-invoke"), "edge")


def test_an_async_model_run_routed_by_the_middleware_carries_the_route(
    langsmith_zstd: LangSmithCapture,
) -> None:
    assert_routed(only_run(langsmith_zstd, "middleware-ainvoke"), "cloud")


@pytest.mark.parametrize("scenario", sorted(ROUTER_SCENARIOS))
def test_a_routed_call_is_one_root_run_of_the_router_with_no_child_run(
    langsmith_zstd: LangSmithCapture, scenario: str
) -> None:
    run = only_run(langsmith_zstd, scenario)
    runs = langsmith_zstd.runs().values()
    assert run["name"] == "NetGPTRouter" and run.get("parent_run_id") is None
    assert not [r for r in runs if r.get("parent_run_id") == run["id"]]
    assert [r["id"] for r in runs if r.get("trace_id") == run["trace_id"]] == [run["id"]]


@pytest.mark.parametrize("scenario", sorted(ROUTER_SCENARIOS))
def test_the_routed_run_names_the_model_that_served_it(
    langsmith_zstd: LangSmithCapture, scenario: str
) -> None:
    side = ROUTER_SCENARIOS[scenario]
    metadata = _metadata(only_run(langsmith_zstd, scenario))
    assert metadata["ls_model_name"] == f"{scenario}/{side}"
    assert metadata["ls_provider"] == "scriptedchatmodel"
    assert metadata["netgpt.route"] == side


@pytest.mark.parametrize("scenario", sorted(ROUTER_SCENARIOS))
def test_the_token_totals_of_a_routed_call_are_the_served_sides(
    langsmith_zstd: LangSmithCapture, scenario: str
) -> None:
    run = only_run(langsmith_zstd, scenario)
    served = langsmith_zstd.served_usage[scenario]
    in_trace = [
        _metadata(r)["usage_metadata"]
        for r in langsmith_zstd.runs().values()
        if r.get("trace_id") == run["trace_id"] and "usage_metadata" in _metadata(r)
    ]
    totals = {k: sum(u[k] for u in in_trace) for k in ("input_tokens", "output_tokens")}
    assert served["output_tokens"] > 0
    assert totals == {k: served[k] for k in ("input_tokens", "output_tokens")}


def test_an_edge_run_carries_the_edge_price_for_langsmith_cost_columns(
    langsmith_zstd: LangSmithCapture,
) -> None:
    usage = only_run(langsmith_zstd, "router-priced-edge")["outputs"]["usage_metadata"]
    served = langsmith_zstd.served_usage["router-priced-edge"]
    assert usage["input_cost"] == pytest.approx(served["input_tokens"] * EDGE_USD_PER_1K[0] / 1000)
    assert usage["output_cost"] == pytest.approx(
        served["output_tokens"] * EDGE_USD_PER_1K[1] / 1000
    )
    assert usage["total_cost"] == pytest.approx(usage["input_cost"] + usage["output_cost"])


def test_the_latency_arrives_with_the_end_patch_of_the_routed_run(
    langsmith_zstd: LangSmithCapture,
) -> None:
    run = only_run(langsmith_zstd, "router-invoke")
    (patch,) = langsmith_zstd.patches(str(run["id"]))
    assert patch["extra"]["metadata"]["netgpt.latency_ms"] > 0
    assert patch["end_time"] is not None


def test_a_fallback_is_one_run_tagged_with_the_side_that_served_naming_the_failed_try(
    langsmith_zstd: LangSmithCapture,
) -> None:
    run = only_run(langsmith_zstd, "router-fallback")
    metadata = _metadata(run)
    assert "netgpt:cloud" in run["tags"] and "netgpt:edge" not in run["tags"]
    assert metadata["netgpt.fallback"] is True and metadata["netgpt.decided_target"] == "edge"
    assert metadata["netgpt.attempts"] == ["edge: RuntimeError", "cloud"]
    assert not run.get("error")


def test_runs_sent_through_the_json_batch_endpoint_carry_the_route_too(
    langsmith_batch: LangSmithCapture,
) -> None:
    assert any(path == "/runs/batch" for _, path, _ in langsmith_batch.requests)
    assert_routed(only_run(langsmith_batch, "router-invoke"), "edge")


# ------------------------------------------------------------------------ reading runs back


def export(capture: LangSmithCapture, out: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app,
        ["export", "--from-langsmith", PROJECT, "--out", str(out), *args],
        env={
            "LANGSMITH_ENDPOINT": capture.url,
            "LANGSMITH_API_KEY": "fake",
            "NETGPT_CAPTURE_TOKEN": SECRET,
        },
    )


def test_export_writes_one_trace_per_routed_run(
    langsmith_zstd: LangSmithCapture, tmp_path: Path
) -> None:
    routed = [
        run
        for run in langsmith_zstd.runs().values()
        if any(tag.startswith("netgpt:") for tag in run.get("tags") or [])
    ]
    result = export(langsmith_zstd, tmp_path / "routes.jsonl")
    assert result.exit_code == 0, result.output
    traces = list(read_jsonl_traces(tmp_path / "routes.jsonl"))
    assert sorted(t.trace_id for t in traces) == sorted(uuid.UUID(r["id"]).hex for r in routed)


def test_export_asks_langsmith_for_runs_tagged_with_a_side(
    langsmith_zstd: LangSmithCapture, tmp_path: Path
) -> None:
    export(langsmith_zstd, tmp_path / "routes.jsonl")
    query = langsmith_zstd.queries[-1]
    assert 'has(tags, "netgpt:edge")' in query["filter"]
    assert 'has(tags, "netgpt:cloud")' in query["filter"]


def test_export_prints_a_summary_of_sides_and_fallbacks(
    langsmith_zstd: LangSmithCapture, tmp_path: Path
) -> None:
    result = export(langsmith_zstd, tmp_path / "routes.jsonl")
    traces = list(read_jsonl_traces(tmp_path / "routes.jsonl"))
    row = [
        str(len(traces)),
        str(sum(t.final_target == "edge" for t in traces)),
        str(sum(t.final_target == "cloud" for t in traces)),
        str(sum(t.fallback for t in traces)),
    ]
    assert re.search(r"[\s│]+".join(row), result.stdout), result.stdout


def test_an_exported_trace_holds_the_route_the_prompt_the_tools_and_the_answer(
    langsmith_zstd: LangSmithCapture, tmp_path: Path
) -> None:
    from langsmith import Client

    from langchain_netgpt.export import routes_from_langsmith

    run = only_run(langsmith_zstd, "router-invoke")
    client = Client(api_url=langsmith_zstd.url, api_key="fake", auto_batch_tracing=False)
    (trace,) = [
        t for t in routes_from_langsmith(client, PROJECT) if t.trace_id == uuid.UUID(run["id"]).hex
    ]
    assert (trace.final_target, trace.decided_target, trace.mode) == ("edge", "edge", "invoke")
    assert (trace.network.rtt_ms, trace.network.bandwidth_up_mbps, trace.score) == (1500, 0.2, 0.9)
    assert trace.messages[0].content == "Weather in Paris?"
    assert [t["function"]["name"] for t in trace.tools] == ["get_weather"]
    assert trace.output is not None and trace.output.tool_calls[0]["args"] == {"city": "Paris"}
    assert trace.latency_s == _metadata(run)["netgpt.latency_ms"] / 1000


def test_exported_traces_hold_no_secrets(langsmith_zstd: LangSmithCapture, tmp_path: Path) -> None:
    only_run(langsmith_zstd, "router-secret")  # the secrets did reach LangSmith
    export(langsmith_zstd, tmp_path / "routes.jsonl")
    text = (tmp_path / "routes.jsonl").read_text()
    assert "my token is [REDACTED]" in text
    assert SECRET not in text and "eyJhbGciOiJIUzI1NiJ9" not in text


def test_export_limit_caps_the_number_of_runs(
    langsmith_zstd: LangSmithCapture, tmp_path: Path
) -> None:
    result = export(langsmith_zstd, tmp_path / "routes.jsonl", "--limit", "4")
    assert result.exit_code == 0, result.output
    assert len(list(read_jsonl_traces(tmp_path / "routes.jsonl"))) == 4


def test_export_of_an_unknown_project_exits_1_with_a_one_line_reason(
    langsmith_zstd: LangSmithCapture, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["export", "--from-langsmith", "no-such-project", "--out", str(tmp_path / "r.jsonl")],
        env={"LANGSMITH_ENDPOINT": langsmith_zstd.url, "LANGSMITH_API_KEY": "fake"},
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"netgpt export: error: LangSmith project 'no-such-project' not found at "
        f"{langsmith_zstd.url}"
    ]
    assert not (tmp_path / "r.jsonl").exists()


def test_export_to_an_unreachable_endpoint_exits_1_with_a_one_line_reason(tmp_path: Path) -> None:
    url = closed_port_url()
    result = CliRunner().invoke(
        app,
        ["export", "--from-langsmith", PROJECT, "--out", str(tmp_path / "r.jsonl")],
        env={"LANGSMITH_ENDPOINT": url, "LANGSMITH_API_KEY": "fake"},
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"netgpt export: error: cannot reach LangSmith at {url} (connection failed)"
    ]


def closed_port_url() -> str:
    """A loopback URL whose port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
