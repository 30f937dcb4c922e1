"""A scripted tool-calling chat model for the server tests (the boundary: the served model)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr


class ScriptedToolModel(BaseChatModel):
    """Answers from ``script`` in turn (cycling); an exception in the script is raised.

    Streams text word by word and each tool call as two argument fragments (the first with the
    id and name), with usage on the last chunk. Records every call's messages and kwargs.
    """

    script: list[Any] = Field(default_factory=lambda: [AIMessage("hello there")])
    temperature: float = 0.0
    max_tokens: int = 16
    delay_s: float = 0.0
    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)
    _turn: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-model"

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self._calls

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=list(tools), tool_choice=tool_choice, **kwargs)

    def _next(self, messages: list[BaseMessage], stop: Any, kwargs: dict[str, Any]) -> AIMessage:
        self._calls.append(
            {
                "messages": messages,
                "stop": stop,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                **kwargs,
            }
        )
        entry = self.script[self._turn % len(self.script)]
        self._turn += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if isinstance(entry, BaseException):
            raise entry
        message = entry if isinstance(entry, AIMessage) else AIMessage(str(entry))
        if message.usage_metadata is None:
            message = message.model_copy(
                update={
                    "usage_metadata": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
                }
            )
        return message

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, stop, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages, stop, kwargs)
        text = message.content if isinstance(message.content, str) else ""
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            if piece:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        for index, call in enumerate(message.tool_calls):
            args = json.dumps(call["args"])
            half = len(args) // 2
            first = {"name": call["name"], "args": args[:half], "id": call["id"], "index": index}
            rest = {"name": None, "args": args[half:], "id": None, "index": index}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[first]))
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[rest]))
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=message.usage_metadata)
        )


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def weather_call(city: str = "Paris", call_id: str = "call_weather_1") -> AIMessage:
    return AIMessage(
        "", tool_calls=[{"name": "get_weather", "args": {"city": city}, "id": call_id}]
    )
