"""One test per credential format of the scrubber's table, plus text that must survive."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_netgpt.tracing.credentials import CREDENTIAL_FORMATS, find_credential
from langchain_netgpt.tracing.scrub import (
    REDACTED,
    SecretScrubber,
    scrub_text,
    scrub_value,
    scrubbed_logger,
)

# Fake but well-formed examples, one or more per row of CREDENTIAL_FORMATS. The secret part of
# each is what must disappear.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "private_key_block": [
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
            "-----END RSA PRIVATE KEY-----\nbye",
            "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u",
        ),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0x\n-----END PGP PRIVATE KEY BLOCK-----",
            "lQOYBF0x",
        ),
    ],
    "anthropic_key": [
        ("key sk-ant-api03-Zx9kQ2mLp4Rt7Vw1Yb3Nc5Hd8Jf0Gs6A-xyz.", "sk-ant-api03-Zx9kQ2mLp4Rt7")
    ],
    "openai_key": [
        ("OPENAI sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "sk-proj-Ab3dEf6hIj9k"),
        ("legacy sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2n", "sk-Ab3dEf6hIj9kLm2n"),
        ("svc sk-svcacct-Ab3dEf6hIj9kLm2nOp5qRs8t", "sk-svcacct-Ab3dEf6hIj9k"),
    ],
    "stripe_key": [
        ("stripe sk_live_51HxYzAbCdEfGhIjKlMnOpQr", "sk_live_51HxYzAbCdEfGh"),
        ("restricted rk_live_51HxYzAbCdEfGhIjKlMnOpQr", "rk_live_51HxYzAbCdEfGh"),
        ("test sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_4eC39HqLyjWD"),
    ],
    "langsmith_key": [
        ("ls lsv2_pt_0123456789abcdef0123456789abcdef_0a1b2c3d", "lsv2_pt_0123456789")
    ],
    "huggingface_token": [("hf hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "hf_AbCdEfGhIjKlMnOp")],
    "github_token": [
        ("gh ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "ghp_AbCdEfGhIjKlMnOpQr"),
        ("oauth gho_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "gho_AbCdEfGhIjKlMnOpQr"),
        ("app ghs_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "ghs_AbCdEfGhIjKlMnOpQr"),
        (
            "pat github_pat_11ABCDEFG0123456789_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij",
            "github_pat_11ABCDEFG0123456789",
        ),
    ],
    "google_api_key": [("maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY ok", "AIzaSyD-9tSrke72Pou")],
    "slack_token": [
        ("bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012"),
        ("user xoxp-123456789012-123456789012-abcdef", "xoxp-123456789012"),
        ("app xoxa-2-123456789012-abcdefabcdef", "xoxa-2-123456789012"),
        ("refresh xoxr-123456789012-abcdefabcdef", "xoxr-123456789012"),
        ("legacy xoxs-123456789012-abcdefabcdef", "xoxs-123456789012"),
        (
            "hook https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "T0000000/B0000000/XXXXXXXX",
        ),
    ],
    "aws_access_key_id": [
        ("id AKIAIOSFODNN7EXAMPLE.", "AKIAIOSFODNN7EXAMPLE"),
        ("sts ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    ],
    "aws_secret_access_key": [
        ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here", "wJalrXUtnFEMI/K7MDENG"),
        ("aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "je7MtGbClwBF/2Zp9"),
        ('{"SecretAccessKey": "Xk2p9Lq8Wm3Nr7Ts4Vy1Zb6Hd5Jf0Gs3Ae8Cu2Bx"}', "Xk2p9Lq8Wm3Nr7Ts4Vy1"),
    ],
    "jwt": [
        (
            "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
        ),
        ("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.", "eyJzdWIiOiJib2IifQ"),
    ],
    "url_credentials": [
        ("db postgres://admin:hunter2hunter2@db.internal:5432/app", "hunter2hunter2"),
        ("git https://oauth2:glpat-Ab3dEf6hIj@gitlab.example.com/x.git", "glpat-Ab3dEf6hIj"),
    ],
    "authorization_header": [
        ("Authorization: token 0123456789abcdef0123", "0123456789abcdef0123"),
        ("proxy-authorization: Digest username=bob, response=6629fae49393a053", "6629fae49393a05"),
        ("Cookie: session=9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
        ('{"authorization": "Custom q1w2e3r4t5y6"}', "q1w2e3r4t5y6"),
    ],
    "bearer_or_basic_token": [
        ("curl -H 'X: Bearer abc.def-ghi_jkl~mno'", "abc.def-ghi_jkl~mno"),
        ("Basic dXNlcjpwYXNzd29yZA== sent", "dXNlcjpwYXNzd29yZA=="),
    ],
    "secret_env_assignment": [
        ("export NETGPT_SERVE_API_KEY=correct-horse-battery", "correct-horse-battery"),
        ("MY_SERVICE_TOKEN: 'tok_4f3e2d1c0b'", "tok_4f3e2d1c0b"),
        ("DB_PASSWORD=Tr0ub4dor&3", "Tr0ub4dor"),
    ],
    "secret_field": [
        ('{"api_key": "abc123xyz789"}', "abc123xyz789"),
        ("https://api.example.com/v1?access_token=ya29.a0AfH6SMB&x=1", "ya29.a0AfH6SMB"),
        ("client_secret: 8f9e0d1c2b3a", "8f9e0d1c2b3a"),
        ("password=opensesame42", "opensesame42"),
    ],
}

# Text that looks a little like a credential but is not one: it must come back unchanged.
BENIGN = [
    "The basic understanding of bearer bonds is simple.",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",  # a git SHA (lower-case hex)
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "The token budget is 4096 tokens; the password policy needs 12 characters.",
    "Use scikit-learn (sk-learn) or sk_model.",
    "email jane@example.com, call +1 415 555 0100",
    "see https://example.com/docs?page=2",
    "MAX_TOKENS=4096 is a limit, not a secret",
]


def test_every_format_of_the_table_has_an_example() -> None:
    assert set(EXAMPLES) == {row.name for row in CREDENTIAL_FORMATS}


@pytest.mark.parametrize("row", CREDENTIAL_FORMATS, ids=lambda row: row.name)
def test_each_credential_format_is_scrubbed(row: object) -> None:
    name = row.name  # type: ignore[attr-defined]
    for text, secret in EXAMPLES[name]:
        assert secret in text
        clean = SecretScrubber().scrub_text(text)
        assert secret not in clean, (name, text, clean)
        assert REDACTED in clean


@pytest.mark.parametrize("row", CREDENTIAL_FORMATS, ids=lambda row: row.name)
def test_each_format_is_found_by_its_own_row(row: object) -> None:
    name = row.name  # type: ignore[attr-defined]
    for text, _ in EXAMPLES[name]:
        clean = row.redact(text, REDACTED)  # type: ignore[attr-defined]
        assert REDACTED in clean, (name, text)


@pytest.mark.parametrize("text", BENIGN)
def test_text_without_credentials_is_kept(text: str) -> None:
    assert SecretScrubber().scrub_text(text) == text
    assert find_credential(text) is None


def test_a_header_keeps_its_name_and_loses_its_value() -> None:
    assert (
        SecretScrubber().scrub_text("postgres://u:p4ssw0rd@h/db") == f"postgres://{REDACTED}@h/db"
    )
    assert scrub_text("OPENAI_API_KEY=abcdef123456") == f"OPENAI_API_KEY={REDACTED}"


def test_environment_secret_values_are_scrubbed_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERNAL_SERVICE_TOKEN", "plain-words-no-shape")
    assert scrub_text("x plain-words-no-shape y") == f"x {REDACTED} y"
    monkeypatch.delenv("INTERNAL_SERVICE_TOKEN")
    assert scrub_text("x plain-words-no-shape y") == "x plain-words-no-shape y"


def test_scrub_value_returns_a_deep_copy_that_shares_nothing() -> None:
    inner = {"note": "fine", "list": [1, {"deep": "ok"}]}
    original = {"a": inner, "msg": AIMessage("hello", response_metadata={"netgpt": {}})}
    copy = scrub_value(original)
    assert copy == original
    assert copy["a"] is not inner and copy["a"]["list"] is not inner["list"]
    assert copy["msg"] is not original["msg"]
    original["msg"].response_metadata["netgpt"]["fallback_reason"] = "sk-" + "a" * 30
    assert copy["msg"].response_metadata == {"netgpt": {}}


def test_a_message_keeps_its_class_and_loses_its_secrets() -> None:
    message = HumanMessage(
        [{"type": "text", "text": "key AKIAIOSFODNN7EXAMPLE"}],
        name="ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        additional_kwargs={"headers": {"Authorization": "opaque"}},
    )
    clean = scrub_value(message)
    assert type(clean) is HumanMessage
    dumped = clean.model_dump_json()
    assert "AKIAIOSFODNN7EXAMPLE" not in dumped and "ghp_" not in dumped and "opaque" not in dumped


def test_a_scrubbed_logger_scrubs_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = scrubbed_logger("langchain_netgpt.tests.scrub")
    with caplog.at_level(logging.INFO, logger="langchain_netgpt.tests.scrub"):
        logger.info("calling with %s", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t")
        try:
            raise RuntimeError("bad key AKIAIOSFODNN7EXAMPLE")
        except RuntimeError:
            logger.exception("failed")
    assert "sk-proj-Ab3dEf6hIj9k" not in caplog.text and "AKIAIOSFODNN7EXAMPLE" not in caplog.text
    assert REDACTED in caplog.text and "RuntimeError" in caplog.text


@pytest.mark.parametrize("row", CREDENTIAL_FORMATS, ids=lambda row: row.name)
def test_each_pattern_is_linear_on_adversarial_text(row: object) -> None:
    # 100 KB of the characters a pattern repeats, with and without its prefix: a backtracking
    # pattern takes seconds here; a linear one a few milliseconds. Timed generously (shared CI).
    pattern: re.Pattern[str] = row.pattern  # type: ignore[attr-defined]
    for text in (
        "a" * 100_000,
        "A1" * 50_000,
        "sk-" * 33_000,
        "postgres://" + "a:" * 50_000,
        "-----BEGIN RSA PRIVATE KEY-----" * 3000,
        "Authorization: " * 6000,
        "eyJa." * 20_000,
        "A_" * 50_000,
        "x@" * 50_000,
    ):
        start = time.perf_counter()
        pattern.sub("", text)
        assert time.perf_counter() - start < 2.0, (row.name, text[:20])  # type: ignore[attr-defined]


def test_docs_list_every_credential_format() -> None:
    doc = Path(__file__).parents[2] / "docs" / "howto" / "failures-and-privacy.md"
    text = doc.read_text(encoding="utf-8")
    missing = [row.name for row in CREDENTIAL_FORMATS if f"`{row.name}`" not in text]
    assert not missing, f"docs/howto/failures-and-privacy.md lacks formats {missing}"
