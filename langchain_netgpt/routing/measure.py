"""What a cloud answer tells the network monitor: bytes on the wire and the server's compute time.

The engine feeds every accepted cloud answer to the monitor through :func:`observe_cloud_answer`.
The round trip is what is left of the call's time after the server's compute and the transfers,
so it is only measurable when the server says how long it computed: a whole answer's
``x-netgpt-server-ms`` (``netgpt serve``), ``openai-processing-ms`` (OpenAI), ``x-compute-time``
(Text Generation Inference) or a ``Server-Timing`` header; a stream's
``x-netgpt-server-first-chunk-ms`` against the time to its first chunk. An answer without any is
*not* fed as a round trip (a 15 s generation is not a 15 s network), and the trace says so
(:class:`~langchain_netgpt.routing.network.NetworkSample`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import (
    NetworkEstimator,
    NetworkObservation,
    NetworkSample,
    NetworkSampleClock,
    NetworkSampleSource,
    NetworkState,
    round_trip_s,
)
from langchain_netgpt.tracing.scrub import scrubbed_logger

__all__ = [
    "FIRST_CHUNK_TIME_HEADERS",
    "SERVER_TIME_HEADERS",
    "observe_cloud_answer",
    "reported_server_s",
    "response_bytes",
    "server_timing",
    "with_timing_headers",
    "without_headers",
]

logger = scrubbed_logger(__name__)

SERVER_TIME_HEADERS = ("x-netgpt-server-ms", "openai-processing-ms", "x-compute-time")
"""Response headers that report the server's compute time in milliseconds (``x-compute-time`` is
Text Generation Inference's); ``Server-Timing`` (W3C, ``dur`` in ms) is read after them."""

FIRST_CHUNK_TIME_HEADERS = ("x-netgpt-server-first-chunk-ms",)
"""Stream headers that report the server's time to the first chunk, in milliseconds."""

_SERVER_TIMING = "server-timing"
_DUR = re.compile(r"(?:^|;)\s*dur\s*=\s*\"?([0-9.eE+-]+)\"?")


def _ms_to_s(value: object) -> float | None:
    try:
        ms = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return ms / 1000 if math.isfinite(ms) and 0 <= ms < 1e9 else None


def _server_timing_s(value: object) -> float | None:
    """Compute time from a ``Server-Timing`` value: its ``total`` metric, else the longest.

    Metrics may overlap (``db`` inside ``app``), so they are not summed; the longest one is a
    lower bound of the compute time.
    """
    durations: dict[str, float] = {}
    for metric in str(value).split(","):
        name, _, params = metric.strip().partition(";")
        found = _DUR.search(";" + params)
        seconds = _ms_to_s(found.group(1)) if found else None
        if seconds is not None:
            durations[name.strip().lower()] = seconds
    if not durations:
        return None
    return durations.get("total", max(durations.values()))


def server_timing(headers: object, *, streamed: bool) -> tuple[str, float] | None:
    """The server's reported compute time in a reply's headers: ``(header, seconds)`` or ``None``.

    For a stream only timings known when the response started count (they are sent with the
    headers): ``x-netgpt-server-first-chunk-ms`` first, then the others, which a streaming server
    can only have measured up to the start of its response.

    Args:
        headers: ``response_metadata["headers"]`` of the reply (any mapping; names are matched
            without regard to case).
        streamed: Whether the reply was streamed.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.measure import server_timing

            assert server_timing({"openai-processing-ms": "250"}, streamed=False) == (
                "openai-processing-ms",
                0.25,
            )
            assert server_timing({"Server-Timing": "db;dur=5, total;dur=80"}, streamed=False) == (
                "server-timing",
                0.08,
            )
    """
    if not isinstance(headers, Mapping):
        return None
    lower = {str(name).lower(): value for name, value in headers.items()}
    names = (*FIRST_CHUNK_TIME_HEADERS, *SERVER_TIME_HEADERS) if streamed else SERVER_TIME_HEADERS
    for name in names:
        if name in lower and (seconds := _ms_to_s(lower[name])) is not None:
            return name, seconds
    if _SERVER_TIMING in lower and (seconds := _server_timing_s(lower[_SERVER_TIMING])) is not None:
        return _SERVER_TIMING, seconds
    return None


