import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_netgpt.edge.prompt import DEFAULT_SYSTEM_PROMPT, render_messages


def test_a_system_suffix_without_a_system_message_adds_the_default_system_prompt() -> None:
    turns = render_messages([HumanMessage("hi")], system_suffix="TOOLS")

    assert turns[0] == {"role": "system", "content": f"{DEFAULT_SYSTEM_PROMPT}\n\nTOOLS"}
    assert turns[1] == {"role": "user", "content": "hi"}


def test_a_system_suffix_is_appended_to_the_existing_system_message() -> None:
    turns = render_messages([SystemMessage("Be brief."), HumanMessage("hi")], system_suffix="TOOLS")

    assert turns[0] == {"role": "system", "content": "Be brief.\n\nTOOLS"}
    assert len(turns) == 2


def test_an_ai_tool_call_renders_as_the_json_document_the_model_emits() -> None:
    ai = AIMessage(
        "", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]
    )

    turns = render_messages([HumanMessage("1+?"), ai])

    assert turns[1] == {
        "role": "assistant",
        "content": '{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}',
    }


def test_a_tool_result_renders_as_a_user_turn_naming_the_tool_found_by_call_id() -> None:
    ai = AIMessage(
        "", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]
    )

    turns = render_messages([HumanMessage("1+?"), ai, ToolMessage("3", tool_call_id="c1")])

    assert turns[2] == {"role": "user", "content": "Result of tool add: 3"}


def test_a_failed_tool_result_is_marked_as_an_error() -> None:
    msg = ToolMessage("missing b", tool_call_id="x", name="add", status="error")

    turns = render_messages([msg])

    assert turns[0]["content"] == "Result of tool add (error): missing b"


def test_list_content_joins_its_text_blocks_and_skips_ai_tool_use_blocks() -> None:
    ai = AIMessage(
        [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}},
        ],
        tool_calls=[{"name": "add", "args": {"a": 1}, "id": "t1", "type": "tool_call"}],
    )

    turns = render_messages([ai])

    assert turns[0]["content"].startswith("Let me check.\n{")


def test_an_image_block_in_a_user_message_is_rejected_with_its_type() -> None:
    msg = HumanMessage([{"type": "image_url", "image_url": {"url": "http://x/y.png"}}])

    with pytest.raises(ValueError, match=r"'image_url'.*text blocks only"):
        render_messages([msg])


def test_a_text_answer_sees_tool_results_folded_into_the_question_not_call_documents() -> None:
    messages = [
        HumanMessage("What's the weather in Paris?"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"},
                {"name": "get_time", "args": {"city": "Paris"}, "id": "c2"},
            ],
        ),
        ToolMessage("Sunny, 21 C", tool_call_id="c1"),
        ToolMessage("noon", tool_call_id="c2", status="error"),
    ]

    turns = render_messages(messages, calls_as_prose=True)

    assert turns == [
        {
            "role": "user",
            "content": "What's the weather in Paris?\n\n"
            "The tool get_weather returned: Sunny, 21 C\n"
            "The tool get_time (error) returned: noon\n"
            "Answer the question from these results.",
        }
    ]
    assert "tool_calls" not in str(turns)
