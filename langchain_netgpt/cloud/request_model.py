"""The chat model configured for one chat-completions request.

:func:`runnable_for` applies a request's sampling settings (for the fields the model declares),
binds its tools, or wraps the model for ``response_format`` ``json_schema``; anything the model
cannot do is an :class:`~langchain_netgpt.cloud.protocol.ApiError` 400 naming the parameter.
:mod:`langchain_netgpt.cloud.completions` calls it once per request.
"""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import TypeAdapter, ValidationError

from langchain_netgpt.cloud.protocol import ApiError, ChatCompletionRequest
from langchain_netgpt.tracing.scrub import scrub_text

__all__ = ["runnable_for"]

_MAX_TOKEN_FIELDS = ("max_tokens", "max_new_tokens", "max_completion_tokens")


def _configure(model: BaseChatModel, request: ChatCompletionRequest) -> BaseChatModel:
    """A copy of ``model`` with the request's sampling settings, for the fields the model has.

    Settings the model class does not declare (say ``top_p`` on a greedy-only model) are ignored,
    as an OpenAI-compatible server for a fixed model may do; a value outside the range the model's
    field accepts (say ``max_tokens`` above its limit) is a 400 naming the parameter.
    """
    fields = type(model).model_fields
    wanted: list[tuple[str, str, Any]] = []  # (request parameter, model field, value)
    if request.temperature is not None:
        wanted.append(("temperature", "temperature", request.temperature))
    if request.top_p is not None:
        wanted.append(("top_p", "top_p", request.top_p))
    if request.max_output_tokens is not None:
        param = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
        field = next((name for name in _MAX_TOKEN_FIELDS if name in fields), None)
        if field is not None:
            wanted.append((param, field, request.max_output_tokens))
    updates: dict[str, Any] = {}
    for param, field, value in wanted:
        if field not in fields:
            continue
        info = fields[field]
        try:
            field_type: Any = (
                cast(Any, Annotated)[(info.annotation, *info.metadata)]
                if info.metadata
                else info.annotation
            )
            TypeAdapter(field_type).validate_python(value)
        except ValidationError as exc:
            reason = exc.errors(include_url=False, include_input=False)[0]["msg"]
            raise ApiError(
                400, f"{param}={value} is not accepted by this model: {reason}", param=param
            ) from None
        updates[field] = value
    return model.model_copy(update=updates) if updates else model


def _structured_output_runnable(
    model: BaseChatModel, request: ChatCompletionRequest
) -> Runnable[list[BaseMessage], AIMessage]:
    """Wrap ``model`` so it answers with JSON matching ``response_format.json_schema``."""
    assert request.response_format is not None and request.response_format.json_schema is not None
    spec = request.response_format.json_schema
    schema = {**spec.schema_, "title": spec.name}
    if spec.description:
        schema["description"] = spec.description
    try:
        structured = model.with_structured_output(schema, include_raw=True)
    except NotImplementedError:
        raise ApiError(
            400,
            f"this model ({type(model).__name__}) cannot do response_format json_schema",
            param="response_format",
        ) from None

    def to_message(result: Any) -> AIMessage:
        raw = result.get("raw")
        if result.get("parsed") is None:
            raise ValueError(
                f"the model's answer does not match the schema {spec.name!r}: "
                f"{result.get('parsing_error')}"
            )
        usage = raw.usage_metadata if isinstance(raw, AIMessage) else None
        return AIMessage(json.dumps(result["parsed"]), usage_metadata=usage)

    chain: Runnable[list[BaseMessage], AIMessage] = structured | RunnableLambda(to_message)
    return chain


def runnable_for(
    model: BaseChatModel, request: ChatCompletionRequest
) -> Runnable[list[BaseMessage], Any]:
    """The model configured for this request: sampling settings, bound tools, structured output.

    Args:
        model: The served chat model.
        request: The parsed request.

    Returns:
        A runnable from LangChain messages to the model's answer.

    Raises:
        ApiError: 400, naming the parameter the model cannot honour.
    """
    configured = _configure(model, request)
    if request.response_format is not None and request.response_format.type == "json_object":
        raise ApiError(
            400,
            "response_format type 'json_object' is not supported; use 'json_schema' with a schema",
            param="response_format.type",
        )
    wants_schema = request.response_format is not None and request.response_format.type == (
        "json_schema"
    )
    if wants_schema and request.tools and request.tool_choice != "none":
        raise ApiError(
            400,
            "combining tools with response_format json_schema is not supported by this server",
            param="response_format",
        )
    if wants_schema:
        return _structured_output_runnable(configured, request)
    if not request.tools or request.tool_choice == "none":
        # "none": the model must not call tools, so it does not get them at all.
        return configured
    extra: dict[str, Any] = {}
    if request.parallel_tool_calls is not None:
        parameters = inspect.signature(configured.bind_tools).parameters
        if "parallel_tool_calls" in parameters:
            extra["parallel_tool_calls"] = request.parallel_tool_calls
    try:
        return configured.bind_tools(
            request.langchain_tools(), tool_choice=request.langchain_tool_choice(), **extra
        )
    except NotImplementedError:
        raise ApiError(
            400, f"this model ({type(model).__name__}) does not support tools", param="tools"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        reason = scrub_text(str(exc))
        raise ApiError(400, f"the tools could not be bound: {reason}", param="tools") from None
