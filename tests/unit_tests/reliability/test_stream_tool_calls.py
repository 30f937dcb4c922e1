"""A streamed, truncated tool call is rejected exactly as ``invoke`` rejects it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import invalid_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.routing import AlwaysEdge
from langchain_netgpt.routing.stream_calls import strict_tool_calls
from langchain_netgpt.testing import ScriptedChatModel, tool_call
from langchain_netgpt.tracing import InMemoryTraceSink

CUT = '{"to": "x", '


@tool
def send(to: str) -> str:
    """Send to someone."""
    return "sent"


class CutToolCallModel(BaseChatModel):
    """Answers with a tool call whose arguments stop mid-JSON, streamed or not (as an
    OpenAI-compatible server cut by its token limit would)."""

    pieces: tuple[str, ...] = ('{"to"', ': "x", ')

    @property
    def _llm_type(self) -> str:
        return "cut-tool-call"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raw = "".join(self.pieces)
        message = AIMessage(
            "", invalid_tool_calls=[invalid_tool_call(name="send", args=raw, id="c1", error="cut")]
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for i, piece in enumerate(self.pieces):
            chunk = AIMessageChunk(
                "",
                tool_call_chunks=[
                    {"name": "send" if i == 0 else None, "args": piece, "id": "c1", "index": 0}
                ],
            )
            yield ChatGenerationChunk(message=chunk)


def _router(sink: InMemoryTraceSink) -> Any:
    return NetGPTRouter(
        edge=CutToolCallModel(),
        cloud=ScriptedChatModel(responses=[tool_call("send", {"to": "bob"})]),
        policy=AlwaysEdge(),
        sinks=[sink],
    ).bind_tools([send])


def test_langchain_alone_would_accept_the_cut_call() -> None:
    merged = AIMessageChunk(
        "", tool_call_chunks=[{"name": "send", "args": CUT, "id": "1", "index": 0}]
    )
    assert merged.tool_calls[0]["args"] == {"to": "x"}
    calls, invalid = strict_tool_calls(merged)
    assert calls == [] and invalid[0]["args"] == CUT and "not complete JSON" in invalid[0]["error"]


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_a_cut_tool_call_falls_back_to_the_cloud_in_invoke_and_in_stream(mode: str) -> None:
    sink = InMemoryTraceSink()
    model = _router(sink)
    if mode == "invoke":
        answer = model.invoke("send it")
    else:
        chunks = list(model.stream("send it"))
        answer = chunks[0]
        for chunk in chunks[1:]:
            answer = answer + chunk
    assert [call["args"] for call in answer.tool_calls] == [{"to": "bob"}]
    (trace,) = sink.traces
    edge, cloud = trace.attempts
    assert (edge.target, edge.ok, edge.tool_calls_valid) == ("edge", False, False)
    assert edge.problems and "unparseable tool call 'send'" in edge.problems[0]
    assert (cloud.target, cloud.ok, trace.final_target) == ("cloud", True, "cloud")


async def test_a_cut_tool_call_is_rejected_in_astream_too() -> None:
    sink = InMemoryTraceSink()
    chunks = [chunk async for chunk in _router(sink).astream("send it")]
    assert sink.traces[0].final_target == "cloud" and chunks


def test_complete_streamed_arguments_are_accepted() -> None:
    merged = AIMessageChunk(
        "", tool_call_chunks=[{"name": "send", "args": '{"to": "x"}', "id": "1", "index": 0}]
    )
    assert strict_tool_calls(merged) == (merged.tool_calls, [])
    empty = AIMessageChunk(
        "", tool_call_chunks=[{"name": "ping", "args": "", "id": "2", "index": 0}]
    )
    assert strict_tool_calls(empty)[0][0]["args"] == {}
    listed = AIMessageChunk(
        "", tool_call_chunks=[{"name": "f", "args": "[1]", "id": "3", "index": 0}]
    )
    assert "not an object" in strict_tool_calls(listed)[1][0]["error"]
