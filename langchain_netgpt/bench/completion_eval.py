"""Edge prompt completion on a small scripted task set: payload bytes and answer quality.

Each task is a request that leans on local context ("the weather *here*", "my usual party size")
with the context facts its answer needs. Arms, each giving the prompt the cloud would see:

* ``bare``: the request alone (nothing leaves the device, facts are missing);
* ``full_context``: the request plus the whole local context (every fact, and every personal
  field, leaves the device);
* ``template``: :class:`~langchain_netgpt.routing.prompt_completion.EdgePromptCompleter` without a
model; * ``edge``: the same with the edge model rewriting the request (needs a model).

Quality is judged like a rule-based cloud would answer: a task succeeds when every needed fact
is in the prompt and no private field is. Tasks whose needed fact is private (an e-mail address)
succeed when the value is withheld: those steps must be served on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict

from langchain_netgpt.routing.prompt_completion import (
    EdgePromptCompleter,
    LocalContext,
    PromptCompletion,
)

__all__ = [
    "COMPLETION_TASKS",
    "DEMO_CONTEXT",
    "CompletionArmResult",
    "CompletionTask",
    "completion_bench_row",
    "measure_prompt_completion",
]

DEMO_CONTEXT = LocalContext(
    location="Lyon, France",
    profile={
        "name": "Camille Martin",
        "email": "camille.martin@example.com",
        "phone": "+33 6 12 34 56 78",
        "party_size": "4",
        "diet": "vegetarian",
        "home_airport": "LYS",
        "currency": "EUR",
        "language": "French",
        "units": "metric",
        "cuisine": "Thai",
    },
    history=[
        "searched flights LYS to Lisbon",
        "ordered pad thai from Thai Garden",
        "booked a table at Le Bouchon for 4",
    ],
)
"""The scripted user's device context (a made-up person)."""


@dataclass(frozen=True)
class CompletionTask:
    """One scripted request and the context fields its answer needs.

    Attributes:
        request: What the user types.
        needed: Context fields the answer needs (``location``, ``profile.<key>``,
            ``history.<i>``).
        tool: The tool call the cloud should make (for the reader; the check uses ``needed``).
    """

    request: str
    needed: tuple[str, ...]
    tool: str


COMPLETION_TASKS: tuple[CompletionTask, ...] = (
    CompletionTask("What's the weather here tomorrow?", ("location",), "get_weather"),
    CompletionTask(
        "Book a table near me for my usual party size tonight",
        ("location", "profile.party_size"),
        "book_table",
    ),
    CompletionTask("Find vegetarian restaurants nearby", ("location",), "search_restaurants"),
    CompletionTask(
        "Find restaurants near me that fit my diet",
        ("location", "profile.diet"),
        "search_restaurants",
    ),
    CompletionTask("Convert 50 dollars to my currency", ("profile.currency",), "convert"),
    CompletionTask(
        "Find flights from my home airport to Rome next Friday",
        ("profile.home_airport",),
        "search_flights",
    ),
    CompletionTask("Translate 'good morning' into my language", ("profile.language",), "translate"),
    CompletionTask(
        "How far is Paris from here, in my units?",
        ("location", "profile.units"),
        "distance",
    ),
    CompletionTask("Show the closest pharmacy", ("location",), "search_places"),
    CompletionTask(
        "Recommend a restaurant with my favourite cuisine nearby",
        ("location", "profile.cuisine"),
        "search_restaurants",
    ),
    CompletionTask("Email me the receipt", ("profile.email",), "send_email"),
    CompletionTask("Text my phone a reminder at 8", ("profile.phone",), "send_sms"),
    CompletionTask("What time is it here?", ("location",), "get_time"),
    CompletionTask(
        "Buy cinema tickets near me for my party size",
        ("location", "profile.party_size"),
        "buy_tickets",
    ),
    CompletionTask("What is 17 times 23?", (), "calculator"),
    CompletionTask("Summarize the fall of the Roman empire", (), "none"),
    CompletionTask("Book the same as last time", ("history.2",), "book_table"),
    CompletionTask("Reorder my last food order", ("history.1",), "order_food"),
    CompletionTask(
        "Set the thermostat to 21 degrees in my units", ("profile.units",), "set_thermostat"
    ),
    CompletionTask(
        "Find a hotel near me for my party size",
        ("location", "profile.party_size"),
        "search_hotels",
    ),
)
"""Twenty scripted requests against :data:`DEMO_CONTEXT`."""


