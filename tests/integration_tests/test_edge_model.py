"""The edge model on the real bundled SmolLM2-135M-Instruct, once per runtime (llama.cpp and
transformers: the same tests hold for both; each is loaded once for the module)."""

import asyncio
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from langchain_netgpt.edge import (
    CancelToken,
    EdgeGenerationCancelled,
    HuggingFaceEdgeModel,
    cancel_scope,
)
from langchain_netgpt.recorded import check_calls, load_bfcl
from langchain_netgpt.routing._jsonschema import validate_json_schema
from tests.integration_tests._runtimes import needs_llama_cpp

pytestmark = pytest.mark.integration

BFCL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "bfcl"


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="the person's first name")
    age: int = Field(description="age in years")


STORY = "Write a very long story about a dragon, with many chapters."


@pytest.fixture(
    scope="module", params=[pytest.param("llama_cpp", marks=needs_llama_cpp), "transformers"]
)
def edge(request: pytest.FixtureRequest) -> HuggingFaceEdgeModel:
    model = HuggingFaceEdgeModel.from_bundled(
        backend=request.param, device="cpu", max_new_tokens=40, max_argument_chars=60
    )
    model.load()
    return model


def test_the_answer_names_the_runtime_that_served_it(edge: HuggingFaceEdgeModel) -> None:
    result = edge.invoke("Hi")

    assert result.response_metadata["edge_backend"] == edge.backend
    assert edge.load().backend == edge.backend


def test_a_plain_prompt_gets_a_text_answer_with_usage(edge: HuggingFaceEdgeModel) -> None:
    result = edge.invoke("Hello! Who are you?")

    assert isinstance(result.content, str) and result.content.strip()
    assert result.tool_calls == []
    assert result.usage_metadata is not None
    assert result.usage_metadata["output_tokens"] > 0
    assert result.response_metadata["model_name"] == "SmolLM2-135M-Instruct"
    assert result.response_metadata["finish_reason"] in ("stop", "length")


def test_a_required_tool_choice_yields_a_schema_valid_call(edge: HuggingFaceEdgeModel) -> None:
    bound = edge.bind_tools([get_weather, add], tool_choice="required")

    result = bound.invoke("What is the weather in Paris?")

    assert isinstance(result, AIMessage)
    assert len(result.tool_calls) >= 1
    call = result.tool_calls[0]
    assert call["name"] in ("get_weather", "add")
    assert call["id"] and call["id"].startswith("call_")
    assert result.response_metadata["finish_reason"] == "tool_calls"


def test_a_named_tool_choice_calls_that_tool_with_valid_arguments(
    edge: HuggingFaceEdgeModel,
) -> None:
    bound = edge.bind_tools([get_weather, add], tool_choice="add", parallel_tool_calls=False)

    result = bound.invoke("What is 2 plus 3?")

    assert [c["name"] for c in result.tool_calls] == ["add"]
    args = result.tool_calls[0]["args"]
    assert set(args) == {"a", "b"}
    assert all(isinstance(v, int) for v in args.values())


def test_tool_choice_none_answers_in_text_without_calls(edge: HuggingFaceEdgeModel) -> None:
    bound = edge.bind_tools([get_weather], tool_choice="none")

    result = bound.invoke("What is the weather in Paris?")

    assert result.tool_calls == []
    assert isinstance(result.content, str) and result.content.strip()


def test_a_tool_result_in_the_history_is_answered(edge: HuggingFaceEdgeModel) -> None:
    bound = edge.bind_tools([get_weather])
    history = [
        HumanMessage("What is the weather in Paris?"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}
            ],
        ),
        ToolMessage("sunny, 24 C", tool_call_id="c1"),
    ]

    result = bound.invoke(history)

    assert isinstance(result, AIMessage)
    assert result.content or result.tool_calls


def test_structured_output_returns_a_validated_pydantic_object(
    edge: HuggingFaceEdgeModel,
) -> None:
    structured = edge.with_structured_output(Person)

    person = structured.invoke("Alice is 30 years old. Extract the person.")

    assert isinstance(person, Person)
    assert person.name


