"""LangChain answers become OpenAI chat.completion objects and stream chunks."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk

from langchain_netgpt.cloud.responses import ChunkEncoder, completion_from_message


def encoder(**kwargs: Any) -> ChunkEncoder:
    return ChunkEncoder(completion_id="chatcmpl-1", created=0, model_name="m", **kwargs)


def tool_deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]


def piece(name: str | None, args: str, call_id: str | None, index: int | None) -> AIMessageChunk:
    chunk = {"name": name, "args": args, "id": call_id, "index": index}
    return AIMessageChunk(content="", tool_call_chunks=[chunk])


def completion(message: AIMessage, **kwargs: Any) -> dict[str, Any]:
    return completion_from_message(
        message, completion_id="chatcmpl-1", created=0, model_name="m", **kwargs
    )


def test_index_less_chunks_with_an_id_start_a_new_call() -> None:
    enc = encoder()
    chunks = enc.encode(piece("a", "{}", "call_a", None)) + enc.encode(
        piece("b", "{}", "call_b", None)
    )

    assert [d["index"] for d in tool_deltas(chunks)] == [0, 1]


def test_index_less_chunks_without_id_or_name_continue_the_current_call() -> None:
    enc = encoder()
    chunks = enc.encode(piece("a", '{"x": ', "call_a", None)) + enc.encode(
        piece(None, "1}", None, None)
    )

    deltas = tool_deltas(chunks)
    assert [d["index"] for d in deltas] == [0, 0]
    assert "id" not in deltas[1]
    assert deltas[0]["function"]["arguments"] + deltas[1]["function"]["arguments"] == '{"x": 1}'


def test_a_streamed_call_without_an_id_gets_one() -> None:
    [delta] = tool_deltas(encoder().encode(piece("a", "{}", None, 0)))

    assert delta["id"].startswith("call_")


def test_parallel_tool_calls_false_drops_later_streamed_calls() -> None:
    enc = encoder(parallel_tool_calls=False)
    chunks = enc.encode(piece("a", "{}", "call_a", 0)) + enc.encode(piece("b", "{}", "call_b", 1))

    assert [d["id"] for d in tool_deltas(chunks)] == ["call_a"]


def test_stream_finish_reason_is_length_when_the_model_ran_out_of_tokens() -> None:
    enc = encoder()
    enc.encode(AIMessageChunk(content="cut", response_metadata={"finish_reason": "length"}))

    assert enc.finish()[0]["choices"][0]["finish_reason"] == "length"


def test_stream_usage_is_summed_over_chunks() -> None:
    enc = encoder(include_usage=True)
    usage = {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}
    enc.encode(AIMessageChunk(content="a", usage_metadata=usage))
    enc.encode(
        AIMessageChunk(content="b", usage_metadata={**usage, "input_tokens": 0, "total_tokens": 1})
    )

    assert enc.finish()[-1]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_tokens": 7,
    }


def test_invalid_tool_call_is_returned_with_its_raw_arguments() -> None:
    message = AIMessage(
        "",
        invalid_tool_calls=[{"name": "f", "args": "{broken", "id": "call_x", "error": "bad json"}],
    )

    [call] = completion(message)["choices"][0]["message"]["tool_calls"]

    assert call["function"] == {"name": "f", "arguments": "{broken"}


def test_text_content_blocks_are_joined_into_one_string() -> None:
    message = AIMessage([{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}])

    assert completion(message)["choices"][0]["message"]["content"] == "Hello, world"


def test_answer_without_usage_metadata_reports_no_usage() -> None:
    assert completion(AIMessage("hi"))["usage"] is None
