"""Privacy rules against an evasion corpus: Unicode tricks, formats, splitting, every field."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_netgpt import NetGPTRouter
from langchain_netgpt.routing import AlwaysCloud
from langchain_netgpt.routing.pii import PII_KINDS, detect, normalize
from langchain_netgpt.routing.privacy import SCAN_BUDGET_RULE, PrivacyRules
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink

from .privacy_corpus import load_corpus

VARIANTS, BENIGN = load_corpus()
DOC = Path(__file__).parents[3] / "docs" / "howto" / "failures-and-privacy.md"


def test_the_corpus_holds_at_least_sixty_variants_of_every_kind() -> None:
    assert len(VARIANTS) >= 60
    assert {case["kind"] for case in VARIANTS} == set(PII_KINDS)


def test_at_least_95_percent_of_the_corpus_is_caught_with_the_right_kind() -> None:
    rules = PrivacyRules()
    caught = 0
    for case in VARIANTS:
        match = rules.check(case["messages"])
        if match is not None:
            assert match.rule == f"pii:{case['kind']}", case
            caught += 1
    assert caught / len(VARIANTS) >= 0.95


def test_every_miss_of_the_corpus_is_a_documented_known_limit() -> None:
    rules = PrivacyRules()
    misses = [case for case in VARIANTS if rules.check(case["messages"]) is None]
    doc = DOC.read_text(encoding="utf-8")
    limits = doc[doc.index("Known limits") :]
    for case in misses:
        assert f"`{case['id']}`" in limits, f"miss {case['id']} ({case['technique']}) not in docs"


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_text_is_not_private(text: str) -> None:
    assert PrivacyRules().check([HumanMessage(text)]) is None


def test_normalisation_undoes_unicode_tricks() -> None:
    assert normalize("j\u0430ne\u200b\uff20example\uff0ecom") == "jane@example.com"
    assert normalize("\u0664\u0661\u0665") == "415"
    assert normalize("plain ascii") == "plain ascii"


def test_a_user_pattern_also_matches_through_zero_width_characters() -> None:
    rules = PrivacyRules(patterns={"falcon": r"Project Falcon"}, pii=())
    match = rules.check([HumanMessage("status of Project\u200b Fal\u00adcon")])
    assert match is not None and match.rule == "pattern:falcon"


def test_pii_split_across_two_messages_keeps_the_step_on_the_edge() -> None:
    sink = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        policy=AlwaysCloud(),
        privacy=PrivacyRules(),
        sinks=[sink],
    )
    answer = router.invoke([HumanMessage("my address is jane.doe"), HumanMessage("@example.com")])
    assert answer.content == "edge" and sink.traces[0].overridden_by == "privacy"


def test_pii_in_invalid_tool_call_arguments_is_found() -> None:
    message = AIMessage(
        "",
        invalid_tool_calls=[
            {"name": "send", "args": '{"to": "jane@example.com", ', "id": "1", "error": None}
        ],
    )
    match = PrivacyRules().check([HumanMessage("hi"), message])
    assert match is not None and (match.rule, match.message_index) == ("pii:email", 1)


def test_a_step_with_more_text_than_the_budget_counts_as_private() -> None:
    rules = PrivacyRules(max_scan_chars=1000)
    match = rules.check([HumanMessage("a" * 600), HumanMessage("b" * 600)])
    assert match is not None and (match.rule, match.message_index) == (SCAN_BUDGET_RULE, 1)
    assert rules.check([HumanMessage("a" * 600)]) is None


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "a." * 50_000,
        "@" * 100_000,
        "a@" * 50_000,
        "a@b." * 25_000,
        "1" * 100_000,
        "1 " * 50_000,
        "+1" * 50_000,
        "de89" * 25_000,
        "A1b2" * 25_000,
        "aGVsbG8" * 14_000,
        "%40" * 33_000,
        "a at b dot " * 9_000,
    ],
    ids=lambda text: repr(text[:6]),
)
def test_detection_stays_linear_on_adversarial_100_kb_inputs(text: str) -> None:
    # The old email pattern took 14 s on 100 KB of letters; linear detection takes milliseconds.
    # A generous bound (shared CI machines) that only a quadratic pattern can break.
    start = time.perf_counter()
    detect(text, tuple(sorted(PII_KINDS)))
    assert time.perf_counter() - start < 2.0


def test_the_docs_table_lists_every_pii_kind() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert all(re.search(rf"`{kind}`", doc) for kind in PII_KINDS)
