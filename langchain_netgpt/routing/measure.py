"""What a cloud answer tells the network monitor: bytes on the wire and the server's compute time.

The engine feeds every accepted cloud answer to the monitor through :func:`observe_cloud_answer`;
the round trip is what is left of the call's time after the server's compute (reported in response
headers, or the latency model's expectation) and the transfers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from langchain_core.messages import AIMessage

from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkEstimator, NetworkState
from langchain_netgpt.routing.policy import RouteDecision
from langchain_netgpt.tracing.scrub import scrubbed_logger

__all__ = ["SERVER_TIME_HEADERS", "observe_cloud_answer", "reported_server_s", "response_bytes"]

logger = scrubbed_logger(__name__)

SERVER_TIME_HEADERS = ("x-netgpt-server-ms", "openai-processing-ms")
"""Response headers that report the server's compute time in milliseconds."""


def reported_server_s(message: AIMessage) -> float | None:
    """Server compute time from response headers, in seconds (``None``: not reported).

    ``ChatOpenAI(include_response_headers=True)`` puts them in ``response_metadata["headers"]``;
    OpenAI sends ``openai-processing-ms`` and ``netgpt serve`` sends ``x-netgpt-server-ms``.
    """
    headers = message.response_metadata.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for name in SERVER_TIME_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        try:
            ms = float(value)
        except (TypeError, ValueError):
            continue
        if ms >= 0 and ms < 1e9:
            return ms / 1000
    return None


def response_bytes(message: AIMessage) -> int:
    """Estimated size of an answer on the wire (text, tool calls and the envelope)."""
    size = 300 + len(message.text)
    for call in message.tool_calls:
        size += 60 + len(call["name"]) + len(json.dumps(call["args"], default=str))
    return size


def observe_cloud_answer(
    monitor: NetworkEstimator,
    *,
    features: RequestFeatures,
    network: NetworkState,
    decision: RouteDecision,
    message: AIMessage,
    elapsed_s: float,
    ttfb_s: float | None,
) -> None:
    """Feed one accepted cloud answer to the monitor; a monitor that fails is logged, not fatal.

    Args:
        monitor: The network monitor.
        features: The step's features (its payload size).
        network: The network state the decision saw.
        decision: The decision (its expected cloud latency, when no server time is reported).
        message: The cloud's answer.
        elapsed_s: Wall time of the try that answered.
        ttfb_s: Time to its first streamed chunk, if streamed.
    """
    server_s = reported_server_s(message)
    if server_s is None:
        # No server timing reported: assume the latency model's expected compute time.
        expected_network = network.rtt_ms / 1000 + network.transfer_s(
            up_bytes=features.payload_bytes, down_bytes=response_bytes(message)
        )
        server_s = (
            max(0.0, decision.expected_cloud_s - expected_network)
            if expected_network < 1e9
            else 0.0
        )
    try:
        monitor.observe(
            bytes_sent=features.payload_bytes,
            bytes_received=response_bytes(message),
            total_s=elapsed_s,
            ttfb_s=ttfb_s if ttfb_s is not None and ttfb_s <= elapsed_s else None,
            server_s=min(server_s, elapsed_s),
        )
    except Exception:  # a broken monitor must not break routing; it is logged, not hidden
        logger.exception("netgpt: the network monitor rejected an observation")
