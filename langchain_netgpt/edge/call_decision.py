"""Call-or-answer decision for an edge model under ``tool_choice="auto"``.

A 135M model left to choose between ``{"tool_calls": ...}`` and ``{"answer": ...}`` almost always
answers in prose, even when a bound tool fits the request. This module makes that choice explicitly,
before generation, from cheap signals:

* lexical fit between the request and each tool (name, description, parameter names), and
* optionally the model's own preference: the log-probability margin of the grammar's tool-call
  opening over its answer opening, after the rendered tools (one prefill, no decoding).

A logistic model over these features, fitted on a seeded train split of BFCL tasks
(``benchmarks/fit_edge_call_decision.py``; parameters and provenance in
``edge/data/call_decision.json``), gives ``p_call``; the edge calls a tool when ``p_call`` reaches
the threshold (the fitted one unless configured), else answers in text. The interface is
runtime-agnostic: any runtime that can score continuations of a rendered prompt passes a
:data:`ContinuationScorer`; without one, the lexical-only model is used.

Example:
    .. code-block:: python

        from langchain_core.messages import HumanMessage
        from langchain_netgpt.edge.call_decision import CallDecisionConfig, decide_call
        from langchain_netgpt.edge.tools import ToolSpec

        spec = ToolSpec("get_weather", "Get the current weather for a city.", {
            "type": "object", "properties": {"city": {"type": "string"}}})
        verdict = decide_call([HumanMessage("Weather in Lisbon?")], [spec], CallDecisionConfig())
        verdict.call, round(verdict.p_call, 2)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.edge.prompt import message_text
from langchain_netgpt.edge.tools import ToolSpec

__all__ = [
    "ANSWER_OPENING",
    "CALL_OPENING",
    "CallDecisionConfig",
    "CallVerdict",
    "ContinuationScorer",
    "decide_call",
    "decision_features",
    "fitted_probability",
    "load_fitted_parameters",
]

#: Given continuation strings of an already-rendered prompt, their total log-probabilities.
ContinuationScorer = Callable[[Sequence[str]], Sequence[float]]

#: The two openings of the edge's constrained output document (see ``edge/tools.py``).
CALL_OPENING = '{"tool_calls": [{"name": "'
ANSWER_OPENING = '{"answer": "'

_PARAMETERS_FILE = "call_decision.json"
_WORD = re.compile(r"[A-Za-z]+|\d+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_STEM_CHARS = 5
_STOPWORDS = frozenset(
    "the a an of to in on for and or is are be by with as at from that this it its into given "
    "what which who whom how when where why can could would should will shall may might do does "
    "did me my i you your we our us please find get give tell show let using use about than then "
    "there their them they he she his her have has had was were been some any all each per "
    "provide provided specific based certain also if not no yes want need like make".split()
)


class CallDecisionConfig(BaseModel):
    """How the edge decides between calling a tool and answering under ``tool_choice="auto"``.

    Attributes:
        mode: ``"learned"`` (default): the fitted logistic decision picks call or answer before
            generation, and the grammar is then narrowed to that branch. ``"off"``: the model
            chooses freely inside the grammar (a 135M model then almost never calls a tool).
        threshold: Call when ``p_call >= threshold``; ``None`` uses the fitted threshold shipped
            with the parameters. Lower calls more often.
        use_model_score: Add the model's own call-vs-answer log-probability margin (one extra
            prefill) when the runtime can score continuations; otherwise lexical features only.

    Example:
        >>> CallDecisionConfig(threshold=0.3).threshold
        0.3
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["learned", "off"] = Field(
        default="learned", description="'learned' (decide before generating) or 'off'."
    )
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="p_call threshold; None: the fitted one."
    )
    use_model_score: bool = Field(
        default=True, description="Use the model's call/answer log-prob margin when available."
    )


@dataclass(frozen=True)
class CallVerdict:
    """The outcome of :func:`decide_call`.

    Attributes:
        call: Whether the edge should call a tool (else answer in text).
        p_call: The fitted probability that a bound tool fits the request.
        threshold: The threshold ``p_call`` was compared with.
        model: Which fitted model produced it (``"lexical+margin"``, ``"lexical"``) or the rule
            that decided without one (``"no-pending-tool"``).
        features: The feature values, for traces and debugging.
    """

    call: bool
    p_call: float
    threshold: float
    model: str
    features: dict[str, float] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        """A JSON-ready dict for ``response_metadata["netgpt_call_decision"]``."""
        return {
            "call": self.call,
            "p_call": round(self.p_call, 4),
            "threshold": self.threshold,
            "model": self.model,
            "features": {k: round(v, 4) for k, v in self.features.items()},
        }


def _words(text: str) -> list[str]:
    spaced = _CAMEL.sub(" ", text).replace("_", " ").replace(".", " ")
    out: list[str] = []
    for word in _WORD.findall(spaced):
        low = word.lower()
        if low in _STOPWORDS or (len(low) < 3 and not low.isdigit()):
            continue
        out.append(low[:_STEM_CHARS])
    return out