def test_structured_output_with_a_json_schema_returns_a_valid_dict(
    edge: HuggingFaceEdgeModel,
) -> None:
    schema = Person.model_json_schema()

    result = edge.with_structured_output(schema).invoke("Bob is 41. Extract the person.")

    assert isinstance(result, dict)
    assert validate_json_schema(result, schema) == []


def test_streaming_yields_several_text_chunks_then_a_last_chunk_with_usage(
    edge: HuggingFaceEdgeModel,
) -> None:
    chunks = list(edge.stream("Tell me about the sea."))

    assert len(chunks) > 2
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[-1].chunk_position == "last"
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full.content, str) and full.content.strip()
    assert full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0


def test_streaming_with_tools_carries_the_tool_call(edge: HuggingFaceEdgeModel) -> None:
    bound = edge.bind_tools([get_weather], tool_choice="get_weather")

    chunks = list(bound.stream("Weather in Rome?"))

    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert [c["name"] for c in full.tool_calls][:1] == ["get_weather"]


def test_a_stop_sequence_cuts_the_answer(edge: HuggingFaceEdgeModel) -> None:
    result = edge.invoke("Count from one to ten in words, separated by commas.", stop=[","])

    assert "," not in result.text


async def test_async_invoke_answers(edge: HuggingFaceEdgeModel) -> None:
    result = await edge.ainvoke("Hi!")

    assert isinstance(result.content, str) and result.content.strip()


async def test_async_streaming_ends_with_a_last_chunk(edge: HuggingFaceEdgeModel) -> None:
    chunks = [chunk async for chunk in edge.astream("Say something nice.")]

    assert len(chunks) > 1
    assert chunks[-1].chunk_position == "last"
    assert "".join(str(c.content) for c in chunks).strip()


def test_concurrent_calls_from_threads_are_serialised_and_all_answer(
    edge: HuggingFaceEdgeModel,
) -> None:
    results: list[AIMessage] = []
    short = edge.model_copy(update={"max_new_tokens": 8})

    def ask() -> None:
        results.append(short.invoke("Hi"))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3
    assert all(r.usage_metadata and r.usage_metadata["output_tokens"] > 0 for r in results)


@pytest.mark.parametrize(
    "edge",
    [
        pytest.param("llama_cpp", marks=needs_llama_cpp),
        pytest.param("transformers", marks=pytest.mark.slow),  # ~2 min there
    ],
    indirect=True,
)
def test_every_constrained_call_on_30_bfcl_tasks_is_schema_valid(
    edge: HuggingFaceEdgeModel,
) -> None:
    tasks = load_bfcl(BFCL / "BFCL_v4_simple_python.json", limit=30)
    model = edge.model_copy(update={"max_new_tokens": 96, "max_argument_chars": 64})
    failures = []

    for task in tasks:
        bound = model.bind_tools(task.tools, tool_choice="required", parallel_tool_calls=False)
        result = bound.invoke(task.messages)
        check = check_calls(task, result.tool_calls)
        if not result.tool_calls or not check.schema_valid:
            failures.append((task.id, result.tool_calls, result.invalid_tool_calls, check))

    assert failures == []


def _is_free(edge: HuggingFaceEdgeModel, within_s: float) -> bool:
    # The model's generate lock is held for the whole of a generation.
    lock = edge.load().generate_lock  # type: ignore[attr-defined]
    acquired = lock.acquire(timeout=within_s)
    if acquired:
        lock.release()
    return acquired


