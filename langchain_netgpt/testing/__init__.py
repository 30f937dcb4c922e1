"""Fakes for testing agents that use langchain-netgpt, without models or a network.

``ScriptedChatModel`` answers from a script (text, tool calls or exceptions) and supports
``bind_tools``, streaming and async; ``FixedNetworkMonitor`` reports a network state you choose and
ignores what calls reveal.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkMonitor, NetworkState

__all__ = ["ConstantScorer", "FixedNetworkMonitor", "ScriptedChatModel", "tool_call"]

Response = AIMessage | str | BaseException | Callable[[list[BaseMessage]], AIMessage | str]


def tool_call(name: str, args: dict[str, Any] | None = None) -> AIMessage:
    """An ``AIMessage`` that calls one tool (a convenient script entry).

    Example:
        .. code-block:: python

            from langchain_netgpt.testing import tool_call

            message = tool_call("get_weather", {"city": "Paris"})
            assert message.tool_calls[0]["args"] == {"city": "Paris"}
    """
    return AIMessage(
        content="",
        tool_calls=[
            {"name": name, "args": dict(args or {}), "id": f"call_{uuid.uuid4().hex[:12]}"}
        ],
    )


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies from a script, for tests of routing and agents.

    Each call takes the next entry of ``responses`` (cycling when ``cycle`` is set, otherwise
    repeating the last): a string becomes a text answer, an ``AIMessage`` is returned as is (with a
    fresh id), an exception is raised, and a callable gets the messages and returns either.
    Every call's messages and keyword arguments (``tools`` from ``bind_tools`` included) are
    recorded in :attr:`calls`.

    Args:
        responses: The script (at least one entry).
        cycle: Start over at the end of the script instead of repeating the last entry.
        delay_s: Seconds each call takes (``asyncio.sleep`` in async calls).
        model_name: Name reported in metadata and LangSmith parameters.

    Example:
        .. code-block:: python

            from langchain_netgpt.testing import ScriptedChatModel, tool_call

            model = ScriptedChatModel(responses=[tool_call("add", {"a": 1, "b": 2}), "3"])
            assert model.invoke("1+2?").tool_calls[0]["name"] == "add"
            assert model.invoke("and?").content == "3"
    """

    responses: list[Any] = Field(min_length=1)
    cycle: bool = True
    delay_s: float = Field(default=0.0, ge=0)
    model_name: str = "scripted"

    _index: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[tuple[list[BaseMessage], dict[str, Any]]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    @property
    def calls(self) -> list[tuple[list[BaseMessage], dict[str, Any]]]:
        """``(messages, kwargs)`` of every call so far."""
        with self._lock:
            return list(self._calls)

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        with self._lock:
            self._calls.append((list(messages), dict(kwargs)))
            n = len(self.responses)
            index = self._index % n if self.cycle else min(self._index, n - 1)
            self._index += 1
            entry = self.responses[index]
        if callable(entry) and not isinstance(entry, BaseException | type):
            entry = entry(messages)
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, str):
            message = AIMessage(content=entry)
        elif isinstance(entry, AIMessage):
            message = entry.model_copy(deep=True)
        else:
            raise TypeError(
                f"ScriptedChatModel responses must be str, AIMessage, exceptions or callables, "
                f"got {type(entry).__name__}"
            )
        message.id = None
        if message.usage_metadata is None:
            in_tokens = sum(len(str(m.content)) for m in messages) // 4 + 1
            out_tokens = len(str(message.content)) // 4 + 4 * len(message.tool_calls) + 1
            message.usage_metadata = {
                "input_tokens": in_tokens,
                "output_tokens": out_tokens,
                "total_tokens": in_tokens + out_tokens,
            }
        message.response_metadata = {**message.response_metadata, "model_name": self.model_name}
        return message

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay_s:
            time.sleep(self.delay_s)
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    @staticmethod
    def _chunks(message: AIMessage) -> list[AIMessageChunk]:
        text = message.content if isinstance(message.content, str) else str(message.content)
        words = text.split(" ")
        chunks = [
            AIMessageChunk(content=word if i == 0 else " " + word)
            for i, word in enumerate(words)
            if word or i == 0
        ]
        import json

        for index, call in enumerate(message.tool_calls):
            chunks.append(
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=call["name"],
                            args=json.dumps(call["args"]),
                            id=call["id"],
                            index=index,
                        )
                    ],
                )
            )
        last = chunks[-1]
        last.usage_metadata = message.usage_metadata
        last.response_metadata = dict(message.response_metadata)
        last.chunk_position = "last"
        return chunks

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if self.delay_s:
            time.sleep(self.delay_s)
        for chunk in self._chunks(self._next(messages, kwargs)):
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        for chunk in self._chunks(self._next(messages, kwargs)):
            if run_manager:
                await run_manager.on_llm_new_token(
                    chunk.text, chunk=ChatGenerationChunk(message=chunk)
                )
            yield ChatGenerationChunk(message=chunk)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tools on every call (the script decides what is called)."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)


class FixedNetworkMonitor(NetworkMonitor):
    """A monitor that always reports the state you set (observations are counted, not used).

    Example:
        .. code-block:: python

            from langchain_netgpt import NetworkState
            from langchain_netgpt.testing import FixedNetworkMonitor

            monitor = FixedNetworkMonitor(
                NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=600)
            )
            assert monitor.state().rtt_ms == 600
    """

    def __init__(self, state: NetworkState) -> None:
        super().__init__(initial=state)
        self._count = 0

    def observe(
        self,
        *,
        bytes_sent: int,
        bytes_received: int,
        total_s: float,
        ttfb_s: float | None = None,
        server_s: float = 0.0,
    ) -> NetworkState:
        """Count the observation and keep the fixed state."""
        self._count += 1
        return self.state()

    @property
    def observations(self) -> int:
        """How many observations were reported."""
        return self._count


class ConstantScorer:
    """A scorer that gives every step the same edge-success score.

    Example:
        .. code-block:: python

            from langchain_netgpt.testing import ConstantScorer

            scorer = ConstantScorer(0.4)
    """

    def __init__(self, score: float) -> None:
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score must lie in [0, 1], got {score!r}")
        self.value = score

    def score(self, features: RequestFeatures, messages: Sequence[BaseMessage]) -> float:
        """Return the constant."""
        return self.value
