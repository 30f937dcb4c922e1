"""Reward functions for GRPO on the edge model, in TRL's ``reward_funcs`` shape.

Each function is ``f(prompts, completions, **kwargs) -> list[float]``; TRL passes the dataset's
other columns as keyword lists, one entry per completion. They read:

* ``tools``: the bound tools (OpenAI tool dicts, or that list as a JSON string);
* ``reference_calls``: the cloud's accepted calls as a JSON string ``[{"name", "arguments"}]``
  (``"[]"`` when the cloud answered in text);
* ``edge_failed`` (optional, for :class:`EscalationAwareReward`): whether the edge failed the step.

Completions are strings (standard prompts) or ``[{"role": "assistant", "content": ...}]``
(conversational prompts). All rewards lie in ``[0, 1]`` except the escalation hook, which may
penalise below zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_netgpt.edge.tools import ToolChoice, ToolSpec, build_output_schema
from langchain_netgpt.learn.edge_data import calls_from_reference, tools_from_column
from langchain_netgpt.routing._jsonschema import validate_json_schema

__all__ = [
    "EscalationAwareReward",
    "agreement_reward",
    "combined_reward",
    "schema_validity_reward",
]

_AUTO = ToolChoice("auto")


def _text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        return str(completion[-1].get("content") or "")
    raise TypeError(
        f"a completion must be a string or a list of messages, got {type(completion).__name__}"
    )


def _column(kwargs: Mapping[str, Any], name: str, size: int) -> list[Any]:
    values = kwargs.get(name)
    if values is None:
        raise ValueError(
            f"this reward needs the dataset column {name!r}; columns given: {sorted(kwargs)}"
        )
    values = list(values)
    if len(values) != size:
        raise ValueError(f"column {name!r} has {len(values)} entries for {size} completions")
    return values


def _document(text: str) -> Any:
    try:
        return json.loads(text.strip())
    except json.JSONDecodeError:
        return None


def _call_is_valid(call: Any, specs: Mapping[str, ToolSpec]) -> bool:
    if not isinstance(call, Mapping) or set(call) != {"name", "arguments"}:
        return False
    spec = specs.get(call["name"]) if isinstance(call["name"], str) else None
    arguments = call["arguments"]
    if spec is None or not isinstance(arguments, Mapping):
        return False
    return not validate_json_schema(arguments, spec.parameters)


def _validity(text: str, tools: Any) -> float:
    document = _document(text)
    if not isinstance(document, dict):
        return 0.0
    specs = [ToolSpec.from_any(t) for t in tools_from_column(tools)]
    schema = build_output_schema(specs, _AUTO, allow_escalation=True)
    if schema is not None and not validate_json_schema(document, schema):
        return 1.0
    calls = document.get("tool_calls")
    if set(document) == {"tool_calls"} and isinstance(calls, list) and calls:
        by_name = {s.name: s for s in specs}
        return 0.5 * sum(_call_is_valid(c, by_name) for c in calls) / len(calls)
    return 0.0


def schema_validity_reward(
    prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
) -> list[float]:
    """Reward completions that are one edge-format JSON document valid for the bound tools.

    1.0 when the whole completion is a single JSON document the edge's grammar accepts
    (``{"tool_calls": [...]}`` whose every call names a bound tool with arguments valid under
    its schema, ``{"answer": ...}`` or ``{"escalate": true, "reason": ...}``); for a
    ``tool_calls`` document with some invalid calls, 0.5 x the share of valid calls; else 0.0.

    Args:
        prompts: The prompts (unused; part of TRL's signature).
        completions: The generated completions.
        **kwargs: Dataset columns; needs ``tools``.

    Returns:
        One reward per completion.

    Example:
        >>> tools = [{"type": "function", "function": {"name": "f", "parameters": {
        ...     "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}]
        >>> schema_validity_reward(["p", "p"], ['{"tool_calls": [{"name": "f", '
        ...     '"arguments": {"x": 1}}]}', "sure!"], tools=[tools, tools])
        [1.0, 0.0]
    """
    tools = _column(kwargs, "tools", len(completions))
    return [_validity(_text(c), t) for c, t in zip(completions, tools, strict=True)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _call_agreement(predicted: Mapping[str, Any], reference: Mapping[str, Any]) -> float:
    args = predicted.get("arguments")
    if not isinstance(args, Mapping):
        return 0.5
    expected = reference["arguments"]
    keys = set(args) | set(expected)
    if not keys:
        return 1.0
    matched = sum(1 for k in keys if k in args and k in expected and _same(args[k], expected[k]))
    return 0.5 + 0.5 * matched / len(keys)


def _agreement(text: str, reference: Any) -> float:
    expected = calls_from_reference(reference)
    document = _document(text)
    if not isinstance(document, dict):
        return 0.0
    if not expected:
        return 1.0 if isinstance(document.get("answer"), str) else 0.0
    predicted = document.get("tool_calls")
    if not isinstance(predicted, list):
        return 0.0
    remaining = list(expected)
    total = 0.0
    for call in predicted:
        name = call.get("name") if isinstance(call, Mapping) else None
        match = next((r for r in remaining if r["name"] == name), None)
        if match is not None and isinstance(call, Mapping):
            remaining.remove(match)
            total += _call_agreement(call, match)
    return total / max(len(expected), len(predicted))


def agreement_reward(
    prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
) -> list[float]:
    """Reward agreement with the cloud's reference calls, with partial credit per argument.

    Predicted calls are matched to reference calls by tool name (each used once). A matched
    call scores 0.5 for the name plus 0.5 x the share of argument keys (union of both sides)
    whose values agree (numbers by value, strings ignoring case and surrounding space). The
    sum is divided by the larger of the two call counts, so extra or missing calls cost. When
    the reference is a text answer (``"[]"``), an ``{"answer": ...}`` document scores 1.0 and
    anything else 0.0. Unparseable completions score 0.0.

    Args:
        prompts: The prompts (unused; part of TRL's signature).
        completions: The generated completions.
        **kwargs: Dataset columns; needs ``reference_calls``.

    Returns:
        One reward per completion, in ``[0, 1]``.

    Example:
        >>> ref = '[{"name": "f", "arguments": {"x": 1, "y": "a"}}]'
        >>> agreement_reward(["p"], ['{"tool_calls": [{"name": "f", "arguments": {"x": 1}}]}'],
        ...                  reference_calls=[ref])
        [0.75]
    """
    references = _column(kwargs, "reference_calls", len(completions))
    return [_agreement(_text(c), r) for c, r in zip(completions, references, strict=True)]


def combined_reward(
    prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
) -> list[float]:
    """The default GRPO reward: ``0.3 x schema validity + 0.7 x agreement``, in ``[0, 1]``.

    Validity alone would let the model emit any valid call; agreement alone gives no signal to
    a completion that is valid but wrong. Needs the ``tools`` and ``reference_calls`` columns.
    """
    validity = schema_validity_reward(prompts, completions, **kwargs)
    agreement = agreement_reward(prompts, completions, **kwargs)
    return [0.3 * v + 0.7 * a for v, a in zip(validity, agreement, strict=True)]


combined_reward.__name__ = "combined_reward"


class EscalationAwareReward(BaseModel):
    """Reward ``{"escalate": ...}`` only where the edge would fail; cap how often it escalates.

    A TRL reward function (call it like one). Non-escalating completions get the base reward
    (:func:`combined_reward`). An escalating completion gets ``escalate_reward`` when the edge
    would have failed this prompt, else ``-wrong_escalation_penalty``. "Would have failed" is
    the ``edge_failed`` column when the dataset has one; otherwise it is judged from the GRPO
    group itself: no non-escalating completion of the same prompt reached ``success_threshold``
    on the base reward. When more than ``cloud_share_cap`` of the batch escalates, every
    escalating completion also loses ``over_cap_penalty`` (the budget the router enforces).
    The learned escalation head (self-offload) is trained on this reward.

    Example:
        >>> reward = EscalationAwareReward(cloud_share_cap=0.5)
        >>> esc = '{"escalate": true, "reason": "hard"}'
        >>> reward(["p", "p"], [esc, "no"], tools=["[]", "[]"],
        ...        reference_calls=["[]", "[]"], edge_failed=[True, True])
        [1.0, 0.0]
    """

    model_config = ConfigDict(frozen=True)

    cloud_share_cap: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Largest share of escalations in a batch."
    )
    success_threshold: float = Field(
        default=0.8, gt=0.0, le=1.0, description="Base reward at which the edge counts as right."
    )
    escalate_reward: float = Field(
        default=1.0, ge=0.0, description="Reward of escalating where the edge would fail."
    )
    wrong_escalation_penalty: float = Field(
        default=0.5, ge=0.0, description="Penalty for escalating where the edge would succeed."
    )
    over_cap_penalty: float = Field(
        default=0.5, ge=0.0, description="Extra penalty per escalation while over the cap."
    )

    @model_validator(mode="after")
    def _rewards_are_finite(self) -> EscalationAwareReward:
        for name in ("escalate_reward", "wrong_escalation_penalty", "over_cap_penalty"):
            value = getattr(self, name)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{name}={value!r} must be a finite number")
        return self

    @property
    def __name__(self) -> str:
        """The name TRL logs this reward under."""
        return "escalation_aware_reward"

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float]:
        """Score completions (TRL's reward-function signature)."""
        base = combined_reward(prompts, completions, **kwargs)
        escalates = [_escalates(_text(c)) for c in completions]
        failed = self._edge_failed(prompts, base, escalates, kwargs)
        share = sum(escalates) / len(completions) if completions else 0.0
        over_cap = share > self.cloud_share_cap
        rewards: list[float] = []
        for score, escalated, did_fail in zip(base, escalates, failed, strict=True):
            if not escalated:
                rewards.append(score)
                continue
            value = self.escalate_reward if did_fail else -self.wrong_escalation_penalty
            rewards.append(value - (self.over_cap_penalty if over_cap else 0.0))
        return rewards

    def _edge_failed(
        self,
        prompts: Sequence[Any],
        base: Sequence[float],
        escalates: Sequence[bool],
        kwargs: Mapping[str, Any],
    ) -> list[bool]:
        if kwargs.get("edge_failed") is not None:
            return [bool(v) for v in _column(kwargs, "edge_failed", len(base))]
        best: dict[str, float] = {}
        for prompt, score, escalated in zip(prompts, base, escalates, strict=True):
            key = json.dumps(prompt, sort_keys=True, default=str)
            if not escalated:
                best[key] = max(best.get(key, 0.0), score)
        return [
            best.get(json.dumps(p, sort_keys=True, default=str), 0.0) < self.success_threshold
            for p in prompts
        ]


def _escalates(text: str) -> bool:
    document = _document(text)
    return isinstance(document, dict) and document.get("escalate") is True
