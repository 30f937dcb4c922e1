"""The record of one routed step: :class:`RouteTrace` (stable, versioned schema)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from langchain_core.messages import AnyMessage
from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.routing.network import NetworkSample, NetworkState

__all__ = ["TRACE_SCHEMA_VERSION", "AttemptRecord", "PromptCompletionRecord", "RouteTrace"]

TRACE_SCHEMA_VERSION = 1
"""Bumped whenever a field of :class:`RouteTrace` changes meaning or is removed."""


class AttemptRecord(BaseModel):
    """One try of one target within a step.

    Attributes:
        target: The target tried.
        ok: Whether it produced an accepted answer.
        latency_s: Wall time of the try.
        error_type: Exception class name when it failed.
        error: Exception message when it failed.
        tool_calls_valid: Whether its tool calls matched the bound schemas (``None``: no tools).
        problems: Validation problems of its tool calls.
        output: The message the try returned, accepted or not (``None`` when it raised);
            kept so both sides of a fallback can become a preference pair.
        queue_s: Time the try waited for a free slot of its side before it started (not part
            of ``latency_s``; ``None``: it did not wait, or the trace predates capacity).
    """

    model_config = ConfigDict(extra="forbid")

    target: str
    ok: bool
    latency_s: float
    error_type: str | None = None
    error: str | None = None
    tool_calls_valid: bool | None = None
    problems: list[str] = Field(default_factory=list)
    output: AnyMessage | None = None
    queue_s: float | None = None


class PromptCompletionRecord(BaseModel):
    """What edge prompt completion did to a step's prompt before the cloud saw it.

    The original prompt is kept only as a hash and a size (it stays on the device); the completed
    prompt passed the privacy rules, so its text is kept.

    Attributes:
        completer: Name of the completer (``template``, ``edge``).
        original_sha256: SHA-256 of the original last user message.
        original_bytes: UTF-8 size of the original last user message.
        completed_prompt: The rewritten last user message the cloud saw.
        completed_bytes: UTF-8 size of ``completed_prompt``.
        context_bytes: Size the local context would have added if sent whole (the baseline).
        fields_used: Names of the context fields the completion drew on (never their values).
        withheld: Names of the context fields the privacy rule kept on the device.
    """

    model_config = ConfigDict(extra="forbid")

    completer: str
    original_sha256: str
    original_bytes: int = Field(ge=0)
    completed_prompt: str
    completed_bytes: int = Field(ge=0)
    context_bytes: int = Field(ge=0)
    fields_used: list[str] = Field(default_factory=list)
    withheld: list[str] = Field(default_factory=list)


class RouteTrace(BaseModel):
    """Everything about one routed model call, for sinks, exports and training.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetGPTRouter
            from langchain_netgpt.testing import ScriptedChatModel
            from langchain_netgpt.tracing import InMemoryTraceSink

            sink = InMemoryTraceSink()
            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["hi from the edge"]),
                cloud=ScriptedChatModel(responses=["hi from the cloud"]),
                sinks=[sink],
            )
            router.invoke("hello")
            trace = sink.traces[0]
            assert trace.final_target in ("edge", "cloud") and trace.schema_version == 1
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = TRACE_SCHEMA_VERSION
    trace_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = Field(
        default_factory=time.time, description="Unix time of the decision (stamped when planned)."
    )
    run_id: str | None = Field(default=None, description="LangChain run id of the router call.")
    session_id: str | None = Field(default=None, description="Conversation / thread id if known.")
    mode: str = Field(description="invoke | ainvoke | stream | astream")
    # The decision.
    decided_target: str
    score: float
    threshold: float
    policy: str
    reason: str
    overridden_by: str | None = None
    propensity: float = Field(
        default=1.0, description="Probability the policy chose decided_target (off-policy data)."
    )
    expected_edge_s: float | None = None
    expected_cloud_s: float | None = None
    expected_cloud_price_usd: float = 0.0
    network: NetworkState
    features: dict[str, Any]
    # What happened.
    attempts: list[AttemptRecord] = Field(default_factory=list)
    final_target: str | None = Field(default=None, description="Target whose answer was returned.")
    fallback: bool = False
    fallback_reason: str | None = Field(
        default=None,
        description="Why the decided side did not answer, as text ('edge failed: ...').",
    )
    fallback_code: str | None = Field(
        default=None,
        description="The same reason as a code: a FallbackReason value ('failed', 'timeout', "
        "'deadline', 'circuit_open', 'invalid_tool_calls', 'edge_escalated', 'budget', "
        "'context_window'); None in "
        "traces written before it existed.",
    )
    latency_s: float = 0.0
    decision_s: float | None = Field(
        default=None,
        ge=0,
        description="Seconds the decision took (features, score, network, policy, budget), "
        "before any model call (None: not measured).",
    )
    cloud_price_usd: float = 0.0
    bytes_sent: int = 0
    bytes_received: int = 0
    usage: dict[str, Any] | None = None
    tool_calls_valid: bool | None = None
    error: str | None = None
    escalated: bool = Field(
        default=False, description="The edge answered with an escalation (self-offload)."
    )
    escalation_reason: str | None = Field(
        default=None, description="The reason the edge gave when it escalated."
    )
    prompt_completion: PromptCompletionRecord | None = Field(
        default=None, description="Edge prompt completion applied before the cloud call."
    )
    network_sample: NetworkSample | None = Field(
        default=None,
        description="What the cloud answer told the network monitor and how it was obtained "
        "(server_timing, first_chunk_timing, or unseparated: not fed as RTT); None when the "
        "answer did not come from a cloud.",
    )
    quality: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="How good the answer was in [0, 1], from feedback or replay ground truth.",
    )
    target_loads: dict[str, dict[str, float | int | None]] | None = Field(
        default=None,
        description="Load of every target at decision time (multi-target routing): in_flight, "
        "queued, service_s, completed, slo_violations.",
    )
    slo_violated: bool | None = Field(
        default=None,
        description="The step took longer than the SLO of the target that answered (None: no SLO).",
    )
    # The data (for distillation and preference exports).
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: Any = None
    messages: list[AnyMessage] = Field(default_factory=list)
    output: AnyMessage | None = None

    def to_json(self) -> str:
        """One line of JSON (no newlines inside)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, line: str | bytes) -> RouteTrace:
        """Parse a line written by :meth:`to_json`.

        Raises:
            pydantic.ValidationError: The line is not a valid trace of this schema version.
        """
        return cls.model_validate_json(line)
