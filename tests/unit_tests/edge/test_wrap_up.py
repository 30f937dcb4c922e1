from typing import ClassVar

import pytest

from langchain_netgpt.edge.wrap_up import (
    WRAP_UP_BONUS,
    closing_token_ids,
    is_closing_text,
    wrap_up_processor,
)

torch = pytest.importorskip("torch")


class _Vocabulary:
    """A tokenizer stand-in: only ``len`` and ``decode`` are used."""

    pieces: ClassVar[list[str]] = ["{", '"', "}", "]", ' "}', "ab", '"]', "1", " ", '"}]}']

    def __len__(self) -> int:
        return len(self.pieces)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.pieces[i] for i in ids)


def test_closing_tokens_are_those_made_only_of_quotes_braces_and_brackets() -> None:
    assert closing_token_ids(_Vocabulary()) == [1, 2, 3, 4, 6, 9]


def test_closing_tokens_gain_the_bonus_only_once_the_budget_is_spent() -> None:
    processor = wrap_up_processor(prompt_tokens=3, budget=2, closing_ids=[1, 2])
    scores = torch.zeros((1, 4))

    within = processor(torch.zeros((1, 4), dtype=torch.long), scores.clone())
    past = processor(torch.zeros((1, 5), dtype=torch.long), scores.clone())

    assert within.tolist() == [[0.0, 0.0, 0.0, 0.0]]
    assert past.tolist() == [[0.0, WRAP_UP_BONUS, WRAP_UP_BONUS, 0.0]]


@pytest.mark.parametrize(
    ("text", "closing"),
    [
        ('"', True),
        (' "}', True),
        ('"}]}', True),
        ("]", True),
        ("{", False),
        ("ab", False),
        (" ", False),
    ],
)
def test_a_closing_text_is_only_quotes_braces_and_brackets(text: str, closing: bool) -> None:
    assert is_closing_text(text) is closing
