"""OpenAI chat-completions requests: strict validation and conversion to LangChain messages.

Requests are validated strictly (JSON types are not coerced: ``"temperature": "0.5"`` is an error)
by pydantic models; unknown top-level parameters are ignored so that any OpenAI client can talk
to the server. :func:`to_langchain_messages` turns validated messages into LangChain messages;
the way back (``chat.completion`` objects, stream chunks) is in
:mod:`langchain_netgpt.cloud.responses`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Self

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ApiError",
    "ChatCompletionRequest",
    "error_body",
    "parse_request",
    "to_langchain_messages",
]

_TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_JSON_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


class ApiError(Exception):
    """An error to return to the client as an OpenAI-style JSON body.

    Attributes:
        status: HTTP status code.
        message: Human-readable explanation.
        type: OpenAI error type (``invalid_request_error``, ``server_error``, ...).
        param: The request parameter at fault, as a dotted path, if any.
        code: A short machine-readable code, if any.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body ``{"error": {...}}``."""
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str,
    *,
    type: str,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """An OpenAI-style error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TextPart(_Wire):
    """A text content part (the only kind of part this server accepts)."""

    type: Literal["text"]
    text: str


Content = str | list[TextPart]


class FunctionCall(_Wire):
    """The function of a tool call in an assistant message; ``arguments`` is a JSON string."""

    name: str
    arguments: str


class ToolCallIn(_Wire):
    """A tool call made by the assistant in an earlier turn."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessageIn(_Wire):
    """A system (or developer) message."""

    role: Literal["system", "developer"]
    content: Content
    name: str | None = None


class UserMessageIn(_Wire):
    """A user message."""

    role: Literal["user"]
    content: Content
    name: str | None = None


class AssistantMessageIn(_Wire):
    """An assistant message, possibly with tool calls."""

    role: Literal["assistant"]
    content: Content | None = None
    tool_calls: list[ToolCallIn] | None = None
    name: str | None = None


class ToolMessageIn(_Wire):
    """The result of a tool call."""

    role: Literal["tool"]
    content: Content
    tool_call_id: str


MessageIn = Annotated[
    SystemMessageIn | UserMessageIn | AssistantMessageIn | ToolMessageIn,
    Field(discriminator="role"),
]


def _schema_problem(schema: Any, path: str, depth: int = 0) -> str | None:
    """The first structural problem of a JSON schema fragment, or ``None``."""
    if depth > 32:
        return f"{path} is nested more than 32 levels deep"
    if not isinstance(schema, Mapping):
        return f"{path} must be a JSON object (a schema), got {type(schema).__name__}"
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for item in kinds:
        if item not in _JSON_SCHEMA_TYPES:
            return f"{path}.type must be one of {sorted(_JSON_SCHEMA_TYPES)}, got {item!r}"
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, Mapping):
            return f"{path}.properties must be an object mapping names to schemas"
        for name, sub in properties.items():
            problem = _schema_problem(sub, f"{path}.properties.{name}", depth + 1)
            if problem is not None:
                return problem
    required = schema.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(r, str) for r in required)
    ):
        return f"{path}.required must be a list of property names"
    items = schema.get("items")
    if items is not None and not isinstance(items, bool):
        return _schema_problem(items, f"{path}.items", depth + 1)
    return None


class FunctionDef(_Wire):
    """A function the model may call."""

    name: str = Field(pattern=_TOOL_NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters_is_object_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if value.get("type", "object") != "object":
            raise ValueError(
                f"parameters must be a JSON schema of type 'object', got {value!r:.80}"
            )
        if (problem := _schema_problem(value, "parameters")) is not None:
            raise ValueError(problem)
        return value


class ToolDef(_Wire):
    """A tool in the request's ``tools`` list."""

    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Wire):
    """The function named by a forced ``tool_choice``."""

    name: str


class NamedToolChoice(_Wire):
    """``tool_choice`` forcing one function.

    OpenAI's form is ``{"type": "function", "function": {"name": ...}}``; TGI also sends
    ``{"function": {"name": ...}}`` (no ``type``), and ``ChatHuggingFace`` the whole tool
    definition (its extra keys are ignored).
    """

    type: Literal["function"] = "function"
    function: NamedFunction


class StreamOptions(_Wire):
    """``stream_options``."""

    include_usage: bool = False


