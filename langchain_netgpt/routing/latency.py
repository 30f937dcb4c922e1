"""Expected latency and price of a step on each side.

``L_edge = overhead + prefill + decode`` on the device; ``L_cloud = RTT + bytes_up/B_up +
bytes_down/B_down + overhead + prefill + decode`` in the data centre. A step whose conversation ran
on the other side last turn pays a re-prefill of the whole context (its KV cache is cold there);
otherwise only the tokens added since the last answer are prefilled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.network import NetworkState

__all__ = [
    "CPU_EDGE",
    "DEFAULT_CLOUD",
    "DEFAULT_EDGE",
    "LatencyEstimate",
    "LatencyModel",
    "ServiceTimeEstimate",
    "SideProfile",
]


class SideProfile(BaseModel):
    """Speed and price of one side (edge or cloud).

    Args:
        overhead_s: Fixed cost per call (scheduling, tokenisation, HTTP handling), seconds.
        prefill_tokens_per_s: Prompt tokens processed per second.
        decode_tokens_per_s: Output tokens generated per second.
        usd_per_1k_input_tokens: Price of 1,000 prompt tokens.
        usd_per_1k_output_tokens: Price of 1,000 output tokens.
        prompt_cache: Whether a conversation that stays on this side reuses its KV cache
            (only the new tokens are prefilled).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.latency import SideProfile

            gpu_edge = SideProfile(
                overhead_s=0.02, prefill_tokens_per_s=8000, decode_tokens_per_s=120
            )
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    overhead_s: float = Field(ge=0, allow_inf_nan=False, description="Fixed cost per call, s.")
    prefill_tokens_per_s: float = Field(gt=0, allow_inf_nan=False, description="Prefill rate.")
    decode_tokens_per_s: float = Field(gt=0, allow_inf_nan=False, description="Decode rate.")
    usd_per_1k_input_tokens: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    usd_per_1k_output_tokens: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    prompt_cache: bool = Field(default=True, description="KV cache reused across turns.")


DEFAULT_EDGE = SideProfile(
    overhead_s=0.03, prefill_tokens_per_s=4000.0, decode_tokens_per_s=80.0, prompt_cache=True
)
"""A 0.1-1.5B model on a small GPU near the user (NetGPT's edge); free to run. For the bundled
135M model on a laptop CPU use :data:`CPU_EDGE`."""

CPU_EDGE = SideProfile(
    overhead_s=0.05, prefill_tokens_per_s=600.0, decode_tokens_per_s=20.0, prompt_cache=False
)
"""The bundled SmolLM2-135M in transformers on two CPU cores (measured: ~20 tokens/s); each call
prefills its whole prompt (the in-process edge keeps no KV cache between calls)."""

DEFAULT_CLOUD = SideProfile(
    overhead_s=0.25,
    prefill_tokens_per_s=20000.0,
    decode_tokens_per_s=90.0,
    usd_per_1k_input_tokens=0.00015,
    usd_per_1k_output_tokens=0.0006,
    prompt_cache=True,
)
"""A hosted frontier-mini model (gpt-4o-mini list prices as of 2025)."""


@runtime_checkable
class ServiceTimeEstimate(Protocol):
    """A side's service time learned from its own calls.

    See :class:`~langchain_netgpt.routing.service_time.ServiceTimeLearner`.
    """

    @property
    def observations(self) -> int:
        """Calls seen so far (0: the estimate is still the prior)."""
        ...

    @property
    def expected_output_tokens(self) -> float:
        """Output tokens an answer of this side is expected to take."""
        ...

    def profile(self) -> SideProfile:
        """The side's profile as learned now."""
        ...


@dataclass(frozen=True, slots=True)
class LatencyEstimate:
    """Expected latency and price of one step on each side.

    Attributes:
        edge_s: Expected edge latency.
        cloud_s: Expected cloud latency, network included (``inf`` when the link is down).
        cloud_network_s: The network part of ``cloud_s`` (RTT and transfers).
        cloud_price_usd: Expected price of the cloud call.
        edge_reprefill_s: Extra prefill the edge pays because the last turn ran elsewhere.
        cloud_reprefill_s: Extra prefill the cloud pays because the last turn ran elsewhere.
    """

    edge_s: float
    cloud_s: float
    cloud_network_s: float
    cloud_price_usd: float
    edge_reprefill_s: float = 0.0
    cloud_reprefill_s: float = 0.0


