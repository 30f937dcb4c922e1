"""``RoutingConfig``: every routing option, one object for every front door.

:class:`~langchain_netgpt.NetGPTRouter`, :class:`~langchain_netgpt.NetGPTRoutingMiddleware` and
:func:`~langchain_netgpt.graph.create_netgpt_agent` take a ``config=RoutingConfig(...)`` or the
same options as keywords; a :class:`~langchain_netgpt.routing.engine.RoutingEngine` routes by it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from langchain_netgpt.routing.budget import CloudBudget
from langchain_netgpt.routing.capacity import TryCapacity
from langchain_netgpt.routing.context_window import ContextWindow
from langchain_netgpt.routing.decision import CLOUD, EDGE
from langchain_netgpt.routing.network import NetworkEstimator, NetworkMonitor
from langchain_netgpt.routing.policy import NetGPTPolicy, RoutePolicy
from langchain_netgpt.routing.privacy import PrivacyRules
from langchain_netgpt.routing.prompt_completion import PromptCompletion
from langchain_netgpt.routing.qos import MultiTargetPolicy, QoSPolicy
from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
from langchain_netgpt.routing.scoring import EdgeScorer, HeuristicScorer
from langchain_netgpt.routing.targets import TargetSpec
from langchain_netgpt.tracing import JsonlTraceSink, TraceSink, TraceStore

__all__ = [
    "DEFAULT_STEP_DEADLINE_S",
    "DEFAULT_STEP_TIMEOUT_S",
    "ROUTING_OPTIONS",
    "RoutingConfig",
    "routing_config",
]

DEFAULT_STEP_TIMEOUT_S = 60.0
"""Default deadline of one model try: twice the slowest step we measured on the bundled CPU edge
(about 30 s for a 256-token answer at 10-20 tokens/s), and more than a cloud needs for an agent
step, so a healthy side is never cut off but a hung one is given up within a minute."""

DEFAULT_STEP_DEADLINE_S = 120.0
"""Default deadline of a whole step (tries, retry waits, fallback): one try that ran into its
:data:`DEFAULT_STEP_TIMEOUT_S` plus a full try of the other side."""


class RoutingConfig(BaseModel):
    """How steps are routed: the sides, the decision, its gates, the attempts and the traces.

    Give either ``edge`` and ``cloud`` or ``targets``. Every front door takes this object
    (``config=``) or the same fields as keywords; a misspelled keyword is an error naming the
    valid ones. Options are read at every step, so changing one (``router.policy = ...``)
    takes effect on the next call.

    Args:
        edge: The edge chat model.
        cloud: The cloud chat model.
        policy: The routing policy.
        scorer: The edge-success scorer.
        monitor: The network monitor (live :class:`~langchain_netgpt.NetworkMonitor`, a replayed
            trace, or any :class:`~langchain_netgpt.routing.network.NetworkEstimator`).
        budget: Optional cloud budget honoured whatever the policy says.
        sinks: Where traces go.
        store: A :class:`~langchain_netgpt.tracing.TraceStore` (or the path of its SQLite file)
            that gets every trace too.
        step_timeout_s: Deadline per model try (``invoke``/``ainvoke``) in seconds, ``None``
            for no limit. Default :data:`DEFAULT_STEP_TIMEOUT_S` (60 s: twice the slowest
            bundled-edge step on a CPU). An abandoned edge try is cancelled: an in-process edge
            stops generating at its next token (see :mod:`langchain_netgpt.edge.cancel`).
        fallback: Whether to try the other side when the first fails.
        validate_tool_calls: Whether to check tool calls against the bound schemas.
        step_deadline_s: One deadline for the whole step (tries, retry waits, fallback) in
            seconds, ``None`` for no limit; each try gets ``min(step_timeout_s, time left)``.
            Default :data:`DEFAULT_STEP_DEADLINE_S` (120 s: a timed-out try plus a full
            fallback).
        try_capacity: How many tries of each side run at once and how long a try waits for a
            free slot (:class:`~langchain_netgpt.routing.capacity.TryCapacity`); a stalled
            side cannot starve the other, and waiting for a slot is not part of a try's timeout.
        retry: Retries of the same side (default: none) for 429/5xx/connection failures.
        circuit_breaker: A circuit breaker per side, or ``None``: once open, steps go to the
            other side at once (``fallback_code="circuit_open"``).
        privacy: Rules that keep a step on the edge (``overridden_by="privacy"``); a private
            step does not fall back to the cloud unless the rules allow it.
        scrub_secrets: Remove credentials (API keys, ``Authorization`` values, ``*_KEY`` /
            ``*_TOKEN`` environment values) from traces before the sinks see them.
        prompt_completion: Before a cloud call, complete the last user message with the local
            context it refers to
            (:class:`~langchain_netgpt.routing.prompt_completion.PromptCompletion`); personal fields
            stay on the device and the trace keeps ``prompt_completion``.
        targets: Several named targets instead of ``edge``/``cloud``: any number of edge
            experts and one or more clouds (:class:`~langchain_netgpt.routing.targets.TargetSpec`,
            each with its model, SLO, quality estimate and concurrency). The ``policy`` must rank
            targets (default :class:`~langchain_netgpt.routing.qos.QoSPolicy`); the engine tracks
            every target's load and falls back along the policy's ranking. ``edge``/``cloud`` are
            then the first edge and cloud targets. See ``docs/howto/multi-target.md``.
        tool_choice: The tool choice of calls that bind tools without one (``bind_tools(tools)``,
            a ``create_agent`` agent, :func:`~langchain_netgpt.graph.create_netgpt_agent`):
            ``"auto"``, ``"none"``, ``"any"``/``"required"``, a tool name or an OpenAI
            ``{"type": "function", ...}`` dict; ``None`` leaves each call's own.
        context_window: The sides' context windows: a step whose prompt does not fit the edge
            goes to the cloud (``overridden_by="context_window"``) and is never tried on the
            edge (``fallback_code="context_window"``), and symmetrically for a cloud whose
            window is known. By default the edge's window is read from the model (the bundled
            SmolLM2: 8,192 tokens).

    Raises:
        pydantic.ValidationError: A value is invalid, both or neither of ``targets`` and
            ``edge``/``cloud`` are given, or ``targets`` has no model, no edge or no cloud.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.config import RoutingConfig
            from langchain_netgpt.testing import ScriptedChatModel

            config = RoutingConfig(
                edge=ScriptedChatModel(responses=["edge"]),
                cloud=ScriptedChatModel(responses=["cloud"]),
                step_timeout_s=5,
            )
            assert config.fallback and config.step_timeout_s == 5
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    edge: BaseChatModel
    cloud: BaseChatModel
    policy: RoutePolicy = Field(default_factory=NetGPTPolicy)
    scorer: EdgeScorer = Field(default_factory=HeuristicScorer)
    monitor: NetworkEstimator = Field(default_factory=NetworkMonitor)
    budget: CloudBudget | None = None
    sinks: list[TraceSink] = Field(default_factory=list)
    store: TraceStore | None = None
    step_timeout_s: float | None = Field(
        default=DEFAULT_STEP_TIMEOUT_S,
        gt=0,
        allow_inf_nan=False,
        description="Deadline per model try in seconds (None: no limit).",
    )
    fallback: bool = True
    validate_tool_calls: bool = True
    step_deadline_s: float | None = Field(
        default=DEFAULT_STEP_DEADLINE_S,
        gt=0,
        allow_inf_nan=False,
        description=(
            "One deadline for the whole step in seconds: every try, retry wait and the "
            "fallback (None: no limit)."
        ),
    )
    try_capacity: TryCapacity = Field(
        default_factory=TryCapacity,
        description="Tries of each side at once, and the longest wait for a free slot.",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    circuit_breaker: CircuitBreakerConfig | None = Field(
        default=None, description="Circuit breaker per side (None: none)."
    )
    privacy: PrivacyRules | None = Field(
        default=None, description="Rules that keep a step on the edge whatever the score."
    )
    scrub_secrets: bool = Field(
        default=True, description="Remove credentials from traces before they reach the sinks."
    )
    prompt_completion: PromptCompletion | None = Field(
        default=None,
        description="Complete the request with local context before cloud calls (edge-side).",
    )
    targets: dict[str, TargetSpec] | None = Field(
        default=None, description="Named edge experts and clouds (instead of edge=/cloud=)."
    )
    tool_choice: str | bool | dict[str, Any] | None = Field(
        default=None,
        description=(
            "Tool choice for calls that bind tools without one: 'auto', 'none', 'any' / "
            "'required', a tool name, or {'type': 'function', 'function': {'name': ...}} "
            "(None: each call's own)."
        ),
    )
    context_window: ContextWindow = Field(
        default_factory=ContextWindow,
        description="Context windows checked before a side is chosen or tried.",
    )

    @model_validator(mode="before")
    @classmethod
    def _targets_name_edge_and_cloud(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("targets") is None:
            return data
        if data.get("edge") is not None or data.get("cloud") is not None:
            raise ValueError("give either targets= or edge=/cloud=, not both")
        raw = data["targets"]
        if not isinstance(raw, Mapping) or not raw:
            raise ValueError(
                f"targets must be a non-empty mapping of name -> TargetSpec, got {raw!r}"
            )
        specs = {
            str(name): spec if isinstance(spec, TargetSpec) else TargetSpec.model_validate(spec)
            for name, spec in raw.items()
        }
        for name, spec in specs.items():
            if spec.model is None:
                raise ValueError(f"target {name!r} has no model; a router target needs model=")
        first = {
            kind: next((s.model for s in specs.values() if s.kind == kind), None)
            for kind in (EDGE, CLOUD)
        }
        if first[EDGE] is None or first[CLOUD] is None:
            kinds = {name: spec.kind for name, spec in specs.items()}
            raise ValueError(f"targets need at least one edge and one cloud, got kinds {kinds}")
        policy = data.get("policy") or QoSPolicy()
        if not isinstance(policy, MultiTargetPolicy):
            raise ValueError(
                f"targets= needs a policy that ranks targets (QoSPolicy, LeastLoadedPolicy, "
                f"RoundRobinPolicy, RandomTargetPolicy), got {type(policy).__name__}"
            )
        return {
            **data,
            "targets": specs,
            "edge": first[EDGE],
            "cloud": first[CLOUD],
            "policy": policy,
        }

    @field_validator("store", mode="before")
    @classmethod
    def _open_store(cls, value: Any) -> Any:
        if isinstance(value, str | os.PathLike):
            return TraceStore(value)
        return value

    @field_validator("sinks", mode="before")
    @classmethod
    def _open_sinks(cls, value: Any) -> Any:
        # A path is a JSONL file (what a config file or NETGPT_TRACES names).
        if isinstance(value, list | tuple):
            return [
                JsonlTraceSink(os.fspath(v)) if isinstance(v, str | os.PathLike) else v
                for v in value
            ]
        return value

    @field_validator("tool_choice")
    @classmethod
    def _known_tool_choice(cls, value: Any) -> Any:
        if isinstance(value, dict):
            name = (value.get("function") or {}).get("name") if value.get("type") else None
            if value.get("type") != "function" or not isinstance(name, str):
                raise ValueError(
                    "a tool_choice dict must be {'type': 'function', 'function': {'name': ...}}, "
                    f"got {value!r}"
                )
        elif isinstance(value, str) and not value.strip():
            raise ValueError("tool_choice must be 'auto', 'none', 'any', 'required' or a tool name")
        return value

    def model_for(self, target: str) -> BaseChatModel:
        """The chat model of a target: ``"edge"``, ``"cloud"`` or a name of ``targets``.

        Raises:
            ValueError: ``target`` names no side of this configuration.
        """
        if self.targets is not None and target in self.targets:
            model = self.targets[target].model
            if isinstance(model, BaseChatModel):
                return model
        if target == EDGE:
            return self.edge
        if target == CLOUD:
            return self.cloud
        names = [EDGE, CLOUD, *(self.targets or {})]
        raise ValueError(f"unknown target {target!r}; this configuration has {names}")


ROUTING_OPTIONS: tuple[str, ...] = tuple(RoutingConfig.model_fields)
"""The names of every routing option (the fields of :class:`RoutingConfig`)."""


def check_option_names(names: Mapping[str, Any] | set[str], *, owner: str) -> None:
    """Refuse keywords that are not routing options, naming the valid ones.

    Raises:
        TypeError: A name is not a field of :class:`RoutingConfig`.
    """
    unknown = sorted(name for name in names if name not in RoutingConfig.model_fields)
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, ROUTING_OPTIONS, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    raise TypeError(
        f"{owner} got unknown routing option(s) {', '.join(hints)}; "
        f"valid options: {', '.join(ROUTING_OPTIONS)}"
    )


def routing_config(
    config: RoutingConfig | None, options: Mapping[str, Any], *, owner: str
) -> RoutingConfig:
    """The configuration a front door was given: ``config`` or the options as keywords.

    Every option given counts, ``None`` included (``step_timeout_s=None``: no limit); a front
    door leaves out the options its caller did not give.

    Raises:
        TypeError: An option name is unknown, or both ``config`` and options were given, or
            ``config`` is not a :class:`RoutingConfig`.
        pydantic.ValidationError: An option value is invalid.
    """
    check_option_names(set(options), owner=owner)
    given = dict(options)
    if config is None:
        return RoutingConfig(**given)
    if not isinstance(config, RoutingConfig):
        raise TypeError(f"{owner}: config must be a RoutingConfig, got {type(config).__name__}")
    if given:
        raise TypeError(
            f"{owner}: give config= or routing options as keywords, not both "
            f"(got config= and {sorted(given)})"
        )
    return config