def test_a_cancelled_generation_stops_within_a_second_and_frees_the_cpu(
    edge: HuggingFaceEdgeModel,
) -> None:
    long = edge.model_copy(update={"max_new_tokens": 1500})
    token = CancelToken()
    outcome: dict[str, BaseException] = {}

    def call() -> None:
        with cancel_scope(token):
            try:
                long.invoke(STORY)
            except BaseException as exc:
                outcome["error"] = exc

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive(), "the generation ended before it could be cancelled"
    token.cancel("deadline passed")
    cancelled_at = time.perf_counter()
    worker.join(timeout=5)
    stopped_after = time.perf_counter() - cancelled_at
    cpu_before = time.process_time()
    time.sleep(0.5)
    cpu_idle = time.process_time() - cpu_before

    assert stopped_after < 1.0
    assert isinstance(outcome.get("error"), EdgeGenerationCancelled)
    assert outcome["error"].reason == "deadline passed"  # type: ignore[attr-defined]
    assert _is_free(edge, within_s=0.1)
    assert cpu_idle < 0.25  # a generation still running would burn ~1 s of CPU on 2 cores


async def test_cancelling_the_awaiting_task_stops_the_generation(
    edge: HuggingFaceEdgeModel,
) -> None:
    long = edge.model_copy(update={"max_new_tokens": 1500})
    task = asyncio.create_task(long.ainvoke(STORY))
    await asyncio.sleep(1.0)
    assert not task.done()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(_is_free, edge, 1.0)


async def test_closing_an_async_stream_early_stops_the_generation(
    edge: HuggingFaceEdgeModel,
) -> None:
    long = edge.model_copy(update={"max_new_tokens": 1500})
    stream = long.astream(STORY)
    first = await anext(stream)

    await stream.aclose()

    assert first.content
    assert await asyncio.to_thread(_is_free, edge, 1.0)


def test_a_call_under_an_already_cancelled_scope_raises_at_once(
    edge: HuggingFaceEdgeModel,
) -> None:
    token = CancelToken()
    token.cancel("too late")

    with cancel_scope(token), pytest.raises(EdgeGenerationCancelled, match="too late"):
        edge.invoke("Hi")


def test_a_stop_sequence_in_a_stream_ends_it_without_an_error(
    edge: HuggingFaceEdgeModel,
) -> None:
    chunks = list(edge.stream("List three fruits, one per line.", stop=["\n"]))

    text = "".join(str(c.content) for c in chunks)
    assert "\n" not in text
    assert chunks[-1].chunk_position == "last"


@needs_llama_cpp
def test_both_runtimes_see_the_same_prompt_tokens() -> None:
    from langchain_core.messages import convert_to_messages

    from langchain_netgpt.edge.prompt import chat_turns_to_prompt, render_messages
    from langchain_netgpt.edge.tools import ToolSpec, normalize_tool_choice, render_tools_prompt

    task = load_bfcl(BFCL / "BFCL_v4_multiple.json", limit=1)[0]
    specs = [ToolSpec.from_any(tool) for tool in task.tools]
    suffix = render_tools_prompt(specs, normalize_tool_choice("required", [s.name for s in specs]))
    turns = render_messages(convert_to_messages(task.messages), system_suffix=suffix)
    llama = HuggingFaceEdgeModel.from_bundled(backend="llama_cpp").load()
    hf = HuggingFaceEdgeModel.from_bundled(backend="transformers", device="cpu").load()

    llama_tokens = llama.tokenize(llama.render_prompt(turns))  # type: ignore[attr-defined]
    tokenizer = hf.tokenizer  # type: ignore[attr-defined]
    hf_tokens = tokenizer(chat_turns_to_prompt(tokenizer, turns), add_special_tokens=False)

    assert llama_tokens == hf_tokens["input_ids"]
    assert len(llama_tokens) > 200


@needs_llama_cpp
def test_the_llama_runtime_states_the_context_window_it_enforces() -> None:
    from langchain_netgpt.edge import LoadedModelCache
    from langchain_netgpt.routing.context_window import model_context_tokens

    small = HuggingFaceEdgeModel.from_bundled(
        backend="llama_cpp", n_ctx=1024, model_cache=LoadedModelCache()
    )
    default = HuggingFaceEdgeModel.from_bundled(backend="llama_cpp")

    assert model_context_tokens(small) == small.load().context_window_tokens == 1024  # type: ignore[attr-defined]
    # Without n_ctx, llama.cpp takes the GGUF's trained length, which the router reads too.
    assert model_context_tokens(default) == default.load().context_window_tokens == 8192  # type: ignore[attr-defined]
