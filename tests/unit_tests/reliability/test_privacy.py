"""Privacy rules keep a step on the edge; secrets never reach traces or logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr, ValidationError

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.cloud import LocalServer
from langchain_netgpt.errors import PrivateStepError
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.privacy import PII_KINDS, PrivacyRules
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.testing.faults import EdgeFault, faulty_edge
from langchain_netgpt.tracing import InMemoryTraceSink


def cloud_router(edge: Any, sink: InMemoryTraceSink, **options: Any) -> NetGPTRouter:
    return NetGPTRouter(
        edge=edge,
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=AlwaysCloud(),
        sinks=[sink],
        **options,
    )


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("write to jane.doe@example.com", "pii:email"),
        ("call me on +1 415 555 0134", "pii:phone"),
        ("my card is 4111 1111 1111 1111", "pii:credit_card"),
        ("pay to DE89 3704 0044 0532 0130 00", "pii:iban"),
        ("SSN 123-45-6789", "pii:government_id"),
        ("use key sk-proj0123456789abcdefXYZ", "pii:api_key"),
    ],
)
def test_the_pii_detector_names_the_kind_it_found(text: str, rule: str) -> None:
    match = PrivacyRules().check([HumanMessage(text)])
    assert match is not None and match.rule == rule


def test_a_card_number_with_a_bad_check_digit_is_not_a_card() -> None:
    match = PrivacyRules(pii=frozenset({"credit_card"})).check([HumanMessage("4111111111111112")])
    assert match is None


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="@+"), max_size=80))
def test_text_with_no_digits_or_at_sign_never_matches_pii(text: str) -> None:
    clean = "".join(ch for ch in text if not ch.isdigit())
    assert PrivacyRules(pii=PII_KINDS - {"api_key"}).check([HumanMessage(clean)]) is None


def test_a_private_step_stays_on_the_edge_whatever_the_policy_says() -> None:
    sink = InMemoryTraceSink()
    routed = cloud_router(ScriptedChatModel(responses=["edge"]), sink, privacy=PrivacyRules())
    answer = routed.invoke([HumanMessage("email bob@example.org the report")])
    trace = sink.traces[0]
    assert answer.content == "edge"
    assert (trace.final_target, trace.overridden_by) == ("edge", "privacy")
    assert "pii:email" in trace.reason and "bob@example.org" not in trace.reason


def test_a_user_pattern_names_itself_in_the_trace() -> None:
    sink = InMemoryTraceSink()
    rules = PrivacyRules(patterns={"falcon": r"(?i)project\s+falcon"}, pii=frozenset())
    cloud_router(ScriptedChatModel(responses=["edge"]), sink, privacy=rules).invoke(
        "status of Project Falcon?"
    )
    assert "pattern:falcon" in sink.traces[0].reason


@pytest.mark.parametrize("where", ["additional_kwargs", "response_metadata"])
def test_the_sensitive_flag_on_a_message_keeps_the_step_on_the_edge(where: str) -> None:
    sink = InMemoryTraceSink()
    message = HumanMessage("an ordinary question", **{where: {"sensitive": True}})
    cloud_router(ScriptedChatModel(responses=["edge"]), sink, privacy=PrivacyRules()).invoke(
        [message]
    )
    assert sink.traces[0].overridden_by == "privacy"
    assert "flag:sensitive" in sink.traces[0].reason


def test_the_sensitive_flag_in_run_metadata_keeps_the_step_on_the_edge() -> None:
    sink = InMemoryTraceSink()
    routed = cloud_router(ScriptedChatModel(responses=["edge"]), sink, privacy=PrivacyRules())
    routed.invoke("an ordinary question", config={"metadata": {"sensitive": True}})
    assert sink.traces[0].final_target == "edge"


def test_a_sensitive_flag_that_is_not_a_bool_is_an_error_not_a_guess() -> None:
    routed = cloud_router(
        ScriptedChatModel(responses=["edge"]), InMemoryTraceSink(), privacy=PrivacyRules()
    )
    with pytest.raises(TypeError, match="sensitive"):
        routed.invoke([HumanMessage("hi", additional_kwargs={"sensitive": "yes"})])


def test_a_private_step_whose_edge_fails_raises_instead_of_going_to_the_cloud() -> None:
    sink = InMemoryTraceSink()
    routed = cloud_router(faulty_edge(EdgeFault.OUT_OF_MEMORY), sink, privacy=PrivacyRules())
    with pytest.raises(PrivateStepError, match="pii:email") as caught:
        routed.invoke("email bob@example.org the report")
    assert caught.value.rule == "pii:email"
    assert [a.target for a in sink.traces[0].attempts] == ["edge"]


def test_a_private_step_may_fall_back_to_the_cloud_when_the_user_opts_in() -> None:
    sink = InMemoryTraceSink()
    rules = PrivacyRules(allow_cloud_fallback=True)
    answer = cloud_router(faulty_edge(EdgeFault.EXCEPTION), sink, privacy=rules).invoke(
        "email bob@example.org the report"
    )
    assert answer.content == "cloud"


def test_steps_without_private_data_are_routed_as_usual() -> None:
    sink = InMemoryTraceSink()
    cloud_router(ScriptedChatModel(responses=["edge"]), sink, privacy=PrivacyRules()).invoke(
        "What is the capital of France?"
    )
    assert (sink.traces[0].final_target, sink.traces[0].overridden_by) == ("cloud", None)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"patterns": {"x": "("}}, "patterns['x']"),
        ({"patterns": {"x": ".*"}}, "empty string"),
        ({"pii": {"emails"}}, "emails"),
        ({"allow_cloud_fallback": "maybe"}, "allow_cloud_fallback"),
    ],
)
def test_bad_privacy_rules_are_rejected_naming_the_field(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match=named.replace("[", r"\[").replace("]", r"\]")):
        PrivacyRules(**fields)


PLANTED = "sk-planted0123456789abcdefSECRET"
ENV_TOKEN = "tok-env-0123456789-value"


def test_secrets_never_reach_traces_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NETGPT_FAULTS_TEST_TOKEN", ENV_TOKEN)
    sink = InMemoryTraceSink()
    server_model = ScriptedChatModel(responses=["cloud says hi"])
    with LocalServer(server_model, model_name="scripted") as server:
        cloud = ChatOpenAI(
            model="scripted",
            base_url=server.base_url,
            api_key=SecretStr(PLANTED),
            max_retries=0,
            timeout=10,
            include_response_headers=True,
        )
        routed = NetGPTRouter(
            edge=faulty_edge(EdgeFault.EXCEPTION, model_name=ENV_TOKEN),
            cloud=cloud,
            policy=AlwaysCloud(),
            sinks=[sink],
        )
        with caplog.at_level(logging.DEBUG):
            routed.invoke(
                [
                    SystemMessage(f"Authorization: Bearer {PLANTED}"),
                    HumanMessage(f"my token is {ENV_TOKEN}", additional_kwargs={"api_key": "k"}),
                    AIMessage("", tool_calls=[{"name": "f", "args": {"key": PLANTED}, "id": "1"}]),
                    HumanMessage("go on"),
                ]
            )
    dumped = sink.traces[0].to_json()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PLANTED, ENV_TOKEN):
        assert secret not in dumped
        assert secret not in logged
    assert sink.traces[0].final_target == "cloud"


def test_the_middleware_keeps_a_private_step_of_an_agent_on_the_edge() -> None:
    from langchain.agents import create_agent

    from langchain_netgpt.middleware import NetGPTRoutingMiddleware

    sink = InMemoryTraceSink()
    routing = NetGPTRoutingMiddleware.from_router(
        cloud_router(ScriptedChatModel(responses=["edge"]), sink, privacy=PrivacyRules())
    )
    agent = create_agent(ScriptedChatModel(responses=["unused"]), tools=[], middleware=[routing])
    reply = agent.invoke(
        {"messages": [("user", "an ordinary question")]}, {"metadata": {"sensitive": True}}
    )["messages"][-1]
    assert reply.content == "edge"
    assert sink.traces[0].overridden_by == "privacy"