class CompletionArmResult(BaseModel):
    """How one arm did over the task set.

    Attributes:
        arm: ``bare``, ``full_context``, ``template`` or ``edge``.
        tasks: Tasks measured.
        mean_bytes: Mean UTF-8 size of the user message the cloud sees.
        bytes_saved_vs_full: ``1 - mean_bytes / full_context mean_bytes``.
        fact_recall: Share of needed shareable facts present in the prompt.
        private_leaks: Tasks whose prompt holds a private field's value.
        success: Share of tasks a rule-based cloud answers right (facts present, no leak).
        edge_rewrites_kept: ``edge`` arm only: share of tasks with facts to add whose model
            rewrite passed the checks (the rest fell back to the template).
    """

    model_config = ConfigDict(frozen=True)

    arm: str
    tasks: int
    mean_bytes: float
    bytes_saved_vs_full: float
    fact_recall: float
    private_leaks: int
    success: float
    edge_rewrites_kept: float | None = None


def _score(
    arm: str, prompts: Sequence[str], tasks: Sequence[CompletionTask], option: PromptCompletion
) -> tuple[str, float, float, int, float]:
    values = option.context.fields()
    private = [
        v
        for name, v in values.items()
        if name.startswith("profile.") and name.split(".", 1)[1] in option.private_fields
    ]
    needed_total = found = leaks = wins = 0
    for prompt, task in zip(prompts, tasks, strict=True):
        leaked = any(v in prompt for v in private)
        shareable = [
            n
            for n in task.needed
            if not (n.startswith("profile.") and n.split(".", 1)[1] in option.private_fields)
        ]
        present = sum(values[n] in prompt for n in shareable)
        needed_total += len(shareable)
        found += present
        leaks += leaked
        wins += (not leaked) and present == len(shareable)
    mean = sum(len(p.encode("utf-8")) for p in prompts) / len(prompts)
    return arm, mean, found / needed_total if needed_total else 1.0, leaks, wins / len(prompts)


def measure_prompt_completion(
    *,
    model: BaseChatModel | None = None,
    tasks: Sequence[CompletionTask] = COMPLETION_TASKS,
    context: LocalContext = DEMO_CONTEXT,
) -> list[CompletionArmResult]:
    """Run the arms over ``tasks`` and return one result per arm (``edge`` only with a model).

    Raises:
        ValueError: ``tasks`` is empty.
    """
    if not tasks:
        raise ValueError("measure_prompt_completion needs at least one task, got none")
    option = PromptCompletion(context=context)
    requests = [t.request for t in tasks]
    arms: dict[str, list[str]] = {
        "bare": requests,
        "full_context": [f"{r}\n\n{context.render()}" for r in requests],
    }
    template = EdgePromptCompleter(option)
    arms["template"] = [template.complete([HumanMessage(r)]).messages[-1].text for r in requests]
    kept: float | None = None
    if model is not None:
        edge = EdgePromptCompleter(option.model_copy(update={"use_edge_model": True}), model)
        done = [edge.complete([HumanMessage(r)]) for r in requests]
        arms["edge"] = [d.messages[-1].text for d in done]
        tried = [d.record.completer for d in done if d.record.fields_used]
        kept = tried.count("edge") / len(tried) if tried else 0.0
    scored = [_score(arm, prompts, tasks, option) for arm, prompts in arms.items()]
    full = next(s[1] for s in scored if s[0] == "full_context")
    return [
        CompletionArmResult(
            arm=arm,
            tasks=len(tasks),
            mean_bytes=round(mean, 1),
            bytes_saved_vs_full=round(1 - mean / full, 4),
            fact_recall=round(recall, 4),
            private_leaks=leaks,
            success=round(success, 4),
            edge_rewrites_kept=round(kept, 4) if arm == "edge" and kept is not None else None,
        )
        for arm, mean, recall, leaks, success in scored
    ]


def completion_bench_row(model: BaseChatModel | None = None) -> dict[str, str]:
    """The ``netgpt bench`` row of edge prompt completion (the template completer by default)."""
    results = {r.arm: r for r in measure_prompt_completion(model=model)}
    arm = results["edge"] if "edge" in results else results["template"]
    full, bare = results["full_context"], results["bare"]
    return {
        "part": "prompt completion",
        "result": (
            f"{arm.arm} on {arm.tasks} scripted tasks: {arm.mean_bytes:.0f} B/prompt vs "
            f"{full.mean_bytes:.0f} B with the full context ({arm.bytes_saved_vs_full:.0%} "
            f"saved), success {arm.success:.0%} vs {bare.success:.0%} bare / "
            f"{full.success:.0%} full context ({full.private_leaks} private leaks), "
            f"fact recall {arm.fact_recall:.0%}, leaks {arm.private_leaks}"
        ),
        "json": "[" + ",".join(r.model_dump_json() for r in results.values()) + "]",
    }
