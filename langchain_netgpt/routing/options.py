"""``RoutingOptions``: the routing options of a front door, read and set through its config.

A front door (``NetGPTRouter``, the middleware) holds one
:class:`~langchain_netgpt.routing.config.RoutingConfig` as ``config``; this mixin gives it every
option as an attribute (``router.policy``, ``router.policy = ...``), read from and written to that
config, so the engine sees a change at the next step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from langchain_netgpt.routing.budget import CloudBudget
    from langchain_netgpt.routing.capacity import TryCapacity
    from langchain_netgpt.routing.config import RoutingConfig
    from langchain_netgpt.routing.context_window import ContextWindow
    from langchain_netgpt.routing.network import NetworkEstimator
    from langchain_netgpt.routing.policy import RoutePolicy
    from langchain_netgpt.routing.privacy import PrivacyRules
    from langchain_netgpt.routing.prompt_completion import PromptCompletion
    from langchain_netgpt.routing.reliability import CircuitBreakerConfig, RetryPolicy
    from langchain_netgpt.routing.scoring import EdgeScorer
    from langchain_netgpt.routing.targets import TargetSpec
    from langchain_netgpt.tracing import TraceSink, TraceStore

__all__ = ["RoutingOptions"]


class RoutingOptions:
    """Every :class:`~langchain_netgpt.routing.config.RoutingConfig` field as an attribute.

    Example:
        .. code-block:: python

            from langchain_netgpt import AlwaysCloud, NetGPTRouter
            from langchain_netgpt.testing import ScriptedChatModel

            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["e"]), cloud=ScriptedChatModel(responses=["c"])
            )
            router.policy = AlwaysCloud()
            assert router.config.policy is router.policy
    """

    config: RoutingConfig

    @property
    def edge(self) -> BaseChatModel:
        """The edge chat model."""
        return self.config.edge

    @edge.setter
    def edge(self, value: BaseChatModel) -> None:
        self.config.edge = value

    @property
    def cloud(self) -> BaseChatModel:
        """The cloud chat model."""
        return self.config.cloud

    @cloud.setter
    def cloud(self, value: BaseChatModel) -> None:
        self.config.cloud = value

    @property
    def policy(self) -> RoutePolicy:
        """The routing policy."""
        return self.config.policy

    @policy.setter
    def policy(self, value: RoutePolicy) -> None:
        self.config.policy = value

    @property
    def scorer(self) -> EdgeScorer:
        """The edge-success scorer."""
        return self.config.scorer

    @scorer.setter
    def scorer(self, value: EdgeScorer) -> None:
        self.config.scorer = value

    @property
    def monitor(self) -> NetworkEstimator:
        """The network monitor."""
        return self.config.monitor

    @monitor.setter
    def monitor(self, value: NetworkEstimator) -> None:
        self.config.monitor = value

    @property
    def budget(self) -> CloudBudget | None:
        """The cloud budget, if any."""
        return self.config.budget

    @budget.setter
    def budget(self, value: CloudBudget | None) -> None:
        self.config.budget = value

    @property
    def sinks(self) -> list[TraceSink]:
        """Where traces go."""
        return self.config.sinks

    @sinks.setter
    def sinks(self, value: list[TraceSink]) -> None:
        self.config.sinks = value

    @property
    def store(self) -> TraceStore | None:
        """The trace store, if any."""
        return self.config.store

    @store.setter
    def store(self, value: TraceStore | None) -> None:
        self.config.store = value

    @property
    def step_timeout_s(self) -> float | None:
        """Deadline per model try."""
        return self.config.step_timeout_s

    @step_timeout_s.setter
    def step_timeout_s(self, value: float | None) -> None:
        self.config.step_timeout_s = value

    @property
    def fallback(self) -> bool:
        """Whether a failed side falls back to another."""
        return self.config.fallback

    @fallback.setter
    def fallback(self, value: bool) -> None:
        self.config.fallback = value

    @property
    def validate_tool_calls(self) -> bool:
        """Whether tool calls are checked against the bound schemas."""
        return self.config.validate_tool_calls

    @validate_tool_calls.setter
    def validate_tool_calls(self, value: bool) -> None:
        self.config.validate_tool_calls = value

    @property
    def step_deadline_s(self) -> float | None:
        """One deadline for the whole step."""
        return self.config.step_deadline_s

    @step_deadline_s.setter
    def step_deadline_s(self, value: float | None) -> None:
        self.config.step_deadline_s = value

    @property
    def try_capacity(self) -> TryCapacity:
        """Tries of each side at once, and the longest wait for a free slot."""
        return self.config.try_capacity

    @try_capacity.setter
    def try_capacity(self, value: TryCapacity) -> None:
        self.config.try_capacity = value

    @property
    def retry(self) -> RetryPolicy:
        """Retries of the same side."""
        return self.config.retry

    @retry.setter
    def retry(self, value: RetryPolicy) -> None:
        self.config.retry = value

    @property
    def circuit_breaker(self) -> CircuitBreakerConfig | None:
        """The circuit breaker per side, if any."""
        return self.config.circuit_breaker

    @circuit_breaker.setter
    def circuit_breaker(self, value: CircuitBreakerConfig | None) -> None:
        self.config.circuit_breaker = value

    @property
    def privacy(self) -> PrivacyRules | None:
        """Rules that keep a step on the edge, if any."""
        return self.config.privacy

    @privacy.setter
    def privacy(self, value: PrivacyRules | None) -> None:
        self.config.privacy = value

    @property
    def scrub_secrets(self) -> bool:
        """Whether credentials are removed from traces."""
        return self.config.scrub_secrets

    @scrub_secrets.setter
    def scrub_secrets(self, value: bool) -> None:
        self.config.scrub_secrets = value

    @property
    def prompt_completion(self) -> PromptCompletion | None:
        """Edge prompt completion before cloud calls, if any."""
        return self.config.prompt_completion

    @prompt_completion.setter
    def prompt_completion(self, value: PromptCompletion | None) -> None:
        self.config.prompt_completion = value

    @property
    def targets(self) -> dict[str, TargetSpec] | None:
        """Named targets, if any."""
        return self.config.targets

    @targets.setter
    def targets(self, value: dict[str, TargetSpec] | None) -> None:
        self.config.targets = value

    @property
    def tool_choice(self) -> str | bool | dict[str, Any] | None:
        """The tool choice of calls that bind tools without one, if any."""
        return self.config.tool_choice

    @tool_choice.setter
    def tool_choice(self, value: str | bool | dict[str, Any] | None) -> None:
        self.config.tool_choice = value

    @property
    def context_window(self) -> ContextWindow:
        """The sides' context windows checked before a side is chosen or tried."""
        return self.config.context_window

    @context_window.setter
    def context_window(self, value: ContextWindow) -> None:
        self.config.context_window = value
