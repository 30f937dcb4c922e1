from __future__ import annotations

from pathlib import Path

import pytest

from langchain_netgpt.bench.pair_profiles import PAIR_PROFILES, token_counter
from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.pair_outcomes import PairRow, load_pairs, outcome_summary, pair_text

from .pair_fixtures import SHARED_PAIRS, graded_row, write_rows


def test_the_real_gsm8k_pair_file_loads_and_decontamination_drops_twelve_rows() -> None:
    rows = load_pairs(SHARED_PAIRS)
    clean = load_pairs(SHARED_PAIRS, drop_contaminated=True)
    assert len(rows) == 1319 and len(clean) == 1307
    summary = outcome_summary(rows)
    assert (
        round(summary["edge_quality"], 3) == 0.638 and round(summary["cloud_quality"], 3) == 0.857
    )


def test_a_graded_side_has_quality_score_over_ten() -> None:
    row = PairRow.model_validate(graded_row(1, edge=7, cloud=9))
    assert row.edge.quality == pytest.approx(0.7) and row.cloud.graded
    assert not row.edge_wins()


def test_multi_turn_and_tool_rows_are_valid_input(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    rows = [
        graded_row(1, 6, 8, later_user_turns=["Now make it rhyme.", "Shorter please."]),
        graded_row(2, 8, 8, tools=tools),
    ]
    loaded = load_pairs(write_rows(tmp_path / "p.jsonl", rows))
    assert loaded[0].turns == 3 and loaded[1].tools == tools
    assert pair_text(loaded[0]) == "Write a haiku about topic 1."


def test_a_side_with_both_correct_and_score_is_rejected_with_its_line(tmp_path: Path) -> None:
    bad = graded_row(2, 5, 5)
    bad["edge"]["correct"] = True
    path = write_rows(tmp_path / "p.jsonl", [graded_row(1, 5, 6), bad])
    with pytest.raises(BenchmarkDataError, match=r"p.jsonl:2: .*exactly one of") as info:
        load_pairs(path)
    assert info.value.line == 2


def test_a_repeated_id_is_rejected(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "p.jsonl", [graded_row(1, 5, 6), graded_row(1, 5, 6)])
    with pytest.raises(BenchmarkDataError, match="already on line 1"):
        load_pairs(path)


def test_a_step_must_end_with_a_user_message(tmp_path: Path) -> None:
    row = graded_row(1, 5, 6)
    row["messages"].append({"role": "assistant", "content": "ok"})
    with pytest.raises(BenchmarkDataError, match="must end with a user message"):
        load_pairs(write_rows(tmp_path / "p.jsonl", [row]))


def test_a_line_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1\n', encoding="utf-8")
    with pytest.raises(BenchmarkDataError, match=r"p\.jsonl:1: not JSON"):
        load_pairs(path)


def test_each_model_counts_tokens_with_its_own_tokeniser() -> None:
    text = "Janet sells 16 - 3 - 4 = 9 duck eggs a day at $2 each: 9 * 2 = 18."
    mixtral = token_counter("mistral-v1")(text)
    gpt4 = token_counter("cl100k_base")(text)
    # SentencePiece splits every digit; cl100k keeps numbers of up to three digits whole.
    assert mixtral > gpt4 > 0
    assert token_counter("cl100k_base")("hello world") == 2


def test_profiles_state_their_sources_and_the_list_prices() -> None:
    cloud = PAIR_PROFILES["gpt-4-1106-preview"]
    assert cloud.side.usd_per_1k_input_tokens == 0.01
    assert cloud.side.usd_per_1k_output_tokens == 0.03
    statement = PAIR_PROFILES["mixtral-8x7b-a100-int8"].statement()
    assert "baseten.co" in statement and "81 tok/s" in statement