class JsonSchemaFormat(_Wire):
    """The ``json_schema`` of a ``response_format``."""

    name: str = Field(pattern=_TOOL_NAME_PATTERN)
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class ResponseFormat(_Wire):
    """``response_format``."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given_for_json_schema(self) -> Self:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format.json_schema is required when type is 'json_schema'")
        return self


class ChatCompletionRequest(_Wire):
    """The body of ``POST /v1/chat/completions`` (the subset this server honours)."""

    model: str
    messages: list[MessageIn] = Field(min_length=1)
    tools: list[ToolDef] | None = None
    # "any" is LangChain's (and Anthropic's) spelling of OpenAI's "required": accepted as such.
    tool_choice: Literal["none", "auto", "required", "any"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    response_format: ResponseFormat | None = None

    @field_validator("n")
    @classmethod
    def _n_is_one(cls, value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError(f"n must be 1 (this server returns one choice), got {value}")
        return value

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError(f"stop takes at most 4 sequences, got {len(value)}")
        return value

    @model_validator(mode="after")
    def _tool_choice_matches_tools(self) -> Self:
        names = [tool.function.name for tool in self.tools or []]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        if isinstance(self.tool_choice, NamedToolChoice):
            if self.tool_choice.function.name not in names:
                raise ValueError(
                    f"tool_choice names {self.tool_choice.function.name!r}, "
                    f"which is not among the tools {names}"
                )
        elif self.tool_choice in ("required", "any") and not names:
            raise ValueError(f"tool_choice {self.tool_choice!r} needs a non-empty tools list")
        return self

    @property
    def max_output_tokens(self) -> int | None:
        """``max_completion_tokens``, or the older ``max_tokens``."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_sequences(self) -> list[str] | None:
        """``stop`` as a list."""
        return [self.stop] if isinstance(self.stop, str) else self.stop

    def langchain_tools(self) -> list[dict[str, Any]]:
        """The tools as OpenAI-format dicts, ready for ``bind_tools``."""
        tools = []
        for tool in self.tools or []:
            function = tool.function.model_dump(exclude_none=True)
            function.setdefault("parameters", {"type": "object", "properties": {}})
            tools.append({"type": "function", "function": function})
        return tools

    def langchain_tool_choice(self) -> str | None:
        """``tool_choice`` in LangChain's vocabulary (``"any"`` for OpenAI's ``"required"``)."""
        if isinstance(self.tool_choice, NamedToolChoice):
            return self.tool_choice.function.name
        if self.tool_choice in ("required", "any"):
            return "any"
        return self.tool_choice


def _loc_to_param(loc: Sequence[int | str]) -> str:
    param = ""
    for part in loc:
        param += f"[{part}]" if isinstance(part, int) else (f".{part}" if param else str(part))
    return param


def parse_request(raw: bytes) -> ChatCompletionRequest:
    """Validate a raw request body.

    Args:
        raw: The HTTP body.

    Returns:
        The validated request.

    Raises:
        ApiError: 400 with the first problem, naming the parameter at fault.
    """
    try:
        return ChatCompletionRequest.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            raise ApiError(
                400, f"the request body is not valid JSON: {first['msg']}", code="invalid_json"
            ) from None
        if first["type"] == "model_type" and not first["loc"]:
            raise ApiError(
                400, "the request body must be a JSON object", code="invalid_json"
            ) from None
        param = _loc_to_param(first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ApiError(
            400, f"invalid value for {param or 'body'}: {first['msg']}{more}", param=param or None
        ) from None


def _text(content: Content | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content)


def to_langchain_messages(messages: Sequence[MessageIn]) -> list[BaseMessage]:
    """Convert validated OpenAI messages into LangChain messages.

    Raises:
        ApiError: 400 when an assistant tool call's ``arguments`` is not a JSON object.
    """
    converted: list[BaseMessage] = []
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessageIn):
            extra = {"__openai_role__": "developer"} if message.role == "developer" else {}
            converted.append(
                SystemMessage(_text(message.content), name=message.name, additional_kwargs=extra)
            )
        elif isinstance(message, UserMessageIn):
            converted.append(HumanMessage(_text(message.content), name=message.name))
        elif isinstance(message, ToolMessageIn):
            converted.append(ToolMessage(_text(message.content), tool_call_id=message.tool_call_id))
        else:
            tool_calls = []
            for j, call in enumerate(message.tool_calls or []):
                param = f"messages[{i}].tool_calls[{j}].function.arguments"
                try:
                    args = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError as exc:
                    raise ApiError(400, f"{param} is not valid JSON: {exc}", param=param) from None
                if not isinstance(args, dict):
                    raise ApiError(400, f"{param} must encode a JSON object", param=param)
                tool_calls.append({"name": call.function.name, "args": args, "id": call.id})
            converted.append(
                AIMessage(_text(message.content), tool_calls=tool_calls, name=message.name)
            )
    return converted
