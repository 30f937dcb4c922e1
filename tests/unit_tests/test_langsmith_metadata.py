"""Route metadata on routed runs as a tracer sees it, reading runs back, and secret scrubbing.

The recording tracer below is a ``BaseTracer`` that keeps a copy of each run's metadata at the
two hooks where ``LangChainTracer`` sends a run's end to LangSmith (``_on_llm_end`` and
``_on_llm_error``). The real client against a real local server is in
``tests/integration_tests/test_langsmith.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run as TracerRun
from langsmith.schemas import Run
from pydantic import BaseModel
from typer.testing import CliRunner

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.cli import app
from langchain_netgpt.errors import RoutingError
from langchain_netgpt.export import REDACTED, SecretScrubber, route_trace_from_run
from langchain_netgpt.middleware import NetGPTRoutingMiddleware
from langchain_netgpt.routing.latency import LatencyModel, SideProfile
from langchain_netgpt.routing.policy import AlwaysEdge
from langchain_netgpt.testing import (
    ConstantScorer,
    FixedNetworkMonitor,
    ScriptedChatModel,
    tool_call,
)
from langchain_netgpt.tracing.langsmith import (
    ATTEMPTS_KEY,
    LATENCY_KEY,
    ROUTE_METADATA_KEYS,
    with_route_latency,
)

BAD = NetworkState(bandwidth_up_mbps=0.2, bandwidth_down_mbps=0.5, rtt_ms=1500)
GOOD = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=100, rtt_ms=10)


class RecordingTracer(BaseTracer):
    """Keeps (name, tags, metadata) of every run at its start and at its end."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[tuple[str, list[str], dict[str, Any]]] = []
        self.ended: list[tuple[str, list[str], dict[str, Any]]] = []

    def _persist_run(self, run: TracerRun) -> None:
        pass

    def _snapshot(self, run: TracerRun) -> tuple[str, list[str], dict[str, Any]]:
        return run.name, list(run.tags or []), dict(run.metadata)

    def _on_llm_start(self, run: TracerRun) -> None:
        self.started.append(self._snapshot(run))

    _on_chat_model_start = _on_llm_start

    def _on_llm_end(self, run: TracerRun) -> None:
        self.ended.append(self._snapshot(run))

    def _on_llm_error(self, run: TracerRun) -> None:
        self.ended.append(self._snapshot(run))

    def routed(self) -> list[tuple[str, list[str], dict[str, Any]]]:
        return [r for r in self.ended if any(t.startswith("netgpt:") for t in r[1])]


