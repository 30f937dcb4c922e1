"""A planted API key (message, tool argument, tool description, session id) never leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_netgpt import RouteTrace
from langchain_netgpt.export import SecretScrubber
from langchain_netgpt.export.kinds import DATASET_KINDS, export_dataset

from .conftest import PLANTED_KEY


def _all_bytes(path: Path) -> bytes:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return b"".join(p.read_bytes() for p in files)


@pytest.mark.parametrize("kind", DATASET_KINDS)
@pytest.mark.parametrize("format", ["jsonl", "parquet", "hf"])
def test_a_planted_key_is_in_no_exported_file(
    kind: str, format: str, secret_trace: RouteTrace, tmp_path: Path
) -> None:
    out = tmp_path / f"out.{format}"
    summary = export_dataset(
        kind,  # type: ignore[arg-type]
        [secret_trace],
        out,
        format=format,  # type: ignore[arg-type]
        scrubber=SecretScrubber(),  # no known secrets: the shapes alone must catch it
    )
    data = _all_bytes(out)
    assert summary.rows_written == 1
    assert PLANTED_KEY.encode() not in data and PLANTED_KEY[3:].encode() not in data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: token abcdef123456", "Authorization: [REDACTED]"),
        ("export OPENAI_API_KEY=zzzzzz1234567", "export OPENAI_API_KEY=[REDACTED]"),
        ("MY_SERVICE_TOKEN: abcdef12345", "MY_SERVICE_TOKEN: [REDACTED]"),
        ('{"api_key": "abcd1234efgh"}', '{"api_key": "[REDACTED]"}'),
        ("x-api-key: abcdefgh12345", "x-api-key: [REDACTED]"),
        ("the monkey: bananas123", "the monkey: bananas123"),
        ('{"password": {"type": "string"}}', '{"password": {"type": "string"}}'),
    ],
)
def test_credentials_written_out_in_text_lose_their_value(text: str, expected: str) -> None:
    assert SecretScrubber().scrub_text(text) == expected