def _tool_texts(tool: ToolSpec) -> tuple[set[str], set[str]]:
    name = set(_words(tool.name))
    body = set(name) | set(_words(tool.description))
    properties = tool.parameters.get("properties")
    if isinstance(properties, dict):
        for key, sub in properties.items():
            body.update(_words(str(key)))
            if isinstance(sub, dict):
                body.update(_words(str(sub.get("description", ""))))
    return name, body


def _request_and_pending(
    messages: Sequence[BaseMessage], tools: Sequence[ToolSpec]
) -> tuple[str, list[ToolSpec]]:
    """The latest user request, and the tools not yet called since it was asked."""
    request = ""
    called: set[str] = set()
    for message in messages:
        if isinstance(message, HumanMessage):
            request = message_text(message)
            called = set()
        elif isinstance(message, AIMessage):
            called.update(c["name"] for c in message.tool_calls)
    if not request and messages:
        request = message_text(messages[-1])
    return request, [t for t in tools if t.name not in called]


def decision_features(
    request: str, tools: Sequence[ToolSpec], margin: float | None = None
) -> dict[str, float]:
    """Cheap features of how well the bound tools fit a request.

    Args:
        request: The user's request text.
        tools: The candidate tools.
        margin: The model's ``log P(call opening) - log P(answer opening)``, when measured.

    Returns:
        ``name_hit`` (best share of a tool's name words found in the request), ``body_hit`` (best
        share of the request's words found in a tool's name/description/parameters),
        ``body_hits`` (that count, log-scaled), ``has_number`` and, with a margin, ``margin``.
        The number of tools is deliberately not a feature: in BFCL it gives the category away
        (irrelevance tasks offer one tool), which would not carry over to users' agents.
    """
    req = set(_words(request))
    name_hit = body_hit = body_hits = 0.0
    for tool in tools:
        name, body = _tool_texts(tool)
        if name:
            name_hit = max(name_hit, len(name & req) / len(name))
        if req:
            hits = len(req & body)
            body_hit = max(body_hit, hits / len(req))
            body_hits = max(body_hits, math.log1p(hits))
    features = {
        "name_hit": name_hit,
        "body_hit": body_hit,
        "body_hits": body_hits,
        "has_number": float(any(ch.isdigit() for ch in request)),
    }
    if margin is not None:
        features["margin"] = margin
    return features


@cache
def load_fitted_parameters() -> dict[str, Any]:
    """The fitted decision models shipped with the package (with their provenance).

    Returns:
        ``{"models": {"lexical+margin": {...}, "lexical": {...}}, "provenance": {...}}``; each
        model holds ``features``, ``mean``, ``scale``, ``weights``, ``bias`` and ``threshold``.
    """
    text = resources.files("langchain_netgpt.edge").joinpath("data", _PARAMETERS_FILE).read_text()
    parameters: dict[str, Any] = json.loads(text)
    return parameters


def fitted_probability(model: dict[str, Any], features: dict[str, float]) -> float:
    """``p_call`` of one fitted model (see :func:`load_fitted_parameters`) for ``features``."""
    z = float(model["bias"])
    for name, mean, scale, weight in zip(
        model["features"], model["mean"], model["scale"], model["weights"], strict=True
    ):
        z += float(weight) * (features[name] - float(mean)) / float(scale)
    z = max(-40.0, min(40.0, z))
    return 1.0 / (1.0 + math.exp(-z))


def decide_call(
    messages: Sequence[BaseMessage],
    tools: Sequence[ToolSpec],
    config: CallDecisionConfig,
    score: ContinuationScorer | None = None,
) -> CallVerdict:
    """Decide whether the edge calls a tool or answers, for ``tool_choice="auto"``.

    Tools already called since the latest user message no longer count as candidates (their
    results are in the conversation), so after the last pending tool has answered the edge
    answers from the results.

    Args:
        messages: The conversation as sent to the edge.
        tools: The bound tools.
        config: The decision settings (``mode`` must not be ``"off"``).
        score: Optional scorer of continuations of the prompt rendered with the tools (offering
            both branches); it adds the model's call/answer margin.

    Returns:
        The verdict.

    Raises:
        ValueError: ``config.mode`` is ``"off"`` (the caller should not ask).
    """
    if config.mode == "off":
        raise ValueError("decide_call needs CallDecisionConfig(mode='learned'), got mode='off'")
    request, pending = _request_and_pending(messages, tools)
    fitted = load_fitted_parameters()["models"]
    if not pending:
        threshold = config.threshold if config.threshold is not None else 0.5
        return CallVerdict(False, 0.0, threshold, "no-pending-tool")
    margin: float | None = None
    # The margin is fitted on first turns; after tool results the lexical model decides alone.
    first_turn = not any(isinstance(m, ToolMessage) for m in messages)
    if score is not None and config.use_model_score and first_turn and "lexical+margin" in fitted:
        call_lp, answer_lp = score([CALL_OPENING, ANSWER_OPENING])
        margin = float(call_lp) - float(answer_lp)
    name = "lexical+margin" if margin is not None else "lexical"
    model = fitted[name]
    features = decision_features(request, pending, margin)
    p_call = fitted_probability(model, features)
    threshold = config.threshold if config.threshold is not None else float(model["threshold"])
    return CallVerdict(p_call >= threshold, p_call, threshold, name, features)