class UsageTracer(RecordingTracer):
    """Also keeps each ended run's outputs and the usage the tracer reports for it."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[dict[str, Any]] = []
        self.usage: list[dict[str, Any]] = []

    def _on_llm_end(self, run: TracerRun) -> None:
        super()._on_llm_end(run)
        outputs = dict(run.outputs or {})
        self.outputs.append({k: v for k, v in outputs.items() if k == "usage_metadata"})
        (generation,) = outputs["generations"][0]
        self.usage.append(generation["message"]["kwargs"]["usage_metadata"])


def make_router(
    network: NetworkState = BAD,
    *,
    edge: list[Any] | None = None,
    cloud: list[Any] | None = None,
) -> NetGPTRouter:
    return NetGPTRouter(
        edge=ScriptedChatModel(responses=edge or ["edge answer"], model_name="edge-model"),
        cloud=ScriptedChatModel(responses=cloud or ["cloud answer"], model_name="cloud-model"),
        monitor=FixedNetworkMonitor(network),
        scorer=ConstantScorer(0.9 if network is BAD else 0.1),
    )


def make_agent(network: NetworkState) -> Any:
    routing = NetGPTRoutingMiddleware(
        edge=ScriptedChatModel(responses=["edge answer"]),
        cloud=ScriptedChatModel(responses=["cloud answer"]),
        monitor=FixedNetworkMonitor(network),
        scorer=ConstantScorer(0.9 if network is BAD else 0.1),
    )
    declared = ScriptedChatModel(responses=[RuntimeError("declared model called")])
    return create_agent(declared, [], middleware=[routing])


# ------------------------------------------------------------------ metadata on routed runs


def test_a_routed_run_ends_with_every_route_key_and_its_side_tag() -> None:
    tracer = RecordingTracer()
    make_router(BAD).invoke("hi", config={"callbacks": [tracer]})
    ((_, tags, metadata),) = tracer.routed()
    assert "netgpt:edge" in tags
    assert set(ROUTE_METADATA_KEYS) <= set(metadata)


def test_the_latency_is_added_when_the_run_ends_not_when_it_starts() -> None:
    tracer = RecordingTracer()
    make_router(BAD).invoke("hi", config={"callbacks": [tracer]})
    ((_, _, started),) = tracer.started
    assert LATENCY_KEY not in started
    assert tracer.routed()[0][2][LATENCY_KEY] > 0


async def test_an_async_routed_run_ends_with_the_latency() -> None:
    tracer = RecordingTracer()
    await make_router(GOOD).ainvoke("hi", config={"callbacks": [tracer]})
    ((_, tags, metadata),) = tracer.routed()
    assert "netgpt:cloud" in tags and metadata[LATENCY_KEY] > 0


def test_a_model_run_routed_by_the_middleware_ends_with_the_latency() -> None:
    tracer = RecordingTracer()
    make_agent(BAD).invoke({"messages": [("user", "hi")]}, config={"callbacks": [tracer]})
    ((_, tags, metadata),) = tracer.routed()
    assert "netgpt:edge" in tags and metadata[LATENCY_KEY] > 0


async def test_an_async_model_run_routed_by_the_middleware_ends_with_the_latency() -> None:
    tracer = RecordingTracer()
    await make_agent(GOOD).ainvoke({"messages": [("user", "hi")]}, config={"callbacks": [tracer]})
    ((_, tags, metadata),) = tracer.routed()
    assert "netgpt:cloud" in tags and metadata[LATENCY_KEY] > 0


def test_a_fallback_is_one_run_naming_the_side_that_served_and_the_failed_try() -> None:
    tracer = RecordingTracer()
    router = make_router(BAD, edge=[RuntimeError("edge down")])
    router.invoke("hi", config={"callbacks": [tracer]})
    ((_, tags, metadata),) = tracer.ended
    assert "netgpt:cloud" in tags and "netgpt:edge" not in tags
    assert metadata["netgpt.route"] == "cloud" and metadata["netgpt.fallback"] is True
    assert metadata[ATTEMPTS_KEY] == ["edge: RuntimeError", "cloud"]
    assert metadata["ls_model_name"] == "cloud-model"


def test_a_call_no_side_answers_is_one_failed_run_with_its_route() -> None:
    tracer = RecordingTracer()
    router = make_router(BAD, edge=[RuntimeError("edge down")], cloud=[RuntimeError("cloud down")])
    with pytest.raises(RoutingError):
        router.invoke("hi", config={"callbacks": [tracer]})
    ((_, tags, metadata),) = tracer.ended
    assert "netgpt:cloud" in tags
    assert metadata[ATTEMPTS_KEY] == ["edge: RuntimeError", "cloud: RuntimeError"]


def test_the_routed_run_is_the_router_run_named_for_the_model_that_served_it() -> None:
    tracer = RecordingTracer()
    make_router(BAD).invoke("hi", config={"callbacks": [tracer]})
    ((name, tags, metadata),) = tracer.ended
    assert name == "NetGPTRouter" and "netgpt:edge" in tags
    assert metadata["ls_model_name"] == "edge-model"
    assert metadata["ls_provider"] == "scriptedchatmodel"


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_a_streamed_routed_call_is_one_run_named_for_the_model_that_served_it(
    mode: str,
) -> None:
    tracer = RecordingTracer()
    router = make_router(GOOD)
    config: Any = {"callbacks": [tracer]}
    if mode == "stream":
        chunks = list(router.stream("hi", config=config))
    else:
        chunks = [chunk async for chunk in router.astream("hi", config=config)]
    assert chunks
    ((_, tags, metadata),) = tracer.ended
    assert len(tracer.started) == 1 and "netgpt:cloud" in tags
    assert metadata["ls_model_name"] == "cloud-model" and metadata[LATENCY_KEY] > 0


def test_the_run_counts_the_served_sides_tokens_once() -> None:
    tracer = UsageTracer()
    answer = make_router(BAD).invoke("hi", config={"callbacks": [tracer]})
    (usage,) = tracer.usage
    assert answer.usage_metadata is not None
    assert usage["input_tokens"] == answer.usage_metadata["input_tokens"]
    assert usage["output_tokens"] == answer.usage_metadata["output_tokens"]


def test_an_edge_answer_is_priced_from_the_edge_profile_for_langsmith() -> None:
    edge_profile = SideProfile(
        overhead_s=0.05,
        prefill_tokens_per_s=600,
        decode_tokens_per_s=20,
        usd_per_1k_input_tokens=0.5,
        usd_per_1k_output_tokens=2.0,
    )
    tracer = UsageTracer()
    router = make_router(BAD)
    router.policy = AlwaysEdge(latency_model=LatencyModel(edge=edge_profile))
    answer = router.invoke("hi", config={"callbacks": [tracer]})
    assert answer.response_metadata["netgpt"]["target"] == "edge"
    (outputs,) = tracer.outputs
    usage = answer.usage_metadata
    assert usage is not None and "input_cost" not in usage  # the answer itself is unchanged
    priced = outputs["usage_metadata"]
    assert priced["input_cost"] == pytest.approx(usage["input_tokens"] * 0.5 / 1000)
    assert priced["output_cost"] == pytest.approx(usage["output_tokens"] * 2.0 / 1000)
    assert priced["total_cost"] == pytest.approx(priced["input_cost"] + priced["output_cost"])


def test_a_cloud_answer_is_left_to_langsmiths_own_price_table() -> None:
    tracer = UsageTracer()
    make_router(GOOD).invoke("hi", config={"callbacks": [tracer]})
    (outputs,) = tracer.outputs
    assert "usage_metadata" not in outputs


def test_callbacks_without_a_tracer_come_back_unchanged() -> None:
    handlers = [BaseCallbackHandler()]
    assert with_route_latency(handlers, started=0.0) is handlers


# ------------------------------------------------------------------ reading a run back


def langsmith_run(
    *,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    error: str | None = None,
    answer: AIMessage | None = None,
) -> Run:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    generation = (
        {"text": "", "type": "ChatGeneration", "message": dumpd(answer)} if answer else None
    )
    return Run(
        id=uuid.uuid4(),
        trace_id=uuid.uuid4(),
        name="ScriptedChatModel",
        run_type="llm",
        start_time=start,
        end_time=start + dt.timedelta(milliseconds=250),
        tags=tags if tags is not None else ["netgpt:edge"],
        error=error,
        extra={"metadata": metadata or {}, "invocation_params": {}},
        inputs={"messages": [[dumpd(HumanMessage("hello"))]]},
        outputs={"generations": [[generation]]} if generation else None,
    )


def test_a_run_without_a_route_is_refused() -> None:
    with pytest.raises(ValueError, match="carries no netgpt route"):
        route_trace_from_run(langsmith_run(tags=[]), scrubber=SecretScrubber())


def test_a_run_with_only_the_tag_takes_its_side_from_the_tag_and_its_latency_from_its_times() -> (
    None
):
    trace = route_trace_from_run(
        langsmith_run(tags=["netgpt:cloud"], answer=AIMessage("hi")), scrubber=SecretScrubber()
    )
    assert (trace.final_target, trace.latency_s, trace.mode) == ("cloud", 0.25, "unknown")


def test_a_failed_run_becomes_a_trace_without_a_final_target() -> None:
    trace = route_trace_from_run(
        langsmith_run(error="RuntimeError('down')"), scrubber=SecretScrubber()
    )
    assert trace.final_target is None and trace.attempts[0].ok is False
    assert trace.error == "RuntimeError('down')"


def test_a_streamed_answer_becomes_a_plain_ai_message() -> None:
    chunk = AIMessageChunk(content="streamed")
    trace = route_trace_from_run(langsmith_run(answer=chunk), scrubber=SecretScrubber())
    assert type(trace.output) is AIMessage and trace.output.content == "streamed"


def test_the_trace_id_is_the_run_id_so_exports_are_repeatable() -> None:
    run = langsmith_run(answer=AIMessage("x"))
    assert route_trace_from_run(run, scrubber=SecretScrubber()).trace_id == run.id.hex


# ------------------------------------------------------------------ secret scrubbing


def test_credential_headers_are_redacted_whatever_their_case() -> None:
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": "k-123", "accept": "json"}
    assert SecretScrubber().scrub(headers) == {
        "Authorization": REDACTED,
        "X-API-Key": REDACTED,
        "accept": "json",
    }


def test_credential_arguments_are_redacted_but_schemas_under_such_names_are_kept() -> None:
    data = {
        "args": {"api_key": "abc", "city": "Paris"},
        "schema": {"properties": {"api_key": {"type": "string"}}},
    }
    assert SecretScrubber().scrub(data) == {
        "args": {"api_key": REDACTED, "city": "Paris"},
        "schema": {"properties": {"api_key": {"type": "string"}}},
    }


def test_values_of_key_and_token_environment_variables_are_redacted_inside_text() -> None:
    scrubber = SecretScrubber.from_environ({"MY_SERVICE_TOKEN": "s3cr3t-value", "HOME": "/home/u"})
    assert scrubber.scrub_text("token s3cr3t-value at /home/u") == f"token {REDACTED} at /home/u"


def test_short_environment_values_are_not_treated_as_secrets() -> None:
    scrubber = SecretScrubber.from_environ({"LANGSMITH_API_KEY": "fake"})
    assert scrubber.scrub_text("a fake value") == "a fake value"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Bearer abcdefghijklmnop", REDACTED),
        ("sk-proj0123456789abcdefXYZ", REDACTED),
        ("lsv2_pt_0123456789abcdef0123", REDACTED),
        ("hf_abcdefghijklmnopqrstuvwx", REDACTED),
        ("https://x.test/?api_key=abcdef123", f"https://x.test/?api_key={REDACTED}"),
    ],
)
def test_credential_shaped_text_is_redacted(text: str, scrubbed: str) -> None:
    assert SecretScrubber().scrub_text(f"see {text} here") == f"see {scrubbed} here"


def test_an_exported_trace_has_its_secrets_scrubbed() -> None:
    run = langsmith_run(answer=AIMessage("your key is sk-abcdefghijklmnopqrstuv"))
    trace = route_trace_from_run(run, scrubber=SecretScrubber())
    assert trace.output is not None and trace.output.content == f"your key is {REDACTED}"


# ------------------------------------------------------------------ the command line


def export(*args: str) -> Any:
    return CliRunner().invoke(app, ["export", *args])


def test_export_help_names_the_source_the_output_and_the_limit() -> None:
    result = export("--help")
    assert result.exit_code == 0
    assert all(flag in result.stdout for flag in ("--from-langsmith", "--out", "--limit"))


def test_export_without_a_source_exits_2_with_a_one_line_reason(tmp_path: Path) -> None:
    result = export("--out", str(tmp_path / "r.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "netgpt export: error: a source is required: --from-langsmith PROJECT, --store or --traces"
    ]


def test_export_without_an_output_file_exits_2() -> None:
    result = export("--from-langsmith", "p")
    assert (result.exit_code, result.stderr.strip()) == (
        2,
        "netgpt export: error: --out FILE.jsonl is required",
    )


def test_export_refuses_to_overwrite_an_existing_trace_file(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("{}\n")
    result = export("--from-langsmith", "p", "--out", str(out), "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "pass --append" in result.stderr


def test_export_rejects_a_limit_below_one(tmp_path: Path) -> None:
    result = export("--from-langsmith", "p", "--out", str(tmp_path / "r.jsonl"), "--limit", "0")
    assert (result.exit_code, result.stderr.strip()) == (
        2,
        "netgpt export: error: --limit must be >= 1, got 0",
    )


def test_export_rejects_an_endpoint_that_is_not_an_http_url(tmp_path: Path) -> None:
    out = str(tmp_path / "r.jsonl")
    result = export("--from-langsmith", "p", "--out", out, "--endpoint", "ftp://x")
    assert result.exit_code == 2 and "--endpoint must be an http" in result.stderr


class _ChatStarts(BaseCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.names.append(str(kwargs.get("name") or serialized.get("name")))


@pytest.mark.parametrize("mode", ["invoke", "stream", "ainvoke", "astream"])
async def test_a_routed_call_inside_a_chain_starts_one_chat_model_run(mode: str) -> None:
    starts = _ChatStarts()
    chain = make_router(BAD) | StrOutputParser()
    config: Any = {"callbacks": [starts]}
    if mode == "invoke":
        chain.invoke("hi", config=config)
    elif mode == "ainvoke":
        await chain.ainvoke("hi", config=config)
    elif mode == "stream":
        list(chain.stream("hi", config=config))
    else:
        _ = [chunk async for chunk in chain.astream("hi", config=config)]
    assert starts.names == ["NetGPTRouter"]


class _Joke(BaseModel):
    setup: str
    punchline: str


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_a_streamed_structured_output_of_the_router_is_one_chat_model_run(mode: str) -> None:
    # with_structured_output binds the sides' tools: RunnableBinding merges the chain's context
    # callbacks into whatever config the side is given, unless the router's call clears them.
    starts = _ChatStarts()
    router = make_router(BAD, edge=[tool_call("_Joke", {"setup": "a", "punchline": "b"})])
    chat = router.with_structured_output(_Joke)
    config: Any = {"callbacks": [starts]}
    if mode == "stream":
        jokes = list(chat.stream("a joke", config=config))
    else:
        jokes = [joke async for joke in chat.astream("a joke", config=config)]
    assert jokes == [_Joke(setup="a", punchline="b")]
    assert starts.names == ["NetGPTRouter"]
