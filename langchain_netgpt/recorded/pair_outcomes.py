"""Pair-outcome files: real per-query outcomes of an edge-class and a cloud model.

One JSON object a line (the format of ``../shared/data/pairs``)::

    {"id": "gsm8k-0", "source": "RouteLLM gsm8k", "category": "gsm8k",
     "messages": [{"role": "user", "content": "..."}], "contaminated": false,
     "edge":  {"model": "...", "correct": true, "response": "..."},
     "cloud": {"model": "...", "score": 7.5}}

Each side carries ``correct`` (bool) or ``score`` (a graded quality from 1 to 10, used as
``quality = score / 10``), and ``response`` where the answer text was recorded. Optional per row:
``later_user_turns`` (the user's further turns of a multi-turn dialogue, answered by the side that
took the first turn) and ``tools`` (OpenAI tool list, for tool-calling steps). Any file in this
format is a valid ``netgpt bench --pairs`` input; a bad line raises
:class:`~langchain_netgpt.errors.BenchmarkDataError` naming the file and the line.

Example:
    .. code-block:: python

        from langchain_netgpt.recorded.pair_outcomes import PairRow

        row = PairRow.model_validate(
            {
                "id": "q1",
                "messages": [{"role": "user", "content": "What is 2 + 2?"}],
                "edge": {"model": "small", "correct": True, "response": "4"},
                "cloud": {"model": "large", "score": 9},
            }
        )
        assert row.edge.quality == 1.0 and row.cloud.quality == 0.9
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.routing.features import RequestFeatures, ToolsSummary

__all__ = [
    "PairMessage",
    "PairRow",
    "PairSide",
    "load_pairs",
    "pair_messages",
    "pair_text",
]


class PairMessage(BaseModel):
    """One chat message of a step's input (OpenAI style)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class PairSide(BaseModel):
    """What one model did on the step: right or wrong (``correct``) or a graded ``score``.

    Args:
        model: The model's name.
        correct: Whether its answer was right (binary outcomes).
        score: A graded quality in ``[1, 10]`` (e.g. an LLM judge's score); ``quality`` is
            ``score / 10``.
        response: The answer text, where it was recorded (its length times the service time).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str = Field(min_length=1)
    correct: bool | None = None
    score: float | None = Field(default=None, ge=1, le=10, allow_inf_nan=False)
    response: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> PairSide:
        if (self.correct is None) == (self.score is None):
            raise ValueError(
                "a side needs exactly one of 'correct' (bool) or 'score' (1-10), got "
                f"correct={self.correct!r}, score={self.score!r}"
            )
        return self

    @property
    def quality(self) -> float:
        """1/0 for a right/wrong answer, ``score / 10`` for a graded one."""
        if self.score is not None:
            return self.score / 10
        return 1.0 if self.correct else 0.0

    @property
    def graded(self) -> bool:
        """Whether the side carries a graded score rather than right/wrong."""
        return self.score is not None


class PairRow(BaseModel):
    """One step (or one multi-turn dialogue) with both sides' recorded outcomes."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    source: str = ""
    category: str = "default"
    messages: list[PairMessage] = Field(min_length=1)
    contaminated: bool = False
    edge: PairSide
    cloud: PairSide
    later_user_turns: list[str] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _ends_with_user(self) -> PairRow:
        if self.messages[-1].role != "user":
            raise ValueError(
                f"messages must end with a user message (the step's question), got a "
                f"{self.messages[-1].role!r} message last"
            )
        return self

    @property
    def turns(self) -> int:
        """User turns the dialogue holds (1 for a single step)."""
        return 1 + len(self.later_user_turns)

    def edge_wins(self) -> bool:
        """The edge's answer is at least as good as the cloud's (a tie counts for the edge)."""
        return self.edge.quality >= self.cloud.quality


def pair_messages(row: PairRow) -> list[BaseMessage]:
    """The step's input as LangChain messages (the first user turn and what precedes it)."""
    out: list[BaseMessage] = []
    for m in row.messages:
        if m.role == "system":
            out.append(SystemMessage(m.content))
        elif m.role == "assistant":
            out.append(AIMessage(m.content))
        else:
            out.append(HumanMessage(m.content))
    return out


def pair_text(row: PairRow) -> str:
    """The text a text-aware scorer reads: the user messages of the step's input."""
    return "\n".join(m.content for m in row.messages if m.role == "user")


def pair_features(row: PairRow) -> RequestFeatures:
    """Request features of the step's input with its tools, as the router computes them."""
    return RequestFeatures.from_messages(pair_messages(row), ToolsSummary.from_tools(row.tools))


def load_pairs(path: str | Path, *, drop_contaminated: bool = False) -> list[PairRow]:
    """Read a pair-outcome file.

    Args:
        path: The JSON Lines file.
        drop_contaminated: Leave out rows marked ``contaminated`` (RouteLLM's decontaminated set).

    Returns:
        The rows, in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        BenchmarkDataError: A line is not JSON or not a valid row, an id repeats, or the file
            holds no row (the message names the file and line).
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"pair-outcome file {str(file)!r} does not exist")
    rows: list[PairRow] = []
    seen: dict[str, int] = {}
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = PairRow.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BenchmarkDataError(
                    f"{file}:{number}: not JSON ({exc.msg})", path=str(file), line=number
                ) from exc
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()
                )
                raise BenchmarkDataError(
                    f"{file}:{number}: not a pair-outcome row ({problems})",
                    path=str(file),
                    line=number,
                ) from exc
            if row.id in seen:
                raise BenchmarkDataError(
                    f"{file}:{number}: id {row.id!r} already on line {seen[row.id]}",
                    path=str(file),
                    line=number,
                )
            seen[row.id] = number
            if not (drop_contaminated and row.contaminated):
                rows.append(row)
    if not seen:
        raise BenchmarkDataError(f"{file}: holds no pair-outcome row", path=str(file))
    return rows


def outcome_summary(rows: Sequence[PairRow]) -> dict[str, Any]:
    """Models, accuracies (mean quality) and who-wins shares of a set of rows."""
    n = len(rows)
    if n == 0:
        return {"rows": 0}
    edge_q = [r.edge.quality for r in rows]
    cloud_q = [r.cloud.quality for r in rows]
    return {
        "rows": n,
        "edge_model": sorted({r.edge.model for r in rows}),
        "cloud_model": sorted({r.cloud.model for r in rows}),
        "edge_quality": sum(edge_q) / n,
        "cloud_quality": sum(cloud_q) / n,
        "edge_only_better": sum(e > c for e, c in zip(edge_q, cloud_q, strict=True)) / n,
        "cloud_only_better": sum(c > e for e, c in zip(edge_q, cloud_q, strict=True)) / n,
        "graded_rows": sum(r.edge.graded or r.cloud.graded for r in rows),
        "multi_turn_rows": sum(r.turns > 1 for r in rows),
        "tool_rows": sum(bool(r.tools) for r in rows),
        "contaminated_rows": sum(r.contaminated for r in rows),
    }
