"""Edge prompt completion: enrich a request with local context before the cloud sees it.

A user's request often leans on context only the device holds ("the weather *here*", "a table for
*my usual* party size"). Sending the whole profile to the cloud leaks personal data and costs
bytes; sending the bare request loses the facts the cloud needs. :class:`EdgePromptCompleter`
picks the context facts the request refers to, keeps the fields the privacy rule names on the
device, and rewrites the last user message (with a deterministic template, or with the edge
model itself) before the cloud call. The trace records a hash and the size of the original and
the completed text (:class:`~langchain_netgpt.tracing.PromptCompletionRecord`).

Use it through the router: ``NetGPTRouter(..., prompt_completion=PromptCompletion(...))``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_netgpt.routing.privacy import PrivacyRules
from langchain_netgpt.tracing.trace import PromptCompletionRecord

__all__ = [
    "DEFAULT_PRIVATE_FIELDS",
    "CompletedPrompt",
    "EdgePromptCompleter",
    "LocalContext",
    "PromptCompletion",
]

DEFAULT_PRIVATE_FIELDS = (
    "address",
    "birthday",
    "card",
    "date_of_birth",
    "email",
    "full_name",
    "iban",
    "name",
    "passport",
    "phone",
    "ssn",
)
"""Profile keys that never leave the device, whatever the request says."""

_LOCATION_CUES = (
    "here",
    "near me",
    "nearby",
    "around me",
    "local",
    "my area",
    "my city",
    "where i am",
    "in town",
    "closest",
    "nearest",
)
_HISTORY_CUES = ("again", "last time", "my last", "previous", "same as", "recent", "usual order")
_WORD = re.compile(r"[a-z0-9]+")


class LocalContext(BaseModel):
    """Context that lives on the device: where the user is, who they are, what they did lately.

    Args:
        location: Where the user is (``"Lyon, France"``), or ``None``.
        profile: Profile fields (``{"party_size": "4", "email": "..."}``); keys are
            ``snake_case`` words the request may name ("party size").
        history: Recent activity, newest last.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.prompt_completion import LocalContext

            ctx = LocalContext(location="Lyon, France", profile={"party_size": "4"})
            assert ctx.profile["party_size"] == "4"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    location: str | None = Field(default=None, description="Where the user is.")
    profile: dict[str, str] = Field(default_factory=dict, description="Profile fields.")
    history: list[str] = Field(default_factory=list, description="Recent activity, newest last.")

    @field_validator("profile")
    @classmethod
    def _keys_are_words(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise ValueError(
                    f"profile key {key!r} must be snake_case (lowercase letters, digits, '_')"
                )
        return value

    def fields(self) -> dict[str, str]:
        """Every field as ``{name: value}`` (``location``, ``profile.<key>``, ``history.<i>``)."""
        out: dict[str, str] = {}
        if self.location:
            out["location"] = self.location
        out.update({f"profile.{k}": v for k, v in self.profile.items()})
        out.update({f"history.{i}": v for i, v in enumerate(self.history)})
        return out

    def render(self) -> str:
        """The whole context as one block: what a naive client would send to the cloud."""
        return _render_facts(self.fields())


class PromptCompletion(BaseModel):
    """Router option: complete the request with local context before every cloud call.

    Args:
        context: The device's local context.
        use_edge_model: Rewrite with the router's edge model (``True``) or with the deterministic
            template (``False``, the default). A rewrite that breaks the privacy rule or drops a
            fact is replaced by the template's.
        private_fields: Profile keys that never leave the device.
        privacy: Rules the completed text must pass (the built-in PII detector by default): a
            context value they flag is withheld.
        history_items: How many recent history entries a request that refers back may use.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.prompt_completion import LocalContext, PromptCompletion

            option = PromptCompletion(context=LocalContext(location="Lyon, France"))
            assert not option.use_edge_model
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    context: LocalContext
    use_edge_model: bool = False
    private_fields: tuple[str, ...] = Field(default=DEFAULT_PRIVATE_FIELDS)
    privacy: PrivacyRules = Field(default_factory=PrivacyRules)
    history_items: int = Field(default=1, ge=0, le=20)


@dataclass(frozen=True)
class CompletedPrompt:
    """The messages the cloud gets and the record the trace keeps.

    Attributes:
        messages: The step's messages with the last user message completed.
        record: Hashes, sizes and field names (never the withheld values).
    """

    messages: list[BaseMessage]
    record: PromptCompletionRecord


@dataclass(frozen=True)
class _Plan:
    index: int
    original: str
    facts: dict[str, str]
    withheld: list[str]


def _render_facts(facts: dict[str, str]) -> str:
    if not facts:
        return ""
    parts = [f"{_label(name)}: {value}" for name, value in facts.items()]
    return "(Context from the user's device: " + "; ".join(parts) + ".)"


def _label(name: str) -> str:
    if name.startswith("history."):
        return "recent activity"
    return name.split(".", 1)[-1].replace("_", " ")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


class EdgePromptCompleter:
    """Complete a step's last user message with the local facts it refers to.

    Facts are chosen by cues in the request: a place word ("here", "near me") pulls the
    location, naming a profile key ("party size" for ``party_size``) pulls that field, a
    reference back ("again", "my last") pulls recent history. Fields in ``private_fields`` and
    values the privacy rules flag are never used. With ``model`` set the edge model rewrites the
    request from those facts; otherwise (or when its rewrite leaks a withheld value, fails the
    privacy rules or drops a fact) the template appends them.

    Args:
        option: What to complete with and under which rule.
        model: The edge chat model that rewrites the request, or ``None`` for the template.

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt.routing.prompt_completion import (
                EdgePromptCompleter,
                LocalContext,
                PromptCompletion,
            )

            ctx = LocalContext(
                location="Lyon, France", profile={"party_size": "4", "email": "a@b.example"}
            )
            done = EdgePromptCompleter(PromptCompletion(context=ctx)).complete(
                [HumanMessage("Book a table near me for my usual party size")]
            )
            assert "Lyon" in done.messages[-1].text and "a@b.example" not in done.messages[-1].text
    """

    def __init__(self, option: PromptCompletion, model: BaseChatModel | None = None) -> None:
        if not isinstance(option, PromptCompletion):
            raise TypeError(f"option must be a PromptCompletion, got {type(option).__name__}")
        self.option = option
        self.model = model

    # -- the shared logic ------------------------------------------------------------------------
    def _plan(self, messages: Sequence[BaseMessage]) -> _Plan | None:
        index = next(
            (i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], HumanMessage)),
            None,
        )
        if index is None:
            return None
        original = messages[index].text
        request = original.lower()
        words = set(_WORD.findall(request))
        option = self.option
        wanted: dict[str, str] = {}
        context = option.context
        if context.location and any(_has_cue(request, cue) for cue in _LOCATION_CUES):
            wanted["location"] = context.location
        for key, value in context.profile.items():
            if all(_singular(w) in {_singular(x) for x in words} for w in key.split("_")):
                wanted[f"profile.{key}"] = value
        if option.history_items and any(cue in request for cue in _HISTORY_CUES):
            start = max(0, len(context.history) - option.history_items)
            for i in range(start, len(context.history)):
                wanted[f"history.{i}"] = context.history[i]
        facts: dict[str, str] = {}
        withheld: list[str] = []
        for name, value in wanted.items():
            key = name.split(".", 1)[-1] if name.startswith("profile.") else ""
            private = key in option.private_fields
            if private or option.privacy.check([HumanMessage(value)]) is not None:
                withheld.append(name)
            else:
                facts[name] = value
        return _Plan(index, original, facts, withheld)

    def _template(self, plan: _Plan) -> str:
        block = _render_facts(plan.facts)
        return f"{plan.original}\n\n{block}" if block else plan.original

    def _rewrite_request(self, plan: _Plan) -> list[BaseMessage]:
        facts = "\n".join(f"- {_label(n)}: {v}" for n, v in plan.facts.items())
        return [
            SystemMessage(
                "Rewrite the user's request so that it stands on its own. Put every fact below "
                "into the request, word for word. Reply with the rewritten request only.\n"
                f"Facts:\n{facts}"
            ),
            HumanMessage(plan.original),
        ]

    def _accept_rewrite(self, plan: _Plan, text: str) -> str | None:
        """The model's rewrite, or ``None`` when it breaks the rule or drops a fact."""
        text = text.strip()
        if not text:
            return None
        values = self.option.context.fields()
        if any(values[name] in text for name in plan.withheld):
            return None
        if self.option.privacy.check([HumanMessage(text)]) is not None:
            if self.option.privacy.check([HumanMessage(plan.original)]) is None:
                return None  # the rewrite added personal data the request did not hold
        if any(value not in text for value in plan.facts.values()):
            return None
        return text

    def _finish(
        self, messages: Sequence[BaseMessage], plan: _Plan | None, rewrite: str | None
    ) -> CompletedPrompt:
        context_bytes = _size(self.option.context.render())
        if plan is None:
            return CompletedPrompt(
                list(messages),
                PromptCompletionRecord(
                    completer="none",
                    original_sha256=_sha256(""),
                    original_bytes=0,
                    completed_prompt="",
                    completed_bytes=0,
                    context_bytes=context_bytes,
                ),
            )
        if rewrite is not None:
            completer, text = "edge", rewrite
        else:
            completer = "template" if self.model is None or not plan.facts else "edge_rejected"
            text = self._template(plan)
        completed = list(messages)
        completed[plan.index] = HumanMessage(text)
        record = PromptCompletionRecord(
            completer=completer,
            original_sha256=_sha256(plan.original),
            original_bytes=_size(plan.original),
            completed_prompt=text,
            completed_bytes=_size(text),
            context_bytes=context_bytes,
            fields_used=sorted(plan.facts),
            withheld=sorted(plan.withheld),
        )
        return CompletedPrompt(completed, record)

    # -- sync and async front doors ----------------------------------------------------------------
    def complete(self, messages: Sequence[BaseMessage]) -> CompletedPrompt:
        """Complete the last user message of ``messages`` (a copy; the input is not changed)."""
        plan = self._plan(messages)
        rewrite = None
        if plan is not None and plan.facts and self.model is not None:
            rewrite = self._accept_rewrite(
                plan, _text(self.model.invoke(self._rewrite_request(plan)))
            )
        return self._finish(messages, plan, rewrite)

    async def acomplete(self, messages: Sequence[BaseMessage]) -> CompletedPrompt:
        """Async twin of :meth:`complete` (only the edge model's call is awaited)."""
        plan = self._plan(messages)
        rewrite = None
        if plan is not None and plan.facts and self.model is not None:
            answer = await self.model.ainvoke(self._rewrite_request(plan))
            rewrite = self._accept_rewrite(plan, _text(answer))
        return self._finish(messages, plan, rewrite)


def _text(message: Any) -> str:
    if isinstance(message, AIMessage):
        return str(message.text)
    raise TypeError(f"the edge model returned {type(message).__name__}, not an AIMessage")


def _has_cue(request: str, cue: str) -> bool:
    return re.search(rf"\b{re.escape(cue)}\b", request) is not None


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word
