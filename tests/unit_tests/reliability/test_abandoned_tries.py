"""An abandoned try is cancelled: its cancel token stops an edge that checks it per token."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.edge.cancel import EdgeGenerationCancelled, current_cancel_token
from langchain_netgpt.routing import AlwaysEdge
from langchain_netgpt.routing.config import (
    DEFAULT_STEP_DEADLINE_S,
    DEFAULT_STEP_TIMEOUT_S,
    RoutingConfig,
)
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink


class TokenLoopEdge(BaseChatModel):
    """An edge that 'generates' one token every 10 ms for up to 10 s, obeying its cancel token
    the way the in-process runtimes do (a check after every token)."""

    stopped_at: list[float] = Field(default_factory=list)
    tokens: list[int] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "token-loop"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        token = current_cancel_token()
        produced = 0
        try:
            for produced in range(1000):
                if token is not None and token.cancelled:
                    raise EdgeGenerationCancelled(token.reason, output_tokens=produced)
                time.sleep(0.01)
            return ChatResult(generations=[ChatGeneration(message=AIMessage("edge"))])
        finally:
            self.tokens.append(produced)
            self.stopped_at.append(time.perf_counter())


def _router(edge: BaseChatModel, sink: InMemoryTraceSink | None = None) -> NetGPTRouter:
    return NetGPTRouter(
        edge=edge,
        cloud=ScriptedChatModel(responses=["cloud answer"]),
        policy=AlwaysEdge(),
        step_timeout_s=0.2,
        sinks=[sink] if sink is not None else [],
    )


def _wait_until_stopped(edge: TokenLoopEdge, timeout_s: float = 2.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not edge.stopped_at and time.perf_counter() < deadline:
        time.sleep(0.01)


def test_a_timed_out_edge_try_stops_generating_soon_after_the_fallback_answers() -> None:
    edge, sink = TokenLoopEdge(), InMemoryTraceSink()
    reply = _router(edge, sink).invoke("tell me a long story")
    answered = time.perf_counter()
    _wait_until_stopped(edge)
    assert reply.content == "cloud answer"
    assert sink.traces[0].fallback_code == "timeout"
    assert edge.stopped_at and edge.stopped_at[0] - answered < 0.5
    assert edge.tokens[0] < 100  # stopped near 0.2 s, not at the end of its 10 s budget


async def test_a_timed_out_async_edge_try_stops_generating_too() -> None:
    edge = TokenLoopEdge()
    reply = await _router(edge).ainvoke("tell me a long story")
    answered = time.perf_counter()
    await asyncio.to_thread(_wait_until_stopped, edge)
    assert reply.content == "cloud answer"
    assert edge.stopped_at and edge.stopped_at[0] - answered < 0.5


def test_a_call_that_raises_timeout_error_itself_is_a_failure_not_a_deadline() -> None:
    sink = InMemoryTraceSink()
    edge = ScriptedChatModel(responses=[TimeoutError("edge socket timed out")])
    assert _router(edge, sink).invoke("hi").content == "cloud answer"
    assert sink.traces[0].fallback_code == "failed"


def test_steps_have_sensible_deadlines_by_default_and_none_means_no_limit() -> None:
    edge, cloud = ScriptedChatModel(responses=["e"]), ScriptedChatModel(responses=["c"])
    assert RoutingConfig(edge=edge, cloud=cloud).step_timeout_s == DEFAULT_STEP_TIMEOUT_S == 60
    assert RoutingConfig(edge=edge, cloud=cloud).step_deadline_s == DEFAULT_STEP_DEADLINE_S
    router = NetGPTRouter(edge=edge, cloud=cloud, step_timeout_s=None, step_deadline_s=None)
    assert router.step_timeout_s is None and router.step_deadline_s is None


def test_a_try_that_answers_in_time_runs_with_an_uncancelled_token() -> None:
    seen: list[Any] = []

    class Peek(ScriptedChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
            seen.append((current_cancel_token(), threading.current_thread().name))
            return super()._generate(*args, **kwargs)

    router = NetGPTRouter(
        edge=Peek(responses=["edge"]), cloud=ScriptedChatModel(responses=["c"]), policy=AlwaysEdge()
    )
    assert router.invoke("hi").content == "edge"
    token, thread = seen[0]
    assert token is not None and not token.cancelled and thread.startswith("netgpt-edge")


def _agent(edge: TokenLoopEdge) -> Any:
    from langchain.agents import create_agent

    from langchain_netgpt.middleware import NetGPTRoutingMiddleware

    cloud = ScriptedChatModel(responses=["cloud answer"])
    routing = NetGPTRoutingMiddleware(
        edge=edge, cloud=cloud, policy=AlwaysEdge(), step_timeout_s=0.2
    )
    return create_agent(cloud, [], middleware=[routing])


def test_a_timed_out_edge_try_of_an_agent_middleware_stops_generating() -> None:
    edge = TokenLoopEdge()
    state = _agent(edge).invoke({"messages": [("user", "tell me a long story")]})
    answered = time.perf_counter()
    _wait_until_stopped(edge)
    assert state["messages"][-1].content == "cloud answer"
    assert edge.stopped_at and edge.stopped_at[0] - answered < 0.5


async def test_a_timed_out_async_edge_try_of_an_agent_middleware_stops_generating() -> None:
    edge = TokenLoopEdge()
    state = await _agent(edge).ainvoke({"messages": [("user", "tell me a long story")]})
    answered = time.perf_counter()
    await asyncio.to_thread(_wait_until_stopped, edge)
    assert state["messages"][-1].content == "cloud answer"
    assert edge.stopped_at and edge.stopped_at[0] - answered < 0.5