def reported_server_s(message: AIMessage) -> float | None:
    """Server compute time of a whole (not streamed) answer from its headers, in seconds.

    ``None``: no timing header (``ChatOpenAI(include_response_headers=True)`` puts them in
    ``response_metadata["headers"]``; the router turns that on for the clouds it wraps).
    """
    found = server_timing(message.response_metadata.get("headers"), streamed=False)
    return None if found is None else found[1]


def without_headers(message: BaseMessage) -> None:
    """Remove ``response_metadata["headers"]`` from a reply in place (a new dict is set)."""
    metadata = message.response_metadata
    if "headers" in metadata:
        message.response_metadata = {k: v for k, v in metadata.items() if k != "headers"}


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
    message: AIMessage,
    elapsed_s: float,
    ttfb_s: float | None,
    headers: Mapping[str, object] | None = None,
    wire: tuple[float, float] | None = None,
) -> NetworkSample:
    """Feed one accepted cloud answer to the monitor when its network time can be separated.

    A monitor that fails is logged, not fatal (the sample then says it was not fed).

    Args:
        monitor: The network monitor.
        features: The step's features (its payload size).
        network: The network state the decision saw (its bandwidths size the transfers).
        message: The cloud's answer.
        elapsed_s: Wall time of the try that answered.
        ttfb_s: Time to its first streamed chunk, if streamed.
        headers: The reply's response headers, if taken off it already (streams).
        wire: Connection-level times, when the cloud's HTTP client was hooked: seconds from the
            request leaving to the response headers, and to the end of the answer. They replace
            the call's wall time (which holds the client's own work).

    Returns:
        How the sample was obtained and the round trip fed (for the trace).
    """
    streamed = ttfb_s is not None and ttfb_s <= elapsed_s
    raw = headers if headers is not None else message.response_metadata.get("headers")
    found = server_timing(raw, streamed=streamed)
    elapsed_s = max(elapsed_s, 0.0)
    if found is None:
        return NetworkSample(
            source=NetworkSampleSource.UNSEPARATED,
            elapsed_s=elapsed_s,
            ttfb_s=ttfb_s if streamed else None,
        )
    header, server_s = found
    clock = NetworkSampleClock.CALL
    first = ttfb_s if streamed else None
    total_s = elapsed_s
    if wire is not None and 0 <= wire[0] <= wire[1]:
        first, total_s, clock = wire[0], wire[1], NetworkSampleClock.CONNECTION
    limit = first if first is not None else total_s
    observation = NetworkObservation(
        bytes_sent=features.payload_bytes,
        bytes_received=response_bytes(message),
        total_s=total_s,
        ttfb_s=first,
        server_s=min(server_s, limit),
    )
    source = (
        NetworkSampleSource.FIRST_CHUNK_TIMING if streamed else NetworkSampleSource.SERVER_TIMING
    )
    rtt_ms: float | None = round_trip_s(observation, network) * 1000
    try:
        monitor.observe(
            bytes_sent=observation.bytes_sent,
            bytes_received=observation.bytes_received,
            total_s=observation.total_s,
            ttfb_s=observation.ttfb_s,
            server_s=observation.server_s,
        )
    except Exception:  # a broken monitor must not break routing; it is logged, not hidden
        logger.exception("netgpt: the network monitor rejected an observation")
        rtt_ms = None
    return NetworkSample(
        source=source,
        clock=clock,
        header=header,
        elapsed_s=elapsed_s,
        ttfb_s=first,
        server_s=server_s,
        rtt_ms=rtt_ms,
    )


def with_timing_headers(model: BaseChatModel) -> BaseChatModel:
    """``model``, or a copy of it that returns response headers, so server timing can be read.

    A ``ChatOpenAI`` (or any chat model with an ``include_response_headers`` field, such as
    ``AzureChatOpenAI``) built without it gets a copy with it on; the copy shares the original's
    HTTP clients. Other models are returned as they are.

    Example:
        .. code-block:: python

            from langchain_openai import ChatOpenAI
            from langchain_netgpt.routing.measure import with_timing_headers

            plain = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test")
            assert with_timing_headers(plain).include_response_headers
            assert not plain.include_response_headers
    """
    fields = getattr(type(model), "model_fields", {})
    if "include_response_headers" not in fields or getattr(model, "include_response_headers", True):
        return model
    return model.model_copy(update={"include_response_headers": True})