class LatencyModel(BaseModel):
    """Estimates per-side latency and price from request features and the network state.

    Args:
        edge: Edge speed and price.
        cloud: Cloud speed and price.
        expected_output_tokens: Tokens an answer is expected to take (a tool call or a short reply).
        bytes_per_output_token: Response bytes on the wire per output token (JSON included).
        response_envelope_bytes: Fixed response bytes (ids, usage, finish reason).
        edge_service_time: The edge's service time learned from its own calls; when set, its
            profile and expected output tokens (its prior until it has seen a call) replace
            ``edge`` and ``expected_output_tokens`` for the edge. The routing engine lends its
            policy's latency model a learner that starts from ``edge`` when it is set, else from
            the edge device's profile (see
            :class:`~langchain_netgpt.routing.service_time.EdgeSpeedTracker`).

    Example:
        .. code-block:: python

            from langchain_core.messages import HumanMessage
            from langchain_netgpt import NetworkState
            from langchain_netgpt.routing import LatencyModel, RequestFeatures

            model = LatencyModel()
            features = RequestFeatures.from_messages([HumanMessage("weather in Paris?")])
            slow = NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=400)
            fast = NetworkState(bandwidth_up_mbps=50, bandwidth_down_mbps=200, rtt_ms=10)
            assert model.estimate(features, slow).cloud_s > model.estimate(features, fast).cloud_s
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    edge: SideProfile = Field(default=DEFAULT_EDGE)
    cloud: SideProfile = Field(default=DEFAULT_CLOUD)
    expected_output_tokens: int = Field(default=48, gt=0)
    bytes_per_output_token: float = Field(default=6.0, gt=0, allow_inf_nan=False)
    response_envelope_bytes: int = Field(default=400, ge=0)
    edge_service_time: ServiceTimeEstimate | None = Field(
        default=None,
        exclude=True,
        description="Learned edge service time (replaces `edge` when set).",
    )

    def _edge_side(self) -> tuple[SideProfile, float]:
        learned = self.edge_service_time
        if learned is None:
            return self.edge, float(self.expected_output_tokens)
        return learned.profile(), learned.expected_output_tokens

    def edge_prefill_tokens(self, features: RequestFeatures, *, edge_name: str = "edge") -> int:
        """Prompt tokens the edge prefills for this step (all of them unless its cache is warm)."""
        return self._prefill_tokens(self._edge_side()[0], edge_name, features)

    def _prefill_tokens(self, side: SideProfile, name: str, features: RequestFeatures) -> int:
        warm = side.prompt_cache and features.previous_target == name
        return features.new_tokens if warm else features.prompt_tokens

    def estimate(
        self,
        features: RequestFeatures,
        network: NetworkState,
        *,
        edge_name: str = "edge",
        cloud_name: str = "cloud",
    ) -> LatencyEstimate:
        """Expected latency of the step on the edge and in the cloud.

        Args:
            features: The step.
            network: The link to the cloud now.
            edge_name: Target name of the edge (for the previous-side check).
            cloud_name: Target name of the cloud.

        Returns:
            The estimate.
        """
        out_tokens = self.expected_output_tokens
        edge, edge_out_tokens = self._edge_side()
        cloud = self.cloud
        edge_prefill = self._prefill_tokens(edge, edge_name, features)
        cloud_prefill = self._prefill_tokens(cloud, cloud_name, features)
        edge_s = (
            edge.overhead_s
            + edge_prefill / edge.prefill_tokens_per_s
            + edge_out_tokens / edge.decode_tokens_per_s
        )
        down_bytes = int(self.response_envelope_bytes + out_tokens * self.bytes_per_output_token)
        network_s = network.rtt_ms / 1000 + network.transfer_s(
            up_bytes=features.payload_bytes, down_bytes=down_bytes
        )
        cloud_s = (
            network_s
            + cloud.overhead_s
            + cloud_prefill / cloud.prefill_tokens_per_s
            + out_tokens / cloud.decode_tokens_per_s
        )
        price = (
            features.prompt_tokens * cloud.usd_per_1k_input_tokens
            + out_tokens * cloud.usd_per_1k_output_tokens
        ) / 1000
        cold = features.prompt_tokens - features.new_tokens
        return LatencyEstimate(
            edge_s=edge_s,
            cloud_s=cloud_s,
            cloud_network_s=network_s,
            cloud_price_usd=price,
            edge_reprefill_s=(
                cold / edge.prefill_tokens_per_s if edge_prefill > features.new_tokens else 0.0
            ),
            cloud_reprefill_s=(
                cold / cloud.prefill_tokens_per_s if cloud_prefill > features.new_tokens else 0.0
            ),
        )

    def expected_server_s(self, features: RequestFeatures, *, side: str = "cloud") -> float:
        """Expected compute time on the serving side alone (no network), for RTT estimation."""
        if side == "cloud":
            profile, out_tokens = self.cloud, float(self.expected_output_tokens)
        else:
            profile, out_tokens = self._edge_side()
        return (
            profile.overhead_s
            + features.prompt_tokens / profile.prefill_tokens_per_s
            + out_tokens / profile.decode_tokens_per_s
        )
